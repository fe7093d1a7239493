package io.etcdcrypt.observe;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
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
    server.createContext("/livez", ex -> respond(ex, checks("livez", List.of(), ex)));
    server.createContext("/readyz", ex -> respond(ex, checks("readyz", readiness, ex)));
    server.createContext("/healthz", ex -> respond(ex, checks("healthz", readiness, ex)));
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

  /** Serves {@code path} with {@code route}. */
  public void route(String path, Route route) {
    routes.add(path.startsWith("/") ? path.substring(1) : path);
    server.createContext(
        path,
        ex -> {
          try {
            respond(ex, route.handle(ex.getRequestURI().getQuery()));
          } catch (IOException | RuntimeException e) {
            log.warn("admin endpoint {} failed", path, e);
            respond(ex, Response.text(500, "internal error: " + e.getMessage() + "\n"));
          }
        });
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
    ex.getResponseHeaders().putAll(Map.of("Content-Type", List.of(r.contentType())));
    ex.sendResponseHeaders(r.status(), r.body().length);
    try (OutputStream os = ex.getResponseBody()) {
      os.write(r.body());
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
