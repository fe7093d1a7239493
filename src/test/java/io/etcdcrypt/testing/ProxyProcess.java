package io.etcdcrypt.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code etcd-crypt-proxy serve} in a child JVM, as operators run it, on fixed loopback ports that
 * survive {@link #restart()}: kube-apiserver keeps dialling the same address while the proxy is
 * down. Each start writes its own log ({@code proxy-1.log}, {@code proxy-2.log}, ...).
 */
public final class ProxyProcess implements AutoCloseable {

  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private final Path dir;
  private final int port = FreePorts.next();
  private final int metricsPort = FreePorts.next();
  private final List<String> jvmOptions;
  private final List<String> javaCommand;
  private List<String> args;
  private JavaProcess process;
  private int starts;

  private ProxyProcess(
      Path dir, List<String> jvmOptions, List<String> javaCommand, List<String> args) {
    this.dir = dir;
    this.jvmOptions = List.copyOf(jvmOptions);
    this.javaCommand = javaCommand == null ? null : List.copyOf(javaCommand);
    this.args = args;
  }

  /**
   * Starts {@code serve args...} (everything but {@code --listen-addr} and {@code --metrics-addr},
   * which this class chooses) and waits until {@code /readyz} passes: etcd answers and every KMS
   * plugin is healthy.
   */
  public static ProxyProcess start(Path dir, List<String> args) {
    return start(dir, List.of(), args);
  }

  /** As {@link #start(Path, List)}, in a JVM started with {@code jvmOptions}. */
  public static ProxyProcess start(Path dir, List<String> jvmOptions, List<String> args) {
    ProxyProcess p = new ProxyProcess(dir, jvmOptions, null, args);
    p.launch();
    p.awaitReady();
    return p;
  }

  /**
   * As {@link #start(Path, List)}, started by {@code javaCommand} (a java binary, its options and
   * {@code -jar JAR}) instead of this test's JVM and class path.
   */
  public static ProxyProcess startWithCommand(
      Path dir, List<String> javaCommand, List<String> args) {
    ProxyProcess p = new ProxyProcess(dir, List.of(), javaCommand, args);
    p.launch();
    p.awaitReady();
    return p;
  }

  /**
   * Starts {@code serve args...} as {@link #start} does, and returns once it listens, without
   * waiting for {@code /readyz} (for what needs no etcd: its TLS listener, its log, its metrics).
   */
  public static ProxyProcess startListening(Path dir, List<String> args) {
    ProxyProcess p = new ProxyProcess(dir, List.of(), null, args);
    p.launch();
    Await.until(
        "the proxy listens on " + p.port,
        Duration.ofSeconds(60),
        () -> {
          if (!p.process.isAlive()) {
            throw new IllegalStateException("the proxy exited at start:\n" + p.process.output());
          }
          return p.process.output().contains("etcd-crypt-proxy listening on");
        });
    return p;
  }

  /** The listener's port. */
  public int port() {
    return port;
  }

  /** The admin endpoint's port ({@code --metrics-addr}). */
  public int metricsPort() {
    return metricsPort;
  }

  /**
   * Stops the proxy (SIGTERM: running calls get the shutdown grace) and starts it again with the
   * same flags.
   */
  public void restart() {
    restart(args);
  }

  /**
   * Stops the proxy and starts it with other flags (a new configuration file, say) on the same
   * ports.
   */
  public void restart(List<String> newArgs) {
    long t0 = System.nanoTime();
    stop();
    long t1 = System.nanoTime();
    args = newArgs;
    launch();
    awaitReady();
    System.out.printf(
        "proxy restarted: stop %d ms, start %d ms%n",
        (t1 - t0) / 1_000_000, (System.nanoTime() - t1) / 1_000_000);
  }

  /** Starts the proxy again after {@link #stop()} without waiting for it to be ready. */
  public void launch() {
    List<String> all =
        new ArrayList<>(
            List.of(
                "serve",
                "--listen-addr",
                endpoint(),
                "--metrics-addr",
                "127.0.0.1:" + metricsPort));
    if (!args.contains("--warm-up-seconds")) {
      // Tests look at behaviour, not speed: the warm-up's seconds would add up over the suite.
      all.addAll(List.of("--warm-up-seconds", "0"));
    }
    all.addAll(args);
    try {
      Path log = dir.resolve("proxy-" + (++starts) + ".log");
      process =
          javaCommand == null
              ? JavaProcess.start(log, Map.of(), jvmOptions, all.toArray(String[]::new))
              : JavaProcess.startCommand(log, javaCommand, all);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the proxy", e);
    }
  }

  public void awaitReady() {
    Await.until(
        "the proxy's /readyz on " + metricsPort,
        Duration.ofSeconds(60),
        () -> {
          if (!process.isAlive()) {
            throw new IllegalStateException("the proxy exited at start:\n" + process.output());
          }
          return ready();
        });
  }

  /** Whether {@code /readyz} answers 200. */
  public boolean ready() {
    try {
      return get("/readyz").statusCode() == 200;
    } catch (IOException notYet) {
      return false;
    }
  }

  /** The Prometheus text of {@code /metrics}. */
  public String metrics() {
    try {
      return get("/metrics").body();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot scrape the proxy", e);
    }
  }

  /** GET {@code path} of the admin endpoint ({@code /readyz/warm-up}, say). */
  public HttpResponse<String> get(String path) throws IOException {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + path))
            .timeout(Duration.ofSeconds(5))
            .build();
    try {
      return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  /** {@code 127.0.0.1:port}. */
  public String endpoint() {
    return "127.0.0.1:" + port;
  }

  /**
   * The most memory the running proxy's process has had resident since it started (VmHWM of
   * /proc/pid/status), in bytes.
   */
  public long peakResidentBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", process.pid() + "", "status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the proxy's /proc status", e);
    }
    throw new IllegalStateException("no VmHWM in /proc/" + process.pid() + "/status");
  }

  /** The log of the current (or last) start. */
  public String output() {
    return process == null ? "" : process.output();
  }

  /** Stops the proxy (SIGTERM, then SIGKILL after 10 s). */
  public void stop() {
    if (process != null) {
      long t0 = System.nanoTime();
      process.close();
      process = null;
      System.out.printf("proxy stopped in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
    }
  }

  @Override
  public void close() {
    stop();
  }
}
