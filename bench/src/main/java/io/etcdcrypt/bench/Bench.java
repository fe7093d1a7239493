package io.etcdcrypt.bench;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.CompactionRequest;
import io.etcdcrypt.etcd.etcdserverpb.DeleteRangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The side-by-side benchmark: starts etcd on tmpfs, etcd's grpc-proxy and one etcd-crypt-proxy per
 * provider as separate processes on loopback, loads them all in ONE run with interleaved slices,
 * and writes the results.
 *
 * <p>Usage (bench/run.sh passes these): {@code Bench [--quick] [--out DIR] [--name NAME]
 * [--proxy-jar JAR] [--targets a,b] [--ops create,get] [--rounds N] [--slice-ms MS]
 * [--warmup-rounds N] [--jfr TARGET] [--proxy-java BIN] [--proxy-java-opts "..."] [--variants
 * "name=provider|jar|jvm-opts|java;..."]}
 */
public final class Bench {

  static final List<String> PROVIDERS =
      List.of("identity", "aescbc", "aesgcm", "secretbox", "kmsv2", "kmsv1");

  /**
   * The JVM options the image ships (the repository's jvm.options; the bench runs from its root).
   */
  static final String DEFAULT_PROXY_JAVA_OPTS =
      "@" + java.nio.file.Path.of("jvm.options").toAbsolutePath();

  private final Map<String, String> opts;
  private final Plan plan;
  private final Path work;
  private final Procs procs;
  private final List<Target> targets = new ArrayList<>();
  private final Map<Scenario, Map<Target, Cell>> cells = new LinkedHashMap<>();
  private final Map<Integer, ByteString> values = new java.util.concurrent.ConcurrentHashMap<>();
  private final List<String> notes = new ArrayList<>();
  private Target etcd;
  private long etcdPid;
  private long kmsPluginPid = -1;
  private String proxyJavaOpts;

  private Bench(Map<String, String> opts) throws IOException {
    this.opts = opts;
    Plan p = opts.containsKey("quick") ? Plan.quick() : Plan.full();
    if (opts.containsKey("ops")) {
      p =
          p.only(
              Arrays.stream(opts.get("ops").split(","))
                  .map(s -> Op.valueOf(s.trim().toUpperCase()))
                  .toList());
    }
    if (opts.containsKey("sizes")) {
      List<Integer> sizes =
          Arrays.stream(opts.get("sizes").split(",")).map(x -> Integer.parseInt(x.trim())).toList();
      p = p.onlySizes(sizes);
    }
    if (opts.containsKey("rounds") || opts.containsKey("slice-ms")) {
      p =
          p.withSlices(
              Integer.parseInt(opts.getOrDefault("rounds", "" + p.rounds())),
              Long.parseLong(opts.getOrDefault("slice-ms", "" + p.sliceMillis())));
    }
    if (opts.containsKey("warmup-rounds")) {
      p = p.withWarmupRounds(Integer.parseInt(opts.get("warmup-rounds")));
    }
    this.plan = p;
    this.work = Files.createTempDirectory(Path.of("/dev/shm"), "etcd-crypt-bench-");
    this.procs = new Procs(work.resolve("logs"));
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--")) {
        throw new IllegalArgumentException("unexpected argument " + a);
      }
      String name = a.substring(2);
      if (name.equals("quick") || name.equals("keep")) {
        opts.put(name, "true");
      } else {
        opts.put(name, args[++i]);
      }
    }
    Bench b = new Bench(opts);
    int code = 0;
    try {
      b.run();
    } catch (Exception e) {
      System.err.println("bench failed: " + e + "; logs under " + b.work.resolve("logs"));
      e.printStackTrace();
      code = 1;
    } finally {
      b.procs.close();
      for (Target t : b.targets) {
        t.conn.close();
      }
      if (code == 0 && !opts.containsKey("keep")) {
        deleteTree(b.work);
      }
    }
    System.exit(code);
  }

  private void run() throws Exception {
    Instant started = Instant.now();
    String loadBefore = Machine.loadAverage();
    log(
        "plan %s: %d scenarios x targets, %d warm-up round(s) of %d ms slices, %d rounds of %d ms slices; work dir %s",
        plan.name(),
        plan.scenarios().size(),
        plan.warmupRounds(),
        plan.warmupSliceMillis(),
        plan.rounds(),
        plan.sliceMillis(),
        work);
    startTargets();
    prepare();
    for (Scenario s : plan.scenarios()) {
      Map<Target, Cell> row = new LinkedHashMap<>();
      for (Target t : targets) {
        row.put(t, new Cell(s, t));
      }
      cells.put(s, row);
    }
    for (int r = 0; r < plan.warmupRounds(); r++) {
      log("warm-up round %d", r + 1);
      round(r, plan.warmupSliceMillis(), false);
    }
    String jfrTarget = opts.get("jfr");
    if (jfrTarget != null) {
      startJfr(jfrTarget);
    }
    for (int r = 0; r < plan.rounds(); r++) {
      log("round %d of %d (load average %s)", r + 1, plan.rounds(), Machine.loadAverage());
      round(r, plan.sliceMillis(), true);
    }
    if (jfrTarget != null) {
      stopJfr(jfrTarget);
    }
    Map<Target, long[]> rss = new LinkedHashMap<>();
    for (Target t : targets) {
      rss.put(t, new long[] {Procs.rssKiB(t.pid), Procs.peakRssKiB(t.pid)});
    }
    Duration took = Duration.between(started, Instant.now());
    String loadAfter = Machine.loadAverage();
    Path out = Path.of(opts.getOrDefault("out", "bench/results"));
    String name = opts.getOrDefault("name", plan.name());
    Report report =
        new Report(
            plan,
            targets,
            cells,
            rss,
            machine(),
            loadBefore,
            loadAfter,
            took,
            proxyJavaOpts,
            kmsPluginPid,
            notes);
    report.write(out, name);
    System.out.println(report.summary());
    log("wrote %s/%s.{json,md,png} in %d s", out, name, took.toSeconds());
  }

  /** The machine, with the runtime the proxies run on (variants may name their own). */
  private Map<String, String> machine() {
    Map<String, String> m =
        Machine.describe(opts.getOrDefault("etcd", "etcd"), etcd.processCommand);
    m.put("proxy jdk", Machine.javaVersion(opts.getOrDefault("proxy-java", "java")));
    return m;
  }

  // ---- processes ----

  private void startTargets() throws Exception {
    String etcdBin = opts.getOrDefault("etcd", "etcd");
    Path jar =
        Path.of(opts.getOrDefault("proxy-jar", "target/etcd-crypt-proxy.jar")).toAbsolutePath();
    proxyJavaOpts = opts.getOrDefault("proxy-java-opts", DEFAULT_PROXY_JAVA_OPTS);
    String proxyJava = opts.getOrDefault("proxy-java", "java");
    List<String> wanted =
        opts.containsKey("targets") ? Arrays.asList(opts.get("targets").split(",")) : null;

    int client = Procs.freePort();
    int peer = Procs.freePort();
    String clientUrl = "http://127.0.0.1:" + client;
    String peerUrl = "http://127.0.0.1:" + peer;
    List<String> etcdCmd = Procs.etcdCommand(etcdBin, work.resolve("etcd"), clientUrl, peerUrl);
    // A snapshot every 5,000 entries keeps the WAL on tmpfs bounded.
    etcdCmd.addAll(List.of("--snapshot-count", "5000"));
    Process etcdProc = procs.start("etcd", etcdCmd);
    etcdPid = etcdProc.pid();
    Procs.awaitPort(etcdProc, "etcd", client, 30_000);
    etcd =
        new Target("etcd", Target.Kind.ETCD, client, etcdPid, "plain", String.join(" ", etcdCmd));
    targets.add(etcd);

    List<Runnable> waits = new ArrayList<>();
    if (wanted == null || wanted.contains("grpc-proxy")) {
      int port = Procs.freePort();
      List<String> cmd =
          List.of(
              etcdBin,
              "grpc-proxy",
              "start",
              "--endpoints",
              "127.0.0.1:" + client,
              "--listen-addr",
              "127.0.0.1:" + port,
              "--max-send-bytes",
              "" + (256 << 20));
      Process p = procs.start("grpc-proxy", cmd);
      targets.add(
          new Target(
              "grpc-proxy", Target.Kind.GRPC_PROXY, port, p.pid(), "plain", String.join(" ", cmd)));
      waits.add(() -> await(p, "grpc-proxy", port));
    }

    // name -> (provider, extra JVM options, jar, java): one per provider, plus --variants
    // "name=provider|jar|opts|java;..." to compare jars, settings or JDKs within one interleaved
    // run.
    Map<String, String[]> proxies = new LinkedHashMap<>();
    for (String provider : PROVIDERS) {
      if (wanted == null || wanted.contains(provider)) {
        proxies.put(provider, new String[] {provider, "", jar.toString(), proxyJava});
      }
    }
    if (opts.containsKey("variants")) {
      // name=provider|jar|JVM options|java (each part may be empty: aesgcm, the jar under test, no
      // extra options, the java on the PATH)
      for (String v : opts.get("variants").split(";")) {
        String[] kv = v.split("=", 2);
        String[] parts = (kv[1] + "|||").split("\\|", -1);
        proxies.put(
            kv[0].trim(),
            new String[] {
              parts[0].isBlank() ? "aesgcm" : parts[0].trim(),
              parts[2].trim(),
              parts[1].isBlank() ? jar.toString() : parts[1].trim(),
              parts[3].isBlank() ? "java" : parts[3].trim()
            });
      }
    }
    Path sock = work.resolve("kms.sock");
    boolean kms = proxies.values().stream().anyMatch(x -> x[0].startsWith("kms"));
    if (kms) {
      Process plugin = KmsPlugin.start(procs, jar, work, sock);
      kmsPluginPid = plugin.pid();
    }

    for (Map.Entry<String, String[]> e : proxies.entrySet()) {
      String name = e.getKey();
      String provider = e.getValue()[0];
      Path config = work.resolve(name + ".yaml");
      Files.writeString(config, BenchConfigs.encryptionConfig(provider, sock));
      int port = Procs.freePort();
      // Options of the form NAME=value are environment variables (e.g. MALLOC_ARENA_MAX=2), set
      // through env(1),
      // which execs java: the pid stays the proxy's.
      List<String> cmd = new ArrayList<>();
      List<String> jvm = new ArrayList<>();
      for (String o : (proxyJavaOpts + " " + e.getValue()[1]).trim().split("\\s+")) {
        if (o.matches("[A-Z_][A-Z0-9_]*=.*")) {
          if (cmd.isEmpty()) {
            cmd.add("env");
          }
          cmd.add(o);
        } else {
          jvm.add(o);
        }
      }
      cmd.add(e.getValue()[3]);
      cmd.addAll(jvm);
      if (name.equals(opts.get("jfr"))) {
        cmd.add("-XX:+FlightRecorder");
      }
      cmd.addAll(
          List.of(
              "-jar",
              e.getValue()[2],
              "serve",
              "--listen-addr",
              "127.0.0.1:" + port,
              "--endpoints",
              "127.0.0.1:" + client,
              "--encryption-provider-config",
              config.toString(),
              "--log-level",
              "warn"));
      Process p = procs.start(name, cmd);
      targets.add(
          new Target(
              name,
              Target.Kind.CRYPT_PROXY,
              port,
              p.pid(),
              provider.equals("identity") ? "plain" : name,
              String.join(" ", cmd)));
      waits.add(() -> await(p, name, port));
    }
    for (Runnable w : waits) {
      w.run();
    }
    log(
        "targets up: %s",
        targets.stream().map(t -> t.name + "@" + t.port + "(pid " + t.pid + ")").toList());
  }

  private static void await(Process p, String what, int port) {
    try {
      Procs.awaitPort(p, what, port, 60_000);
    } catch (IOException | InterruptedException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  // ---- data ----

  private ByteString value(int size) {
    return values.computeIfAbsent(
        size,
        s -> {
          byte[] v = new byte[s];
          new SecureRandom().nextBytes(v);
          return ByteString.copyFrom(v);
        });
  }

  /** Writes, through each target itself, the keys update and get use, and the list data sets. */
  private void prepare() throws Exception {
    long t0 = System.nanoTime();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> jobs = new ArrayList<>();
      for (Target t : targets) {
        jobs.add(
            pool.submit(
                () -> {
                  waitUsable(t);
                  for (int size : plan.valueSizes()) {
                    Target.KeyPool kp = t.pool(size);
                    writeBatched(t, Arrays.asList(kp.keys), value(size), kp);
                  }
                  return null;
                }));
      }
      for (Future<?> f : jobs) {
        f.get();
      }
      jobs.clear();
      Map<String, Target> listWriters = new LinkedHashMap<>();
      for (Target t : targets) {
        listWriters.putIfAbsent(t.listGroup, t);
      }
      boolean lists = plan.scenarios().stream().anyMatch(s -> s.op() == Op.LIST);
      for (Target t : lists ? listWriters.values() : List.<Target>of()) {
        jobs.add(
            pool.submit(
                () -> {
                  for (int size : plan.listValueSizes()) {
                    ByteString prefix = t.listPrefix(size);
                    List<ByteString> keys = new ArrayList<>();
                    for (int i = 0; i < Plan.LIST_OBJECTS; i++) {
                      keys.add(prefix.concat(Keys.of(String.format("obj-%05d", i))));
                    }
                    writeBatched(t, keys, value(size), null);
                  }
                  return null;
                }));
      }
      for (Future<?> f : jobs) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    compact();
    log("data written in %.1f s", (System.nanoTime() - t0) / 1e9);
  }

  /**
   * The first request through a KMS proxy may wait for its plugin: retry a write until one
   * succeeds.
   */
  private static void waitUsable(Target t) throws InterruptedException {
    ByteString key = Keys.of(t.namespace() + "probe");
    long deadline = System.currentTimeMillis() + 60_000;
    while (true) {
      try {
        t.conn
            .blocking()
            .put(PutRequest.newBuilder().setKey(key).setValue(Keys.of("probe")).build());
        return;
      } catch (RuntimeException e) {
        if (System.currentTimeMillis() > deadline) {
          throw new IllegalStateException(t + " does not accept writes: " + e.getMessage(), e);
        }
        Thread.sleep(200);
      }
    }
  }

  private static void writeBatched(
      Target t, List<ByteString> keys, ByteString value, Target.KeyPool pool) {
    int batch = Math.max(1, Math.min(100, (1 << 20) / value.size()));
    for (int from = 0; from < keys.size(); from += batch) {
      TxnRequest.Builder txn = TxnRequest.newBuilder();
      int to = Math.min(keys.size(), from + batch);
      for (int i = from; i < to; i++) {
        txn.addSuccess(
            RequestOp.newBuilder()
                .setRequestPut(PutRequest.newBuilder().setKey(keys.get(i)).setValue(value)));
      }
      TxnResponse r = t.conn.blocking().txn(txn.build());
      if (pool != null) {
        for (int i = from; i < to; i++) {
          pool.modRevision[i] = r.getHeader().getRevision();
        }
      }
    }
  }

  /** Compacts etcd's history to its current revision and waits until the compaction is applied. */
  private void compact() {
    long rev =
        etcd.conn
            .blocking()
            .range(RangeRequest.newBuilder().setKey(Keys.of("compact-probe")).build())
            .getHeader()
            .getRevision();
    etcd.conn
        .blocking()
        .compact(CompactionRequest.newBuilder().setRevision(rev).setPhysical(true).build());
  }

  private void deleteCreated() {
    for (Target t : targets) {
      ByteString prefix = t.createPrefix();
      etcd.conn
          .blocking()
          .deleteRange(
              DeleteRangeRequest.newBuilder()
                  .setKey(prefix)
                  .setRangeEnd(Keys.rangeEnd(prefix))
                  .build());
    }
  }

  // ---- the interleaved schedule ----

  private void round(int round, long sliceMillis, boolean record) throws Exception {
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    for (Scenario s : plan.scenarios()) {
      List<Target> order = rotated(targets, round + plan.scenarios().indexOf(s));
      for (Target t : order) {
        long cpu0 = Procs.cpuNanos(t.pid);
        long etcd0 = Procs.cpuNanos(etcdPid);
        long gen0 = os.getProcessCpuTime();
        SliceResult r =
            s.op() == Op.WATCH
                ? new WatchFanOut(t, value(s.valueBytes())).run(s.inFlight(), sliceMillis)
                : UnaryLoads.forScenario(t, s, value(s.valueBytes()))
                    .run(s.inFlight(), sliceMillis);
        long cpu = Procs.cpuNanos(t.pid) - cpu0;
        long etcdCpu = Procs.cpuNanos(etcdPid) - etcd0;
        long gen = os.getProcessCpuTime() - gen0;
        if (record) {
          cells.get(s).get(t).add(r, cpu, etcdCpu, gen, Procs.rssKiB(t.pid));
        }
        if (r.errors() > 0) {
          log("  %s on %s: %d errors, first: %s", s.id(), t, r.errors(), r.firstError());
        }
      }
      if (s.op() == Op.CREATE) {
        deleteCreated();
      }
      if (s.op() == Op.CREATE || s.op() == Op.UPDATE || s.op() == Op.WATCH) {
        compact();
      }
      if (record) {
        log("  %-16s %s", s.id(), rowSummary(s));
      }
    }
  }

  private String rowSummary(Scenario s) {
    StringBuilder b = new StringBuilder();
    Cell base = cells.get(s).get(etcd);
    for (Cell c : cells.get(s).values()) {
      double ratio = base.throughput() > 0 ? c.throughput() / base.throughput() : 0;
      b.append(
          String.format(
              "%s %.0f/s (x%.2f) p99 %.1fms  ",
              c.target.name, c.throughput(), ratio, c.percentileMicros(99) / 1000));
    }
    return b.toString();
  }

  private static <T> List<T> rotated(List<T> list, int by) {
    List<T> out = new ArrayList<>(list);
    java.util.Collections.rotate(out, by % list.size());
    return out;
  }

  // ---- profiling ----

  private Path jfrFile(String target) {
    String name = opts.getOrDefault("name", plan.name());
    return Path.of(opts.getOrDefault("out", "bench/results"))
        .toAbsolutePath()
        .resolve(name + "-profile-" + target + ".jfr");
  }

  private void startJfr(String target) throws Exception {
    Path file = jfrFile(target);
    Files.createDirectories(file.getParent());
    jcmd(target, "JFR.start", "name=bench", "settings=profile", "filename=" + file);
    notes.add("JFR recording of the measured rounds on " + target + ": " + file.getFileName());
  }

  /** Stops the recording and writes its summary next to it ({@link JfrProfile}). */
  private void stopJfr(String target) throws Exception {
    jcmd(target, "JFR.stop", "name=bench");
    Path file = jfrFile(target);
    Path summary = file.resolveSibling(file.getFileName().toString().replace(".jfr", ".md"));
    JfrProfile.write(
        file,
        summary,
        target
            + ", "
            + plan.scenarios().stream()
                .map(Scenario::id)
                .distinct()
                .collect(java.util.stream.Collectors.joining(", ")));
    notes.add("Profile summary: " + summary.getFileName());
  }

  private void jcmd(String target, String... args) throws Exception {
    Target t =
        targets.stream()
            .filter(x -> x.name.equals(target))
            .findFirst()
            .orElseThrow(() -> new IllegalArgumentException("no target " + target));
    List<String> cmd = new ArrayList<>(List.of("jcmd", "" + t.pid));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IOException("jcmd failed: " + out);
    }
  }

  static void log(String format, Object... args) {
    System.out.printf("[bench %tT] %s%n", System.currentTimeMillis(), String.format(format, args));
  }

  static void deleteTree(Path root) {
    try (var walk = Files.walk(root)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort: it is tmpfs and named after this run
    }
  }
}
