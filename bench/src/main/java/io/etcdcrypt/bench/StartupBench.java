package io.etcdcrypt.bench;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.ToDoubleFunction;

/**
 * How fast a freshly started proxy serves: the "warm from the first second". Each trial
 * starts one proxy (a JVM and its options: a variant), waits for {@code /readyz}, then loads it at
 * once with 16 requests in flight (kube-apiserver's shape: a Txn writing a 1 KiB Secret, then a
 * linearizable get of it, per slot) for {@code --seconds}, counting completed requests in 100 ms
 * buckets from the moment the process was started. Warm throughput is the rate of the trial's last
 * 10 s; reported per trial: time to listen and to ready, the first 5 s of load as a fraction of
 * warm, the time until one second of load first reaches 90 % of warm, and the proxy's CPU in its
 * first 5 s of load. Variants are taken round-robin, the order rotated each round; results go to
 * {@code <out>/<name>.{md,json}}.
 *
 * <p>Usage ({@code bench/run.sh --startup ...}): {@code StartupBench [--variants
 * "name=java|jvm-options|serve-options;..."] [--rounds N] [--seconds S] [--in-flight N] [--out DIR]
 * [--name NAME] [--keep]}; {@code java} may be empty (the java on the PATH), {@code @jvm.options}
 * in the options is the repository's file.
 */
public final class StartupBench {

  private static final long BUCKET_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
  private static final int POOL = 64;

  private record Variant(
      String name, String java, List<String> jvmOptions, List<String> serveArgs) {}

  /** One proxy start: what the trial measured. */
  private record Trial(
      String variant,
      int round,
      double listenMillis,
      double readyMillis,
      double warmPerSecond,
      double first5sRatio,
      double to90Millis,
      double to90AfterReadyMillis,
      double first5sCpuMillis,
      long peakRssKiB,
      long errors,
      long[] buckets) {}

  private final Map<String, String> opts;
  private final Path work;
  private final Procs procs;
  private int etcdPort;

  private StartupBench(Map<String, String> opts) throws IOException {
    this.opts = opts;
    this.work = Files.createTempDirectory(Path.of("/dev/shm"), "etcd-crypt-startup-");
    this.procs = new Procs(work.resolve("logs"));
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("unexpected argument " + args[i]);
      }
      String name = args[i].substring(2);
      opts.put(name, name.equals("keep") ? "true" : args[++i]);
    }
    StartupBench b = new StartupBench(opts);
    int code = 0;
    try {
      b.run();
    } catch (Exception e) {
      System.err.println("startup bench failed: " + e + "; logs under " + b.work.resolve("logs"));
      e.printStackTrace();
      code = 1;
    } finally {
      b.procs.close();
      if (code == 0 && !opts.containsKey("keep")) {
        Bench.deleteTree(b.work);
      }
    }
    System.exit(code);
  }

  static List<Variant> variants(String spec) {
    List<Variant> out = new ArrayList<>();
    for (String v : spec.split(";")) {
      String[] kv = v.split("=", 2);
      String[] parts = (kv[1] + "||").split("\\|", -1);
      List<String> jvm = new ArrayList<>();
      for (String o : parts[1].trim().split("\\s+")) {
        if (!o.isEmpty()) {
          jvm.add(o.equals("@jvm.options") ? Bench.DEFAULT_PROXY_JAVA_OPTS : o);
        }
      }
      List<String> serve =
          parts[2].isBlank() ? List.of() : Arrays.asList(parts[2].trim().split("\\s+"));
      out.add(new Variant(kv[0].trim(), parts[0].isBlank() ? "java" : parts[0].trim(), jvm, serve));
    }
    return out;
  }

  private void run() throws Exception {
    List<Variant> variants =
        variants(
            opts.getOrDefault(
                "variants",
                "openjdk17=/usr/lib/jvm/java-17-openjdk-amd64/bin/java|@jvm.options;"
                    + "temurin25=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java|@jvm.options"));
    int rounds = Integer.parseInt(opts.getOrDefault("rounds", "3"));
    int seconds = Integer.parseInt(opts.getOrDefault("seconds", "40"));
    int inFlight = Integer.parseInt(opts.getOrDefault("in-flight", "16"));
    String loadBefore = Machine.loadAverage();
    long started = System.nanoTime();

    etcdPort = Procs.freePort();
    int peer = Procs.freePort();
    List<String> etcdCmd =
        Procs.etcdCommand(
            opts.getOrDefault("etcd", "etcd"),
            work.resolve("etcd"),
            "http://127.0.0.1:" + etcdPort,
            "http://127.0.0.1:" + peer);
    etcdCmd.addAll(List.of("--snapshot-count", "5000"));
    Process etcd = procs.start("etcd", etcdCmd);
    Procs.awaitPort(etcd, "etcd", etcdPort, 30_000);
    Path config = work.resolve("aesgcm.yaml");
    Files.writeString(config, BenchConfigs.encryptionConfig("aesgcm", work.resolve("kms.sock")));

    List<Trial> trials = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      for (int i = 0; i < variants.size(); i++) {
        Variant v = variants.get((i + r) % variants.size());
        System.err.printf(
            "startup bench: round %d of %d, %s (load average %s)%n",
            r + 1, rounds, v.name(), Machine.loadAverage());
        Trial t = trial(v, r, config, seconds, inFlight);
        System.err.printf(
            "  ready %.0f ms, warm %.0f/s, first 5 s %.2f of warm, 90 %% of warm after %.1f s (%.1f s"
                + " after ready)%n",
            t.readyMillis(),
            t.warmPerSecond(),
            t.first5sRatio(),
            t.to90Millis() / 1000,
            t.to90AfterReadyMillis() / 1000);
        trials.add(t);
      }
    }
    Path out = Path.of(opts.getOrDefault("out", "bench/results"));
    String name = opts.getOrDefault("name", "startup");
    Files.createDirectories(out);
    String md =
        report(
            variants,
            trials,
            rounds,
            seconds,
            inFlight,
            loadBefore,
            Machine.loadAverage(),
            Duration.ofNanos(System.nanoTime() - started));
    Files.writeString(out.resolve(name + ".md"), md);
    Files.writeString(out.resolve(name + ".json"), Json.write(json(variants, trials)));
    System.out.println(md);
  }

  private Trial trial(Variant v, int round, Path config, int seconds, int inFlight)
      throws Exception {
    int port = Procs.freePort();
    int admin = Procs.freePort();
    List<String> cmd = new ArrayList<>();
    cmd.add(v.java());
    cmd.addAll(v.jvmOptions());
    cmd.addAll(
        List.of(
            "-jar",
            Path.of(opts.getOrDefault("proxy-jar", "target/etcd-crypt-proxy.jar"))
                .toAbsolutePath()
                .toString(),
            "serve",
            "--listen-addr",
            "127.0.0.1:" + port,
            "--metrics-addr",
            "127.0.0.1:" + admin,
            "--endpoints",
            "127.0.0.1:" + etcdPort,
            "--encryption-provider-config",
            config.toString(),
            "--log-level",
            "warn"));
    cmd.addAll(v.serveArgs());
    long t0 = System.nanoTime();
    Process p = procs.start(v.name() + "-" + round, cmd);
    Procs.awaitPort(p, v.name(), port, 60_000);
    double listenMillis = (System.nanoTime() - t0) / 1e6;
    awaitReady(p, admin);
    long ready = System.nanoTime();
    double readyMillis = (ready - t0) / 1e6;

    // Load from the moment it is ready: buckets count completions since the process started.
    int buckets = (int) ((ready - t0) / BUCKET_NANOS) + seconds * 10 + 10;
    AtomicLongArray done = new AtomicLongArray(buckets);
    long end = ready + TimeUnit.SECONDS.toNanos(seconds);
    long cpuAtReady = Procs.cpuNanos(p.pid());
    long[] cpuAfter5s = {-1};
    Thread cpuProbe =
        new Thread(
            () -> {
              try {
                Thread.sleep(5_000);
                cpuAfter5s[0] = Procs.cpuNanos(p.pid());
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "cpu-after-5s");
    cpuProbe.setDaemon(true);
    cpuProbe.start();
    String prefix = Keys.ROOT + "startup-" + v.name() + "-" + round + "/";
    try (Conn conn = new Conn(port)) {
      Load load = new Load(conn, prefix, t0, end, done, inFlight);
      load.runToEnd(seconds);
      cpuProbe.join();
      long peak = Procs.peakRssKiB(p.pid());
      p.destroy();
      if (!p.waitFor(15, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
      long[] counts = new long[buckets];
      for (int i = 0; i < buckets; i++) {
        counts[i] = done.get(i);
      }
      int readyBucket = (int) ((ready - t0) / BUCKET_NANOS);
      int lastBucket = (int) ((end - t0) / BUCKET_NANOS); // partial: excluded
      double warm = perSecond(counts, lastBucket - 100, lastBucket);
      double first5 = perSecond(counts, readyBucket, readyBucket + 50) / warm;
      double to90 = -1;
      for (int b = readyBucket; b + 10 <= lastBucket; b++) {
        if (perSecond(counts, b, b + 10) >= 0.9 * warm) {
          to90 = (b + 10) * 100.0; // the end of the first second at 90 %, from process start
          break;
        }
      }
      return new Trial(
          v.name(),
          round,
          listenMillis,
          readyMillis,
          warm,
          first5,
          to90,
          to90 < 0 ? -1 : to90 - readyMillis,
          (cpuAfter5s[0] - cpuAtReady) / 1e6,
          peak,
          load.errors,
          counts);
    }
  }

  private static double perSecond(long[] counts, int from, int to) {
    long n = 0;
    for (int i = Math.max(0, from); i < to; i++) {
      n += counts[i];
    }
    return n / ((to - Math.max(0, from)) / 10.0);
  }

  private static void awaitReady(Process p, int adminPort) throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    HttpRequest req =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/readyz"))
            .timeout(Duration.ofSeconds(2))
            .build();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IOException("the proxy exited with " + p.exitValue() + " before it was ready");
      }
      try {
        if (http.send(req, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      Thread.sleep(10);
    }
    throw new IOException("the proxy was not ready within 60 s");
  }

  /**
   * 16 slots, each writing its next key (a Txn with one Put, as kube-apiserver's create) and then
   * reading it back (a linearizable get), until the deadline.
   */
  private static final class Load {
    private final Conn conn;
    private final ByteString[] keys = new ByteString[POOL];
    private final long t0;
    private final long end;
    private final AtomicLongArray done;
    private final CountDownLatch slots;
    private volatile long errors;

    Load(Conn conn, String prefix, long t0, long end, AtomicLongArray done, int inFlight) {
      this.conn = conn;
      for (int i = 0; i < POOL; i++) {
        keys[i] = Keys.of(prefix + String.format("%04d", i));
      }
      this.t0 = t0;
      this.end = end;
      this.done = done;
      this.slots = new CountDownLatch(inFlight);
      for (int s = 0; s < inFlight; s++) {
        write(s, s % POOL);
      }
    }

    void runToEnd(int seconds) throws InterruptedException {
      if (!slots.await(seconds + 120L, TimeUnit.SECONDS)) {
        throw new IllegalStateException("requests still in flight two minutes after the load");
      }
    }

    private boolean completed() {
      long now = System.nanoTime();
      if (now >= end) {
        slots.countDown();
        return false;
      }
      int b = (int) ((now - t0) / BUCKET_NANOS);
      if (b < done.length()) {
        done.incrementAndGet(b);
      }
      return true;
    }

    private void write(int slot, int key) {
      TxnRequest txn =
          TxnRequest.newBuilder()
              .addSuccess(
                  RequestOp.newBuilder()
                      .setRequestPut(PutRequest.newBuilder().setKey(keys[key]).setValue(value)))
              .build();
      conn.kv(slot).txn(txn, new Then<>(() -> read(slot, key), () -> write(slot, key)));
    }

    private void read(int slot, int key) {
      RangeRequest get = RangeRequest.newBuilder().setKey(keys[key]).setLimit(1).build();
      int next = (key + 16) % POOL;
      conn.kv(slot)
          .range(get, new Then<RangeResponse>(() -> write(slot, next), () -> read(slot, key)));
    }

    private final ByteString value = randomValue();

    private static ByteString randomValue() {
      byte[] v = new byte[1024];
      new SecureRandom().nextBytes(v);
      return ByteString.copyFrom(v);
    }

    /** Counts the completion and goes on, or retries after 1 ms on an error. */
    private final class Then<T> implements StreamObserver<T> {
      private final Runnable next;
      private final Runnable retry;

      Then(Runnable next, Runnable retry) {
        this.next = next;
        this.retry = retry;
      }

      @Override
      public void onNext(T response) {}

      @Override
      public void onError(Throwable t) {
        errors++;
        if (System.nanoTime() >= end) {
          slots.countDown();
          return;
        }
        sleepThen(retry);
      }

      @Override
      public void onCompleted() {
        if (completed()) {
          next.run();
        }
      }
    }

    private static void sleepThen(Runnable r) {
      CompletableFuture.runAsync(r, CompletableFuture.delayedExecutor(1, TimeUnit.MILLISECONDS));
    }
  }

  // ---- report ----

  private static String report(
      List<Variant> variants,
      List<Trial> trials,
      int rounds,
      int seconds,
      int inFlight,
      String loadBefore,
      String loadAfter,
      Duration took) {
    StringBuilder b = new StringBuilder();
    b.append("# Start-up: how fast a freshly started proxy serves\n\n");
    b.append(
        String.format(
            "aesgcm on secrets, %d in flight (per slot: a Txn writing a 1 KiB Secret, then a linearizable get"
                + " of it), load from the moment /readyz answers 200, for %d s; %d rounds, variants"
                + " interleaved. Warm = the rate of the last 10 s. Times are from process start."
                + " Medians over the rounds (each round's figure in brackets). Took %d s; load average %s"
                + " before, %s after.%n%n",
            inFlight, seconds, rounds, took.toSeconds(), loadBefore, loadAfter));
    b.append(
        "| variant | listening | ready | warm req/s | first 5 s after ready (x warm) | 90 % of warm, from start |"
            + " 90 % of warm, from ready | CPU in the first 5 s | peak RSS |\n");
    b.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for (Variant v : variants) {
      List<Trial> ts = trials.stream().filter(t -> t.variant().equals(v.name())).toList();
      b.append("| ")
          .append(v.name())
          .append(" | ")
          .append(cell(ts, Trial::listenMillis, "%.0f ms", 1))
          .append(" | ")
          .append(cell(ts, Trial::readyMillis, "%.0f ms", 1))
          .append(" | ")
          .append(cell(ts, Trial::warmPerSecond, "%.0f", 1))
          .append(" | ")
          .append(cell(ts, Trial::first5sRatio, "%.2f", 1))
          .append(" | ")
          .append(cell(ts, Trial::to90Millis, "%.1f s", 1000))
          .append(" | ")
          .append(cell(ts, Trial::to90AfterReadyMillis, "%.1f s", 1000))
          .append(" | ")
          .append(cell(ts, Trial::first5sCpuMillis, "%.0f ms", 1))
          .append(" | ")
          .append(cell(ts, t -> t.peakRssKiB() / 1024.0, "%.0f MiB", 1))
          .append(" |\n");
    }
    b.append("\nVariants (java, options):\n\n");
    for (Variant v : variants) {
      b.append("- `")
          .append(v.name())
          .append("`: `")
          .append(v.java())
          .append(' ')
          .append(String.join(" ", v.jvmOptions()))
          .append(" -jar etcd-crypt-proxy.jar serve ... ")
          .append(String.join(" ", v.serveArgs()))
          .append("` (")
          .append(Machine.command(v.java(), "-version").lines().skip(1).findFirst().orElse("?"))
          .append(")\n");
    }
    long errors = trials.stream().mapToLong(Trial::errors).sum();
    b.append("\nErrors (retried): ").append(errors).append('\n');
    return b.toString();
  }

  private static String cell(List<Trial> ts, ToDoubleFunction<Trial> f, String fmt, double div) {
    double[] xs = ts.stream().mapToDouble(f).map(x -> x / div).toArray();
    double[] sorted = xs.clone();
    Arrays.sort(sorted);
    double median = sorted[sorted.length / 2];
    StringBuilder s = new StringBuilder(String.format(fmt, median));
    if (xs.length > 1) {
      s.append(" (");
      for (int i = 0; i < xs.length; i++) {
        s.append(i == 0 ? "" : ", ")
            .append(
                String.format(fmt.replace(" ms", "").replace(" s", "").replace(" MiB", ""), xs[i]));
      }
      s.append(")");
    }
    return s.toString();
  }

  private static Map<String, Object> json(List<Variant> variants, List<Trial> trials) {
    Map<String, Object> m = new LinkedHashMap<>();
    List<Object> vs = new ArrayList<>();
    for (Variant v : variants) {
      vs.add(Map.of("name", v.name(), "java", v.java(), "jvm_options", v.jvmOptions()));
    }
    m.put("variants", vs);
    List<Object> ts = new ArrayList<>();
    for (Trial t : trials) {
      Map<String, Object> x = new LinkedHashMap<>();
      x.put("variant", t.variant());
      x.put("round", t.round());
      x.put("listen_ms", t.listenMillis());
      x.put("ready_ms", t.readyMillis());
      x.put("warm_per_s", t.warmPerSecond());
      x.put("first_5s_ratio", t.first5sRatio());
      x.put("to_90_percent_ms", t.to90Millis());
      x.put("to_90_percent_after_ready_ms", t.to90AfterReadyMillis());
      x.put("first_5s_cpu_ms", t.first5sCpuMillis());
      x.put("peak_rss_kib", t.peakRssKiB());
      x.put("errors", t.errors());
      List<Long> bs = new ArrayList<>();
      for (long c : t.buckets()) {
        bs.add(c);
      }
      x.put("completions_per_100ms_from_start", bs);
      ts.add(x);
    }
    m.put("trials", ts);
    return m;
  }
}
