package io.etcdcrypt.bench;

import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;

/**
 * The benchmark's client of one kube-apiserver: the JDK's HttpClient over HTTP/2 with the admin's
 * client certificate, JSON bodies, and nothing parsed but the first bytes of each answer (its
 * status, the object's {@code resourceVersion}, a list's {@code continue} token). One connection
 * per kube-apiserver, requests multiplexed on it, as client-go does.
 */
final class KubeApi {

  /** How many bytes of an answer are kept: a Secret's metadata, a list's metadata. */
  private static final int HEAD_BYTES = 2048;

  private static final Pattern RESOURCE_VERSION = Pattern.compile("\"resourceVersion\":\"(\\d+)\"");
  private static final Pattern CONTINUE = Pattern.compile("\"continue\":\"([^\"]+)\"");

  /** Status and first bytes of an answer, and how many bytes it had. */
  record Answer(int status, String head, long bytes) {
    String resourceVersion() {
      return find(RESOURCE_VERSION);
    }

    /** The list's continue token, or null on its last page. */
    String continueToken() {
      // The list's metadata comes before its items: only the head is searched.
      int items = head.indexOf("\"items\"");
      return find(CONTINUE, items < 0 ? head.length() : items);
    }

    private String find(Pattern p) {
      return find(p, head.length());
    }

    private String find(Pattern p, int end) {
      Matcher m = p.matcher(head).region(0, end);
      return m.find() ? m.group(1) : null;
    }
  }

  final String name;
  private final URI base;
  private final HttpClient http;

  KubeApi(String name, int port, SSLContext tls) {
    this.name = name;
    this.base = URI.create("https://127.0.0.1:" + port);
    this.http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_2)
            .sslContext(tls)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
  }

  // ---- requests ----

  static String secretJson(String name, String resourceVersion, String base64Value) {
    return "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\""
        + name
        + "\""
        + (resourceVersion == null ? "" : ",\"resourceVersion\":\"" + resourceVersion + "\"")
        + "},\"type\":\"Opaque\",\"data\":{\"v\":\""
        + base64Value
        + "\"}}";
  }

  CompletableFuture<Answer> create(String namespace, String json) {
    return send(
        request("/api/v1/namespaces/" + namespace + "/secrets")
            .POST(HttpRequest.BodyPublishers.ofString(json)));
  }

  CompletableFuture<Answer> update(String namespace, String name, String json) {
    return send(
        request("/api/v1/namespaces/" + namespace + "/secrets/" + name)
            .PUT(HttpRequest.BodyPublishers.ofString(json)));
  }

  CompletableFuture<Answer> get(String namespace, String name) {
    return send(request("/api/v1/namespaces/" + namespace + "/secrets/" + name).GET());
  }

  /** One page of {@code limit} Secrets; {@code continueToken} null for the first page. */
  CompletableFuture<Answer> listPage(String namespace, int limit, String continueToken) {
    String query =
        "?limit="
            + limit
            + (continueToken == null
                ? ""
                : "&continue=" + URLEncoder.encode(continueToken, StandardCharsets.UTF_8));
    return send(request("/api/v1/namespaces/" + namespace + "/secrets" + query).GET());
  }

  /** Blocking GET of {@code path}: its status and body head. */
  Answer raw(String path) throws IOException, InterruptedException {
    return http.send(request(path).GET().build(), Head.HANDLER).body();
  }

  void createNamespace(String namespace) throws Exception {
    Answer a =
        send(request("/api/v1/namespaces")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\""
                            + namespace
                            + "\"}}")))
            .get();
    if (a.status() != 201 && a.status() != 409) {
      throw new IOException(name + ": creating namespace " + namespace + ": " + a);
    }
  }

  /**
   * Creates Secrets {@code prefix}00000... ({@code count} of them) with {@code inFlight} requests
   * at a time; returns their resourceVersions.
   */
  String[] createMany(String namespace, String prefix, int count, String value, int inFlight)
      throws Exception {
    String[] versions = new String[count];
    Semaphore slots = new Semaphore(inFlight);
    AtomicReference<String> failed = new AtomicReference<>();
    for (int i = 0; i < count && failed.get() == null; i++) {
      slots.acquire();
      int index = i;
      create(namespace, secretJson(objectName(prefix, i), null, value))
          .whenComplete(
              (a, err) -> {
                if (err != null || a.status() != 201) {
                  failed.compareAndSet(null, err != null ? err.toString() : a.toString());
                } else {
                  versions[index] = a.resourceVersion();
                }
                slots.release();
              });
    }
    slots.acquire(inFlight);
    if (failed.get() != null) {
      throw new IOException(name + ": creating Secrets in " + namespace + ": " + failed.get());
    }
    return versions;
  }

  static String objectName(String prefix, int i) {
    return prefix + String.format("%05d", i);
  }

  private HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(base.resolve(path))
        .timeout(Duration.ofSeconds(60))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json");
  }

  private CompletableFuture<Answer> send(HttpRequest.Builder b) {
    return http.sendAsync(b.build(), Head.HANDLER).thenApply(HttpResponse::body);
  }

  /** Adapts an answer to {@link ClosedLoop}'s observer: a failed call is an error. */
  static void relay(CompletableFuture<Answer> call, StreamObserver<Answer> observer) {
    call.whenComplete(
        (a, err) -> {
          if (err != null) {
            observer.onError(err);
          } else {
            observer.onNext(a);
            observer.onCompleted();
          }
        });
  }

  /** Keeps the first {@link #HEAD_BYTES} of a body and counts the rest without copying it. */
  private static final class Head implements HttpResponse.BodySubscriber<Answer> {

    static final HttpResponse.BodyHandler<Answer> HANDLER = info -> new Head(info.statusCode());

    private final int status;
    private final ByteBuffer head = ByteBuffer.allocate(HEAD_BYTES);
    private final CompletableFuture<Answer> result = new CompletableFuture<>();
    private long bytes;

    Head(int status) {
      this.status = status;
    }

    @Override
    public CompletionStage<Answer> getBody() {
      return result;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(List<ByteBuffer> buffers) {
      for (ByteBuffer b : buffers) {
        bytes += b.remaining();
        if (head.hasRemaining()) {
          ByteBuffer part = b.duplicate();
          part.limit(part.position() + Math.min(part.remaining(), head.remaining()));
          head.put(part);
        }
      }
    }

    @Override
    public void onError(Throwable t) {
      result.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
      result.complete(
          new Answer(
              status, new String(head.array(), 0, head.position(), StandardCharsets.UTF_8), bytes));
    }
  }
}
