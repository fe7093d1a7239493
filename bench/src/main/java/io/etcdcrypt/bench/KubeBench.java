package io.etcdcrypt.bench;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * kube-apiserver end to end: the same kube-apiserver and etcd 3.6, once with native {@code
 * --encryption-provider-config} and once through etcd-crypt-proxy with the same file, for aesgcm
 * and KMS v2 (the bundled plugin), all four at once on one etcd; Secret create, update, get and
 * list pages driven through the API in interleaved slices (the setups taken round-robin in an order
 * rotated every round), with the CPU of kube-apiserver, the proxy, etcd, the plugin and the driver
 * per operation.
 *
 * <p>Phases: {@code watch-cache} (kube-apiserver's defaults: gets go to etcd, lists are served from
 * the watch cache) and, unless {@code --no-etcd-path}, {@code etcd} (kube-apiservers restarted with
 * {@code --watch-cache=false}: every list page is a Range through the proxy).
 *
 * <p>Options: {@code --quick --out DIR --name NAME --bin DIR --proxy-jar JAR --proxy-java-opts
 * "..." --levels 1,16 --ops create,get --rounds N --slice-ms MS --warmup-rounds N --warmup-ms MS
 * --etcd-path --no-etcd-path --keep}.
 */
public final class KubeBench {

  /**
   * The JVM options of the Dockerfile's ENTRYPOINT: the repository's jvm.options (the bench runs
   * from the repository's root).
   */
  static final String DOCKERFILE_JAVA_OPTS =
      "@" + java.nio.file.Path.of("jvm.options").toAbsolutePath();

  static final int VALUE_BYTES = 1024;

  record Scenario(String phase, KubeOp op, int inFlight) {
    String id() {
      return phase + "/" + op.label + "@" + inFlight;
    }
  }

  private final Map<String, String> opts;
  private final boolean quick;
  private final Path work;
  private final KubeCluster cluster;
  private final List<KubeCell> cells = new ArrayList<>();
  private final Map<KubeCluster.Server, KubeLoads.State> states = new LinkedHashMap<>();
  private final List<String> notes = new ArrayList<>();
  private final List<Integer> levels;
  private final List<KubeOp> ops;
  private final int rounds;
  private final int warmupRounds;
  private final long sliceMillis;
  private final long warmupSliceMillis;
  private String loadBefore;

  private KubeBench(Map<String, String> opts) throws Exception {
    this.opts = opts;
    this.quick = opts.containsKey("quick");
    this.levels = ints(opts.getOrDefault("levels", quick ? "16" : "1,16"));
    this.ops =
        Arrays.stream(opts.getOrDefault("ops", "create,update,get,list").split(","))
            .map(s -> KubeOp.valueOf(s.trim().toUpperCase()))
            .toList();
    this.rounds = Integer.parseInt(opts.getOrDefault("rounds", quick ? "2" : "4"));
    this.warmupRounds = Integer.parseInt(opts.getOrDefault("warmup-rounds", "1"));
    this.sliceMillis = Long.parseLong(opts.getOrDefault("slice-ms", quick ? "1000" : "2500"));
    this.warmupSliceMillis =
        Long.parseLong(opts.getOrDefault("warmup-ms", quick ? "6000" : "15000"));
    Path bin = Path.of(opts.getOrDefault("bin", "testenv/bin")).toAbsolutePath();
    for (String b : List.of("kube-apiserver", "etcd-3.6")) {
      if (!Files.isExecutable(bin.resolve(b))) {
        throw new IllegalStateException(
            bin.resolve(b)
                + " is missing: run testenv/build.sh first (it builds kube-apiserver"
                + " and etcd 3.6 into testenv/bin)");
      }
    }
    this.work = Files.createTempDirectory(Path.of("/dev/shm"), "etcd-crypt-kube-bench-");
    this.cluster =
        new KubeCluster(
            work,
            bin,
            Path.of(opts.getOrDefault("proxy-jar", "target/etcd-crypt-proxy.jar")).toAbsolutePath(),
            opts.getOrDefault("proxy-java-opts", DOCKERFILE_JAVA_OPTS));
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = new HashMap<>();
    List<String> flags = List.of("quick", "keep", "etcd-path", "no-etcd-path");
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("unexpected argument " + args[i]);
      }
      String name = args[i].substring(2);
      opts.put(name, flags.contains(name) ? "true" : args[++i]);
    }
    KubeBench b = new KubeBench(opts);
    int code = 0;
    try {
      b.run();
    } catch (Exception e) {
      System.err.println("kube bench failed: " + e + "; logs under " + b.cluster.logs());
      e.printStackTrace();
      code = 1;
    } finally {
      b.cluster.close();
      if (code == 0 && !opts.containsKey("keep")) {
        Bench.deleteTree(b.work);
      }
    }
    System.exit(code);
  }

  private void run() throws Exception {
    Instant started = Instant.now();
    loadBefore = Machine.loadAverage();
    notes.add(
        String.format(
            "Warm-up, not recorded: %d round(s) of one slice per operation and setup at %d in"
                + " flight, %.1f s through the proxies and %.1f s native (no JIT in Go).",
            warmupRounds,
            levels.stream().max(Integer::compare).orElseThrow(),
            warmupSliceMillis / 1000.0,
            Math.max(1000, warmupSliceMillis / 4) / 1000.0));
    Bench.log("work dir %s; starting etcd, the KMS plugin, 2 proxies, 4 kube-apiservers", work);
    cluster.start();
    Bench.log("up in %d s", Duration.between(started, Instant.now()).toSeconds());
    prepare();
    idle();

    phase("watch-cache", ops);
    report(started);
    boolean etcdPath =
        !opts.containsKey("no-etcd-path")
            && (opts.containsKey("etcd-path") || !quick)
            && ops.contains(KubeOp.LIST);
    if (etcdPath) {
      Bench.log("restarting the kube-apiservers with --watch-cache=false");
      cluster.restartApiservers(List.of("--watch-cache=false"));
      phase("etcd", List.of(KubeOp.LIST));
      report(started);
    }
  }

  /** Writes the results measured so far (after each phase, so a failed later phase keeps them). */
  private void report(Instant started) throws Exception {
    Duration took = Duration.between(started, Instant.now());
    Map<String, String> machine =
        Machine.describe(
            Path.of(opts.getOrDefault("bin", "testenv/bin")).resolve("etcd-3.6").toString(), "");
    machine.remove("etcd_command");
    machine.put(
        "kube-apiserver",
        Machine.command(
            Path.of(opts.getOrDefault("bin", "testenv/bin")).resolve("kube-apiserver").toString(),
            "--version"));
    Path out = Path.of(opts.getOrDefault("out", "bench/results"));
    String name = opts.getOrDefault("name", quick ? "kube-e2e-quick" : "kube-e2e");
    KubeReport report =
        new KubeReport(
            cells,
            machine,
            cluster.commands,
            opts.getOrDefault("proxy-java-opts", DOCKERFILE_JAVA_OPTS),
            loadBefore,
            Machine.loadAverage(),
            took,
            quick,
            rounds,
            sliceMillis,
            notes);
    report.write(out, name);
    System.out.println(report.summary());
    Bench.log("wrote %s/%s.{json,md} in %d s", out, name, took.toSeconds());
  }

  /** Per kube-apiserver, in parallel: the namespaces, the update/get pool, the list data set. */
  private void prepare() throws Exception {
    long t0 = System.nanoTime();
    byte[] raw = new byte[VALUE_BYTES];
    new SecureRandom().nextBytes(raw);
    String value = Base64.getEncoder().encodeToString(raw);
    boolean lists = ops.contains(KubeOp.LIST);
    ExecutorService pool = Executors.newFixedThreadPool(cluster.servers().size());
    try {
      Map<KubeCluster.Server, Future<String[]>> jobs = new LinkedHashMap<>();
      for (KubeCluster.Server s : cluster.servers()) {
        jobs.put(
            s,
            pool.submit(
                () -> {
                  for (String ns :
                      List.of(KubeLoads.CREATE_NS, KubeLoads.POOL_NS, KubeLoads.LIST_NS)) {
                    s.api.createNamespace(ns);
                  }
                  String[] versions =
                      s.api.createMany(
                          KubeLoads.POOL_NS,
                          KubeLoads.POOL_PREFIX,
                          KubeLoads.POOL_SECRETS,
                          value,
                          16);
                  if (lists) {
                    s.api.createMany(
                        KubeLoads.LIST_NS,
                        KubeLoads.LIST_PREFIX,
                        KubeLoads.LIST_SECRETS,
                        value,
                        32);
                  }
                  return versions;
                }));
      }
      for (var e : jobs.entrySet()) {
        states.put(e.getKey(), new KubeLoads.State(e.getKey().api, value, e.getValue().get()));
      }
    } finally {
      pool.shutdownNow();
    }
    Bench.log(
        "data written in %.1f s: %d pool Secrets%s per kube-apiserver",
        (System.nanoTime() - t0) / 1e9,
        KubeLoads.POOL_SECRETS,
        lists ? " and " + KubeLoads.LIST_SECRETS + " list Secrets" : "");
  }

  /**
   * The background CPU of each process with no load (leases, health checks, controllers), as a
   * note: a slice's CPU per op includes its share of it.
   */
  private void idle() throws InterruptedException {
    Map<String, Long> pids = new LinkedHashMap<>();
    for (KubeCluster.Server s : cluster.servers()) {
      pids.put(s.name + " kube-apiserver", s.apiserverPid());
      if (s.viaProxy) {
        pids.put(s.name + " proxy", s.proxyPid());
      }
    }
    pids.put("etcd", cluster.etcd.pid());
    pids.put("kms-plugin", cluster.kmsPlugin.pid());
    Map<String, Long> before = new LinkedHashMap<>();
    pids.forEach((k, pid) -> before.put(k, Procs.cpuNanos(pid)));
    long t0 = System.nanoTime();
    Thread.sleep(5000);
    double seconds = (System.nanoTime() - t0) / 1e9;
    StringBuilder b =
        new StringBuilder("CPU with no load, over 5 s after the data was written (ms/s):");
    pids.forEach(
        (k, pid) ->
            b.append(
                String.format(
                    " %s %.1f;", k, (Procs.cpuNanos(pid) - before.get(k)) / 1e6 / seconds)));
    notes.add(b.substring(0, b.length() - 1) + ".");
    Bench.log("%s", notes.get(notes.size() - 1));
  }

  private void phase(String phase, List<KubeOp> phaseOps) throws Exception {
    List<Scenario> scenarios = new ArrayList<>();
    for (int level : levels) {
      for (KubeOp op : phaseOps) {
        scenarios.add(new Scenario(phase, op, level));
      }
    }
    Map<Scenario, Map<KubeCluster.Server, KubeCell>> row = new LinkedHashMap<>();
    for (Scenario sc : scenarios) {
      Map<KubeCluster.Server, KubeCell> m = new LinkedHashMap<>();
      for (KubeCluster.Server s : cluster.servers()) {
        KubeCell c = new KubeCell(phase, sc.op(), sc.inFlight(), s);
        m.put(s, c);
        cells.add(c);
      }
      row.put(sc, m);
    }
    // Warm-up (not recorded): one slice per operation and setup at the highest level, long enough
    // for the proxies' JIT: with 4 s slices the C2 compiler threads still used more CPU than the
    // proxy's event loop in the measured rounds (JFR jdk.ThreadCPULoad). kube-apiserver (Go) has
    // no JIT: native setups get a quarter of it, which also warms the driver.
    int top = levels.stream().max(Integer::compare).orElseThrow();
    List<Scenario> warmups = scenarios.stream().filter(sc -> sc.inFlight() == top).toList();
    for (int r = 0; r < warmupRounds; r++) {
      Bench.log(
          "%s: warm-up round %d (%d ms slices through the proxies, a quarter native)",
          phase, r + 1, warmupSliceMillis);
      round(warmups, row, r, warmupSliceMillis, Math.max(1000, warmupSliceMillis / 4), false);
    }
    String jfr = opts.get("jfr");
    if (jfr != null) {
      jcmd(jfr, "JFR.start", "name=bench", "settings=profile", "filename=" + jfrFile(phase, jfr));
    }
    for (int r = 0; r < rounds; r++) {
      Bench.log(
          "%s: round %d of %d (load average %s)", phase, r + 1, rounds, Machine.loadAverage());
      round(scenarios, row, r, sliceMillis, true);
    }
    if (jfr != null) {
      jcmd(jfr, "JFR.stop", "name=bench");
      Path file = jfrFile(phase, jfr);
      Path summary = file.resolveSibling(file.getFileName().toString().replace(".jfr", ".md"));
      JfrProfile.write(
          file,
          summary,
          jfr + " proxy, " + phase + " path: " + scenarios.stream().map(Scenario::id).toList());
      notes.add("JFR profile of the " + jfr + " proxy's measured rounds: " + summary.getFileName());
    }
  }

  private Path jfrFile(String phase, String server) {
    String name = opts.getOrDefault("name", quick ? "kube-e2e-quick" : "kube-e2e");
    return Path.of(opts.getOrDefault("out", "bench/results"))
        .toAbsolutePath()
        .resolve(name + "-profile-" + server + "-" + phase + ".jfr");
  }

  /** jcmd on the proxy of setup {@code server} (e.g. aesgcm-proxy). */
  private void jcmd(String server, String... args) throws Exception {
    KubeCluster.Server s =
        cluster.servers().stream()
            .filter(x -> x.name.equals(server) && x.viaProxy)
            .findFirst()
            .orElseThrow(() -> new IllegalArgumentException("--jfr: no proxy setup " + server));
    Files.createDirectories(jfrFile("x", server).getParent());
    List<String> cmd = new ArrayList<>(List.of("jcmd", "" + s.proxyPid()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new java.io.IOException("jcmd failed: " + out);
    }
  }

  private void round(
      List<Scenario> scenarios,
      Map<Scenario, Map<KubeCluster.Server, KubeCell>> row,
      int round,
      long millis,
      boolean record)
      throws Exception {
    round(scenarios, row, round, millis, millis, record);
  }

  private void round(
      List<Scenario> scenarios,
      Map<Scenario, Map<KubeCluster.Server, KubeCell>> row,
      int round,
      long proxyMillis,
      long nativeMillis,
      boolean record)
      throws Exception {
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    for (int i = 0; i < scenarios.size(); i++) {
      Scenario sc = scenarios.get(i);
      List<KubeCluster.Server> order = new ArrayList<>(cluster.servers());
      Collections.rotate(order, (round + i) % order.size());
      for (KubeCluster.Server s : order) {
        long[] pids = {
          s.apiserverPid(), s.proxyPid(), cluster.etcd.pid(), cluster.kmsPlugin.pid(), -1
        };
        long[] before = cpu(pids, os);
        SliceResult r =
            KubeLoads.of(sc.op(), states.get(s))
                .run(sc.inFlight(), s.viaProxy ? proxyMillis : nativeMillis);
        long[] after = cpu(pids, os);
        for (int k = 0; k < after.length; k++) {
          after[k] -= before[k];
        }
        if (record) {
          row.get(sc).get(s).add(r, after);
        }
        if (r.errors() > 0) {
          Bench.log("  %s on %s: %d errors, first: %s", sc.id(), s, r.errors(), r.firstError());
        }
      }
      if (record) {
        StringBuilder b = new StringBuilder();
        for (KubeCell c : row.get(sc).values()) {
          b.append(
              String.format(
                  "%s %.0f/s p99 %.1fms  ", c.server.name, c.throughput(), c.percentileMillis(99)));
        }
        Bench.log("  %-24s %s", sc.id(), b);
      }
    }
  }

  /** CPU nanoseconds so far of each pid (0 for none), the driver's own last. */
  private static long[] cpu(long[] pids, com.sun.management.OperatingSystemMXBean os) {
    long[] v = new long[pids.length];
    for (int i = 0; i < pids.length; i++) {
      v[i] = pids[i] > 0 ? Math.max(0, Procs.cpuNanos(pids[i])) : 0;
    }
    v[pids.length - 1] = os.getProcessCpuTime();
    return v;
  }

  private static List<Integer> ints(String csv) {
    return Arrays.stream(csv.split(",")).map(x -> Integer.parseInt(x.trim())).toList();
  }
}
