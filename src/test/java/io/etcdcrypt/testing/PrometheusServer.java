package io.etcdcrypt.testing;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A real Prometheus (Debian's {@code prometheus} package) on a free loopback port, with its data in
 * a temp dir, queried through its HTTP API. {@link #binary} also finds {@code promtool}.
 */
public final class PrometheusServer implements AutoCloseable {

  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private final Process process;
  private final Path log;
  private final String url;

  private PrometheusServer(Process process, Path log, String url) {
    this.process = process;
    this.log = log;
    this.url = url;
  }

  /**
   * {@code name} ({@code prometheus}, {@code promtool}) from the PATH; fails saying how to install
   * it.
   */
  public static String binary(String name) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
      Path candidate = Path.of(dir, name);
      if (Files.isExecutable(candidate)) {
        return candidate.toString();
      }
    }
    throw new AssertionError(
        name + " is not installed: scripts/test.sh installs Debian's prometheus package");
  }

  /**
   * Starts Prometheus in {@code dir} with {@code config} (prometheus.yml's text; relative rule file
   * paths are relative to {@code dir}) and waits until it is ready.
   */
  public static PrometheusServer start(Path dir, String config) throws IOException {
    RealComponentsGuard.starting("Prometheus");
    Path configFile = Files.writeString(dir.resolve("prometheus.yml"), config);
    Path log = dir.resolve("prometheus.log");
    String address = "127.0.0.1:" + FreePorts.next();
    Process p =
        new ProcessBuilder(
                binary("prometheus"),
                "--config.file=" + configFile,
                "--storage.tsdb.path=" + dir.resolve("data"),
                "--web.listen-address=" + address,
                "--web.console.templates=" + dir.resolve("consoles"),
                "--web.console.libraries=" + dir.resolve("console_libraries"))
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    PrometheusServer server = new PrometheusServer(p, log, "http://" + address);
    try {
      Await.until(
          "Prometheus to be ready",
          Duration.ofSeconds(60),
          () -> {
            if (!p.isAlive()) {
              throw new AssertionError("prometheus exited:\n" + server.log());
            }
            return server.status("/-/ready") == 200;
          });
    } catch (RuntimeException | Error e) {
      server.close();
      throw e;
    }
    return server;
  }

  /**
   * The result of an instant query ({@code data.result}); fails when Prometheus reports an error.
   */
  public JsonArray query(String promql) {
    return api("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8))
        .getAsJsonArray("result");
  }

  /** Every alert of the loaded rules that is pending or firing ({@code data.alerts}). */
  public JsonArray alerts() {
    return api("/api/v1/alerts").getAsJsonArray("alerts");
  }

  /** The scrape targets' state ({@code data.activeTargets}). */
  public JsonArray activeTargets() {
    return api("/api/v1/targets").getAsJsonArray("activeTargets");
  }

  public String log() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  private JsonObject api(String pathAndQuery) {
    HttpResponse<String> r = get(pathAndQuery);
    JsonObject body = JsonParser.parseString(r.body()).getAsJsonObject();
    if (r.statusCode() != 200 || !"success".equals(body.get("status").getAsString())) {
      throw new AssertionError(pathAndQuery + " failed (" + r.statusCode() + "): " + r.body());
    }
    return body.getAsJsonObject("data");
  }

  private int status(String path) {
    try {
      return get(path).statusCode();
    } catch (AssertionError e) {
      return -1;
    }
  }

  private HttpResponse<String> get(String pathAndQuery) {
    try {
      return HTTP.send(
          HttpRequest.newBuilder(URI.create(url + pathAndQuery))
              .timeout(Duration.ofSeconds(20))
              .build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new AssertionError("GET " + url + pathAndQuery + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  @Override
  public void close() {
    Processes.stop(process, Duration.ofSeconds(10));
  }
}
