package io.etcdcrypt.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Writes the kube-apiserver benchmark's results: {@code <name>.json} and {@code <name>.md}. */
final class KubeReport {

  static final double TARGET = 0.90;

  private final List<KubeCell> cells;
  private final Map<String, String> machine;
  private final List<String> commands;
  private final String proxyJavaOpts;
  private final String loadBefore;
  private final String loadAfter;
  private final Duration took;
  private final boolean quick;
  private final int rounds;
  private final long sliceMillis;
  private final List<String> notes;

  KubeReport(
      List<KubeCell> cells,
      Map<String, String> machine,
      List<String> commands,
      String proxyJavaOpts,
      String loadBefore,
      String loadAfter,
      Duration took,
      boolean quick,
      int rounds,
      long sliceMillis,
      List<String> notes) {
    this.cells = cells;
    this.machine = machine;
    this.commands = commands;
    this.proxyJavaOpts = proxyJavaOpts;
    this.loadBefore = loadBefore;
    this.loadAfter = loadAfter;
    this.took = took;
    this.quick = quick;
    this.rounds = rounds;
    this.sliceMillis = sliceMillis;
    this.notes = notes;
  }

  void write(Path dir, String name) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(name + ".json"), Json.write(json()));
    Files.writeString(dir.resolve(name + ".md"), markdown());
  }

  /** The native cell a proxy cell is compared with (same phase, operation, level, provider). */
  private KubeCell nativeOf(KubeCell c) {
    for (KubeCell n : cells) {
      if (!n.server.viaProxy
          && n.server.provider.equals(c.server.provider)
          && n.phase.equals(c.phase)
          && n.op == c.op
          && n.inFlight == c.inFlight) {
        return n;
      }
    }
    return null;
  }

  private static double ratio(KubeCell proxy, KubeCell nat) {
    return nat == null || nat.throughput() == 0 ? 0 : proxy.throughput() / nat.throughput();
  }

  private List<KubeCell> proxyCells() {
    return cells.stream().filter(c -> c.server.viaProxy).toList();
  }

  String summary() {
    StringBuilder b = new StringBuilder("proxy / native throughput:\n");
    for (KubeCell c : proxyCells()) {
      KubeCell n = nativeOf(c);
      b.append(
          String.format(
              "  %-6s %-12s %-7s @%-3d %8.0f vs %8.0f /s  %.2fx%s%n",
              c.server.provider,
              c.phase,
              c.op.label,
              c.inFlight,
              c.throughput(),
              n == null ? 0 : n.throughput(),
              ratio(c, n),
              ratio(c, n) >= TARGET ? "" : "  (below 0.90)"));
    }
    return b.toString();
  }

  private Map<String, Object> json() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("benchmark", "kube-apiserver end to end, native encryption vs etcd-crypt-proxy");
    m.put("finished", Instant.now().toString());
    m.put("seconds", took.toSeconds());
    m.put("plan", quick ? "quick" : "full");
    m.put("rounds", rounds);
    m.put("slice_ms", sliceMillis);
    m.put("value_bytes", KubeBench.VALUE_BYTES);
    m.put("proxy_java_opts", proxyJavaOpts);
    m.put("load_average_before", loadBefore);
    m.put("load_average_after", loadAfter);
    m.put("machine", machine);
    List<Object> rows = new ArrayList<>();
    for (KubeCell c : cells) {
      Map<String, Object> row = c.toJson();
      if (c.server.viaProxy) {
        row.put("ratio_to_native", ratio(c, nativeOf(c)));
      }
      rows.add(row);
    }
    m.put("cells", rows);
    m.put("commands", commands);
    m.put("notes", notes);
    return m;
  }

  private String markdown() {
    StringBuilder b = new StringBuilder();
    b.append("# kube-apiserver end to end: native encryption vs etcd-crypt-proxy\n\n");
    b.append(
        String.format(
            "`bench/kube-e2e.sh%s`, %s plan: %d measured round(s) of %.1f s slices per setup and"
                + " scenario (after the warm-up noted below), the four setups interleaved in an order"
                + " rotated every round; %d s in all. Load average %s before, %s after."
                + " Secrets of %d bytes of data (JSON requests and answers, HTTP/2, client"
                + " certificates); mTLS between every pair of processes. Proxy JVM: `java %s`"
                + " (the Dockerfile's options).%n%n",
            quick ? " --quick" : "",
            quick ? "quick" : "full",
            rounds,
            sliceMillis / 1000.0,
            took.toSeconds(),
            loadBefore,
            loadAfter,
            KubeBench.VALUE_BYTES,
            proxyJavaOpts));
    b.append("## Proxy / native throughput (target: at least ")
        .append(String.format("%.2f", TARGET))
        .append("x on every operation)\n\n");
    b.append(
        "| provider | path | operation | in flight | native ops/s | proxy ops/s | ratio |"
            + " server CPU µs/op, native | through the proxy | native / proxy |\n");
    b.append("|---|---|---|--:|--:|--:|--:|--:|--:|--:|\n");
    for (KubeCell c : proxyCells()) {
      KubeCell n = nativeOf(c);
      double r = ratio(c, n);
      b.append(
          String.format(
              "| %s | %s | %s | %d | %.0f | %.0f | %s | %.0f | %.0f | %.2f |%n",
              c.server.provider,
              c.phase,
              c.op.label,
              c.inFlight,
              n == null ? 0 : n.throughput(),
              c.throughput(),
              r >= TARGET ? String.format("%.2f", r) : String.format("**%.2f**", r),
              n == null ? 0 : n.serverCpuMicrosPerOp(),
              c.serverCpuMicrosPerOp(),
              n == null || c.serverCpuMicrosPerOp() == 0
                  ? 0
                  : n.serverCpuMicrosPerOp() / c.serverCpuMicrosPerOp()));
    }
    b.append(
        "\nServer CPU = kube-apiserver + proxy + etcd + KMS plugin per operation, without the"
            + " driver: on a machine where only the servers share the cores (the driver elsewhere,"
            + " as clients are), native / proxy of it is what the throughput ratio tends to when"
            + " the CPU is the limit; here the driver's CPU, the same on both sides, pulls the"
            + " measured ratio towards 1.\n\n");
    for (String provider : KubeCluster.PROVIDERS) {
      for (String phase : phases()) {
        b.append("## ").append(provider).append(", ").append(phase).append(" path\n\n");
        b.append(
            "| operation | in flight | setup | ops/s | p50 ms | p99 ms | x native |"
                + " CPU µs/op: kube-apiserver | proxy | etcd | kms-plugin | driver | total |"
                + " errors |\n");
        b.append("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for (KubeCell c : cells) {
          if (!c.server.provider.equals(provider) || !c.phase.equals(phase)) {
            continue;
          }
          b.append(
              String.format(
                  "| %s | %d | %s | %.0f | %.2f | %.2f | %s | %.0f | %s | %.0f | %.0f | %.0f |"
                      + " %.0f | %d |%n",
                  c.op.label,
                  c.inFlight,
                  c.server.viaProxy ? "proxy" : "native",
                  c.throughput(),
                  c.percentileMillis(50),
                  c.percentileMillis(99),
                  c.server.viaProxy ? String.format("%.2f", ratio(c, nativeOf(c))) : "1",
                  c.cpuMicrosPerOp(0),
                  c.server.viaProxy ? String.format("%.0f", c.cpuMicrosPerOp(1)) : "-",
                  c.cpuMicrosPerOp(2),
                  c.cpuMicrosPerOp(3),
                  c.cpuMicrosPerOp(4),
                  c.totalCpuMicrosPerOp(),
                  c.errors));
        }
        b.append("\n");
      }
    }
    b.append("## What each operation is, and which path it takes\n\n");
    for (KubeOp op : KubeOp.values()) {
      b.append("- **").append(op.label).append("**: ").append(op.shape).append(".\n");
    }
    b.append(
        """
        - **watch-cache path** (kube-apiserver's defaults): a get with `resourceVersion` unset is
          read from etcd (a quorum Range through the proxy); a list page is served from
          kube-apiserver's watch cache (1.37 serves consistent lists from the cache after one
          revision check against etcd, and with `ListFromCacheSnapshot`, beta and on, continue
          pages from cache snapshots), so a page costs etcd and the proxy almost nothing. Creates
          and updates are a Txn through the proxy plus the watch event the proxy decrypts for
          kube-apiserver's cache.
        - **etcd path** (kube-apiservers restarted with `--watch-cache=false`): every list page is
          a Range of 500 values from etcd, decrypted by kube-apiserver (native) or by the proxy.
        - CPU µs/op: CPU time (user + system, from `/proc/<pid>/stat` around each slice) of each
          process divided by the operations of the slice; the other three kube-apiservers idle
          meanwhile and are not counted. `driver` is this benchmark's own JVM (JDK HttpClient).
          The proxy column is the setup's own proxy; native setups have none.

        """);
    for (String n : notes) {
      b.append("- ").append(n).append("\n");
    }
    b.append("\n## Machine\n\n");
    b.append(
        "Shared: the 2 vCPUs also ran other engineers' builds and tests while this was measured"
            + " (load average above), and the driver, etcd, the KMS plugin, the proxies and the"
            + " kube-apiservers share them. Compare numbers within this run only.\n\n");
    b.append("| | |\n|---|---|\n");
    for (var e : machine.entrySet()) {
      b.append("| ")
          .append(e.getKey())
          .append(" | ")
          .append(e.getValue().replace("\n", " ").replace("|", "\\|"))
          .append(" |\n");
    }
    b.append("\n## Commands\n\n```\n");
    for (String c : commands) {
      b.append(c).append("\n");
    }
    b.append("```\n");
    return b.toString();
  }

  private List<String> phases() {
    return cells.stream().map(c -> c.phase).distinct().toList();
  }
}
