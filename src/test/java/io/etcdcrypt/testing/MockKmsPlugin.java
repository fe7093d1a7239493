package io.etcdcrypt.testing;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.kms.UnixSocketTransport;
import io.etcdcrypt.kms.proto.v1beta1.VersionRequest;
import io.etcdcrypt.kms.proto.v1beta1.VersionResponse;
import io.etcdcrypt.kms.proto.v2.DecryptRequest;
import io.etcdcrypt.kms.proto.v2.DecryptResponse;
import io.etcdcrypt.kms.proto.v2.EncryptRequest;
import io.etcdcrypt.kms.proto.v2.EncryptResponse;
import io.etcdcrypt.kms.proto.v2.StatusRequest;
import io.etcdcrypt.kms.proto.v2.StatusResponse;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Kubernetes' own mock KMS plugin, rebuilt for tests and served on a real unix socket: "encryption"
 * is base64, Status reports {@code healthz: ok} with key id {@code "1"}, Encrypt adds the
 * annotation {@code local-kek.kms.kubernetes.io: encrypted-local-kek}. Data written through it is
 * what kube-apiserver's integration tests recorded, so reading their vectors through it proves
 * format compatibility. It serves KMS v2 and v1beta1, counts every call, and can be made slow,
 * failing, rotated, stopped and restarted.
 */
public final class MockKmsPlugin implements AutoCloseable {

  public static final String ANNOTATION_KEY = "local-kek.kms.kubernetes.io";
  public static final ByteString ANNOTATION_VALUE = ByteString.copyFromUtf8("encrypted-local-kek");

  private final KmsEndpoint endpoint;
  private volatile Server server;

  public final AtomicInteger statusCalls = new AtomicInteger();
  public final AtomicInteger encryptCalls = new AtomicInteger();
  public final AtomicInteger decryptCalls = new AtomicInteger();
  public final AtomicInteger v1VersionCalls = new AtomicInteger();
  public final AtomicInteger v1EncryptCalls = new AtomicInteger();
  public final AtomicInteger v1DecryptCalls = new AtomicInteger();

  /** The most KMS v1 Decrypt calls the plugin was answering at the same time. */
  public final AtomicInteger v1DecryptsAtOncePeak = new AtomicInteger();

  private final AtomicInteger v1DecryptsNow = new AtomicInteger();

  /** Every {@code :authority} a call arrived with. */
  public final Set<String> authorities = ConcurrentHashMap.newKeySet();

  /** The key id Status and Encrypt report. */
  public volatile String keyId = "1";

  /** When set, Encrypt reports this key id instead (a plugin that disagrees with itself). */
  public volatile String encryptKeyIdOverride;

  /** When set, Encrypt returns these annotations instead of the default one. */
  public volatile Map<String, ByteString> annotationsOverride;

  public volatile String healthz = "ok";
  public volatile String statusVersion = "v2";
  public volatile String v1Version = "v1beta1";

  /** Every call answers FAILED_PRECONDITION, like the upstream mock's failed state. */
  public volatile boolean failing;

  /** Every call waits this long before answering. */
  public volatile Duration delay = Duration.ZERO;

  /** When set, Decrypt calls wait until it is opened. */
  public volatile CountDownLatch decryptGate;

  private MockKmsPlugin(KmsEndpoint endpoint) {
    this.endpoint = endpoint;
  }

  /** Starts the mock on {@code socket} (a file path). */
  public static MockKmsPlugin start(Path socket) throws IOException {
    return startAt(KmsEndpoint.of("unix://" + socket.toAbsolutePath()));
  }

  public static MockKmsPlugin startAt(KmsEndpoint endpoint) throws IOException {
    MockKmsPlugin plugin = new MockKmsPlugin(endpoint);
    plugin.bind();
    return plugin;
  }

  /** Creates a mock for {@code socket} without binding it: {@link #restart()} brings it up. */
  public static MockKmsPlugin notStarted(Path socket) {
    return new MockKmsPlugin(KmsEndpoint.of("unix://" + socket.toAbsolutePath()));
  }

  public KmsEndpoint endpoint() {
    return endpoint;
  }

  /** Stops serving and removes the socket (the plugin "crashes"); counters are kept. */
  public void stop() {
    Server s = server;
    server = null;
    if (s != null) {
      s.shutdownNow();
      try {
        s.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (!endpoint.isAbstract()) {
      Path.of(endpoint.socketPath()).toFile().delete();
    }
  }

  /** Serves again on the same socket (a restarted plugin); counters are kept. */
  public void restart() throws IOException {
    stop();
    bind();
  }

  @Override
  public void close() {
    stop();
  }

  private void bind() throws IOException {
    RealComponentsGuard.starting("a KMS plugin on a unix socket");
    ServerInterceptor recordAuthority =
        new ServerInterceptor() {
          @Override
          public <Q, R> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            String authority = call.getAuthority();
            authorities.add(authority == null ? "<none>" : authority);
            return next.startCall(call, headers);
          }
        };
    server =
        UnixSocketTransport.serverBuilder(endpoint)
            .addService(ServerInterceptors.intercept(new V2(), recordAuthority))
            .addService(ServerInterceptors.intercept(new V1(), recordAuthority))
            .build()
            .start();
  }

  /** Waits {@link #delay}, then answers whether the call must fail. */
  private boolean failNow(StreamObserver<?> out) {
    Duration d = delay;
    if (!d.isZero()) {
      try {
        Thread.sleep(
            d.toMillis()); // a slow plugin on purpose: the delay is the behaviour tests set
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (failing) {
      out.onError(
          Status.FAILED_PRECONDITION
              .withDescription("failed precondition - key disabled")
              .asRuntimeException());
      return true;
    }
    return false;
  }

  private static byte[] base64Decode(ByteString b) {
    return Base64.getDecoder().decode(b.toByteArray());
  }

  private final class V2
      extends io.etcdcrypt.kms.proto.v2.KeyManagementServiceGrpc.KeyManagementServiceImplBase {
    @Override
    public void status(StatusRequest request, StreamObserver<StatusResponse> out) {
      statusCalls.incrementAndGet();
      if (failNow(out)) {
        return;
      }
      out.onNext(
          StatusResponse.newBuilder()
              .setVersion(statusVersion)
              .setHealthz(healthz)
              .setKeyId(keyId)
              .build());
      out.onCompleted();
    }

    @Override
    public void encrypt(EncryptRequest request, StreamObserver<EncryptResponse> out) {
      encryptCalls.incrementAndGet();
      if (failNow(out)) {
        return;
      }
      if (request.getUid().isEmpty()) {
        out.onError(
            Status.INVALID_ARGUMENT.withDescription("uid is required").asRuntimeException());
        return;
      }
      String id = encryptKeyIdOverride != null ? encryptKeyIdOverride : keyId;
      Map<String, ByteString> annotations =
          annotationsOverride != null
              ? annotationsOverride
              : Map.of(ANNOTATION_KEY, ANNOTATION_VALUE);
      out.onNext(
          EncryptResponse.newBuilder()
              .setCiphertext(
                  ByteString.copyFromUtf8(
                      Base64.getEncoder().encodeToString(request.getPlaintext().toByteArray())))
              .setKeyId(id)
              .putAllAnnotations(annotations)
              .build());
      out.onCompleted();
    }

    @Override
    public void decrypt(DecryptRequest request, StreamObserver<DecryptResponse> out) {
      decryptCalls.incrementAndGet();
      CountDownLatch gate = decryptGate;
      if (gate != null) {
        try {
          gate.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      if (failNow(out)) {
        return;
      }
      if (request.getUid().isEmpty() || request.getKeyId().isEmpty()) {
        out.onError(
            Status.INVALID_ARGUMENT
                .withDescription("uid and key_id are required")
                .asRuntimeException());
        return;
      }
      out.onNext(
          DecryptResponse.newBuilder()
              .setPlaintext(ByteString.copyFrom(base64Decode(request.getCiphertext())))
              .build());
      out.onCompleted();
    }
  }

  private final class V1
      extends io.etcdcrypt.kms.proto.v1beta1.KeyManagementServiceGrpc.KeyManagementServiceImplBase {
    @Override
    public void version(VersionRequest request, StreamObserver<VersionResponse> out) {
      v1VersionCalls.incrementAndGet();
      if (failNow(out)) {
        return;
      }
      out.onNext(
          VersionResponse.newBuilder()
              .setVersion(v1Version)
              .setRuntimeName("mock")
              .setRuntimeVersion("0")
              .build());
      out.onCompleted();
    }

    @Override
    public void encrypt(
        io.etcdcrypt.kms.proto.v1beta1.EncryptRequest request,
        StreamObserver<io.etcdcrypt.kms.proto.v1beta1.EncryptResponse> out) {
      v1EncryptCalls.incrementAndGet();
      if (failNow(out)) {
        return;
      }
      out.onNext(
          io.etcdcrypt.kms.proto.v1beta1.EncryptResponse.newBuilder()
              .setCipher(
                  ByteString.copyFromUtf8(
                      Base64.getEncoder().encodeToString(request.getPlain().toByteArray())))
              .build());
      out.onCompleted();
    }

    @Override
    public void decrypt(
        io.etcdcrypt.kms.proto.v1beta1.DecryptRequest request,
        StreamObserver<io.etcdcrypt.kms.proto.v1beta1.DecryptResponse> out) {
      v1DecryptCalls.incrementAndGet();
      v1DecryptsAtOncePeak.accumulateAndGet(v1DecryptsNow.incrementAndGet(), Math::max);
      try {
        if (failNow(out)) {
          return;
        }
        out.onNext(
            io.etcdcrypt.kms.proto.v1beta1.DecryptResponse.newBuilder()
                .setPlain(ByteString.copyFrom(base64Decode(request.getCipher())))
                .build());
        out.onCompleted();
      } finally {
        v1DecryptsNow.decrementAndGet();
      }
    }
  }
}
