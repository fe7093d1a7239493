package io.etcdcrypt.observe;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
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
  private final List<HealthCheck> readiness = new CopyOnWriteArrayList<>();
  private final List<String> routes = new CopyOnWriteArrayList<>();
  private final List<AutoCloseable> owned = new CopyOnWriteArrayList<>();

  public AdminServer(InetSocketAddress address) throws IOException {
    server = HttpServer.create(address, 0);
    server.setExecutor(
        Executors.newFixedThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "admin-http");
              t.setDaemon(true);
              return t;
            }));
    health("livez", List.of());
    health("readyz", readiness);
    health("healthz", readiness);
  }

  public AdminServer start() {
    server.start();
    InetSocketAddress a = address();
    log.info(
        "admin endpoint on http://{}:{}/ (livez, readyz, healthz{})",
        a.getHostString(),
        a.getPort(),
        routes.isEmpty() ? "" : ", " + String.join(", ", routes));
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

  /** Serves {@code path} (exactly) with {@code route}. */
  public void route(String path, Route route) {
    routes.add(path.startsWith("/") ? path.substring(1) : path);
    server.createContext(
        path,
        ex -> {
          if (!acceptable(ex, path::equals)) {
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

  /** {@code /<endpoint>} and {@code /<endpoint>/<check>}. */
  private void health(String endpoint, List<HealthCheck> checks) {
    String path = "/" + endpoint;
    server.createContext(
        path,
        ex -> {
          if (acceptable(ex, p -> p.equals(path) || isSingleCheck(p, path))) {
            respond(ex, checks(endpoint, checks, ex));
          }
        });
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

  private static Response checks(String endpoint, List<HealthCheck> checks, HttpExchange ex) {
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
    if (ok && !verbose) {
      return Response.text(200, "ok\n");
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
