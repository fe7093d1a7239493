package io.etcdcrypt.observe;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator-facing HTTP endpoint on {@code --metrics-addr}, shaped like kube-apiserver's: {@code
 * /livez} (the process serves; never fails because etcd or a KMS plugin is down), {@code /readyz}
 * and {@code /healthz} (every registered check passes), each check also at {@code /readyz/<name>},
 * and {@code ?verbose} listing the checks. Further paths (such as {@code /metrics}) are added with
 * {@link #route}.
 *
 * <p>Paths match exactly (the JDK server matches contexts by prefix: {@code /metricsfoo} served
 * metrics) and only GET and HEAD are served. No handler waits on a dependency: readiness checks are
 * expected to read results computed elsewhere ({@link BackgroundChecks}), so two threads suffice.
 *
 * <p>With {@link AdminTls} it serves HTTPS; with a client CA there, the routes and {@code /readyz}
 * need a client certificate signed by it. {@code /livez} and {@code /healthz} stay open for the
 * kubelet's probes, which present none, but answer such requests with the status line alone, never
 * the checks' reasons (they name sockets, members and KMS errors).
 */
public final class AdminServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

  /** Serves one path. */
  @FunctionalInterface
  public interface Route {
    /** Returns {status, content type, body}. */
    Response handle(String query) throws IOException;
  }

  public record Response(int status, String contentType, byte[] body) {
    static Response text(int status, String body) {
      return new Response(
          status, "text/plain; charset=utf-8", body.getBytes(StandardCharsets.UTF_8));
    }
  }

  private final HttpServer server;
  private final AdminTls tls;
  private final List<HealthCheck> readiness = new CopyOnWriteArrayList<>();
  private final List<String> routes = new CopyOnWriteArrayList<>();
  private final List<AutoCloseable> owned = new CopyOnWriteArrayList<>();

  /** Plain HTTP. */
  public AdminServer(InetSocketAddress address) throws IOException {
    this(address, null);
  }

  /** HTTPS with {@code tls}, or plain HTTP when it is null. */
  public AdminServer(InetSocketAddress address, AdminTls tls) throws IOException {
    this.tls = tls;
    if (tls == null) {
      server = HttpServer.create(address, 0);
    } else {
      HttpsServer https = HttpsServer.create(address, 0);
      https.setHttpsConfigurator(tls.configurator());
      server = https;
    }
    server.setExecutor(
        Executors.newFixedThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "admin-http");
              t.setDaemon(true);
              return t;
            }));
    health("livez", List.of(), false);
    health("readyz", readiness, true);
    health("healthz", readiness, false);
  }

  public AdminServer start() {
    server.start();
    InetSocketAddress a = address();
    List<String> guarded = new ArrayList<>(List.of("readyz"));
    guarded.addAll(routes);
    log.info(
        "admin endpoint on {}://{}:{}/ (livez, healthz, {}){}",
        tls == null ? "http" : "https",
        a.getHostString(),
        a.getPort(),
        String.join(", ", guarded),
        tls != null && tls.checksClients()
            ? "; "
                + String.join(", ", guarded)
                + " need a client certificate from --metrics-client-ca-file"
            : "");
    return this;
  }

  public InetSocketAddress address() {
    return server.getAddress();
  }

  /** Adds a check to /readyz and /healthz. */
  public void addReadinessCheck(HealthCheck check) {
    readiness.add(check);
  }

  /** Adds the checks {@code background} runs to /readyz and /healthz, and closes it on close. */
  public void addReadinessChecks(BackgroundChecks background) {
    readiness.addAll(background.checks());
    owned.add(background);
  }

  /**
   * Serves {@code path} (exactly) with {@code route}; with a client CA, only to clients with a
   * certificate it signed.
   */
  public void route(String path, Route route) {
    routes.add(path.startsWith("/") ? path.substring(1) : path);
    server.createContext(
        path,
        ex -> {
          if (!acceptable(ex, path::equals) || refused(ex)) {
            return;
          }
          try {
            respond(ex, route.handle(ex.getRequestURI().getQuery()));
          } catch (IOException | RuntimeException e) {
            log.warn("admin endpoint {} failed", path, e);
            respond(ex, Response.text(500, "internal error: " + e.getMessage() + "\n"));
          }
        });
  }

  /**
   * {@code /<endpoint>} and {@code /<endpoint>/<check>}; a {@code guarded} one only for clients
   * with a certificate, an open one with the checks' reasons only for them.
   */
  private void health(String endpoint, List<HealthCheck> checks, boolean guarded) {
    String path = "/" + endpoint;
    server.createContext(
        path,
        ex -> {
          if (!acceptable(ex, p -> p.equals(path) || isSingleCheck(p, path))
              || (guarded && refused(ex))) {
            return;
          }
          boolean reasons = guarded || tls == null || tls.refusal(ex).isEmpty();
          respond(ex, checks(endpoint, checks, ex, reasons));
        });
  }

  /** Answers 401 or 403 and returns true when a client certificate is needed and missing. */
  private boolean refused(HttpExchange ex) throws IOException {
    Optional<Response> refusal = tls == null ? Optional.empty() : tls.refusal(ex);
    if (refusal.isPresent()) {
      log.debug(
          "admin endpoint refused {} from {}: {}",
          ex.getRequestURI().getPath(),
          ex.getRemoteAddress(),
          new String(refusal.get().body(), StandardCharsets.UTF_8).strip());
      respond(ex, refusal.get());
    }
    return refusal.isPresent();
  }

  private static boolean isSingleCheck(String requested, String endpointPath) {
    return requested.startsWith(endpointPath + "/")
        && requested.indexOf('/', endpointPath.length() + 1) < 0
        && requested.length() > endpointPath.length() + 1;
  }

  /** Answers 404 or 405 and returns false when {@code ex} is not a GET or HEAD of a known path. */
  private static boolean acceptable(HttpExchange ex, java.util.function.Predicate<String> knownPath)
      throws IOException {
    String method = ex.getRequestMethod();
    if (!method.equals("GET") && !method.equals("HEAD")) {
      ex.getResponseHeaders().set("Allow", "GET, HEAD");
      respond(ex, Response.text(405, "method " + method + " not allowed: use GET or HEAD\n"));
      return false;
    }
    if (!knownPath.test(ex.getRequestURI().getPath())) {
      respond(ex, Response.text(404, "not found: " + ex.getRequestURI().getPath() + "\n"));
      return false;
    }
    return true;
  }

  /** The checks' answer; without {@code reasons}, only its status line. */
  private static Response checks(
      String endpoint, List<HealthCheck> checks, HttpExchange ex, boolean reasons) {
    String path = ex.getRequestURI().getPath();
    String query = Optional.ofNullable(ex.getRequestURI().getQuery()).orElse("");
    boolean verbose = query.contains("verbose");
    String single =
        path.length() > endpoint.length() + 2 ? path.substring(endpoint.length() + 2) : null;

    StringBuilder body = new StringBuilder();
    boolean ok = true;
    boolean found = single == null;
    for (HealthCheck c : checks) {
      if (single != null && !single.equals(c.name())) {
        continue;
      }
      found = true;
      Optional<String> failure;
      try {
        failure = c.check();
      } catch (RuntimeException e) {
        failure = Optional.of(e.toString());
      }
      if (failure.isPresent()) {
        ok = false;
        // One line per check: a reason that carries a dump keeps only its first line.
        String reason = failure.get().lines().findFirst().orElse("");
        body.append("[-]").append(c.name()).append(" failed: ").append(reason).append('\n');
      } else {
        body.append("[+]").append(c.name()).append(" ok\n");
      }
    }
    if (!found) {
      return Response.text(404, "no check named " + single + "\n");
    }
    if (ok && (!verbose || !reasons)) {
      return Response.text(200, "ok\n");
    }
    if (!reasons) {
      return Response.text(500, endpoint + " check failed\n");
    }
    body.append(endpoint).append(ok ? " check passed\n" : " check failed\n");
    if (!ok) {
      log.debug("{} failed: {}", endpoint, body);
    }
    return Response.text(ok ? 200 : 500, body.toString());
  }

  private static void respond(HttpExchange ex, Response r) throws IOException {
    ex.getResponseHeaders().set("Content-Type", r.contentType());
    boolean head = ex.getRequestMethod().equals("HEAD");
    // A HEAD answer has the GET's headers and no body (-1: no body follows).
    ex.sendResponseHeaders(r.status(), head ? -1 : r.body().length);
    if (!head) {
      try (OutputStream os = ex.getResponseBody()) {
        os.write(r.body());
      }
    }
    ex.close();
  }

  @Override
  public void close() {
    server.stop(0);
    for (AutoCloseable c : owned) {
      try {
        c.close();
      } catch (Exception e) {
        log.warn("error while closing {}", c, e);
      }
    }
  }
}
