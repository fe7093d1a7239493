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
import java.util.Optional;

/** Turns a run's cells into the results files: JSON, a Markdown table, and a PNG chart. */
final class Report {

  private final Plan plan;
  private final List<Target> targets;
  private final Map<Scenario, Map<Target, Cell>> cells;
  private final Map<Target, long[]> rss;
  private final Map<String, String> machine;
  private final String loadBefore;
  private final String loadAfter;
  private final Duration took;
  private final String proxyJavaOpts;
  private final long kmsPluginPid;
  private final List<String> notes;
  private final List<Check> checks;

  /** One of issue 17's targets, as measured. */
  record Check(String what, String measured, String goal, boolean met) {}

  Report(
      Plan plan,
      List<Target> targets,
      Map<Scenario, Map<Target, Cell>> cells,
      Map<Target, long[]> rss,
      Map<String, String> machine,
      String loadBefore,
      String loadAfter,
      Duration took,
      String proxyJavaOpts,
      long kmsPluginPid,
      List<String> notes) {
    this.plan = plan;
    this.targets = targets;
    this.cells = cells;
    this.rss = rss;
    this.machine = machine;
    this.loadBefore = loadBefore;
    this.loadAfter = loadAfter;
    this.took = took;
    this.proxyJavaOpts = proxyJavaOpts;
    this.kmsPluginPid = kmsPluginPid;
    this.notes = notes;
    this.checks = checks();
  }

  // ---- issue 17's targets ----

  private Optional<Cell> cell(Op op, int inFlight, int size, String target) {
    for (Map.Entry<Scenario, Map<Target, Cell>> e : cells.entrySet()) {
      Scenario s = e.getKey();
      if (s.op() == op && s.inFlight() == inFlight && s.valueBytes() == size) {
        for (Cell c : e.getValue().values()) {
          if (c.target.name.equals(target)) {
            return Optional.of(c);
          }
        }
      }
    }
    return Optional.empty();
  }

  private Optional<Cell> etcdCell(Scenario s) {
    return cells.get(s).values().stream()
        .filter(c -> c.target.kind == Target.Kind.ETCD)
        .findFirst();
  }

  private List<Check> checks() {
    List<Check> out = new ArrayList<>();
    // Writes are kube-apiserver's: create and update are Txns that Put (issue 17's "put" and
    // "txn").
    for (Op op : List.of(Op.CREATE, Op.UPDATE, Op.GET)) {
      ratio(out, "aesgcm", op, 64, "etcd", 0.90);
    }
    ratio(out, "aesgcm", Op.LIST, 64, "etcd", 0.70);
    ratio(out, "identity", Op.LIST, 64, "etcd", 0.95);
    ratio(out, "aesgcm", Op.WATCH, 1, "etcd", 0.80);
    ratio(out, "aesgcm", Op.WATCH, 16, "etcd", 0.80);
    for (Op op : List.of(Op.CREATE, Op.UPDATE, Op.GET, Op.LIST)) {
      Optional<Cell> gcm = cell(op, 16, Plan.KIB, "aesgcm");
      Optional<Cell> etcd = cell(op, 16, Plan.KIB, "etcd");
      if (gcm.isPresent() && etcd.isPresent()) {
        double added = (gcm.get().percentileMicros(99) - etcd.get().percentileMicros(99)) / 1000;
        out.add(
            new Check(
                "aesgcm " + op.label + " @16, 1 KiB: p99 added over direct etcd",
                String.format(
                    "%+.2f ms (%.2f vs %.2f ms)",
                    added,
                    gcm.get().percentileMicros(99) / 1000,
                    etcd.get().percentileMicros(99) / 1000),
                "< 1 ms",
                added < 1.0));
      }
    }
    for (Op op : List.of(Op.CREATE, Op.UPDATE, Op.GET, Op.LIST)) {
      ratio(out, "kmsv2", op, 64, "aesgcm", 0.95);
    }
    ratio(out, "kmsv2", Op.WATCH, 16, "aesgcm", 0.95);
    long peak = -1;
    String peakOf = "";
    for (Target t : targets) {
      if (t.isProxy() && rss.get(t)[1] > peak) {
        peak = rss.get(t)[1];
        peakOf = t.name;
      }
    }
    if (peak > 0) {
      out.add(
          new Check(
              "etcd-crypt-proxy peak RSS (VmHWM, worst provider)",
              String.format("%.0f MiB (%s)", peak / 1024.0, peakOf),
              "< 384 MiB",
              peak < 384 * 1024));
    }
    return out;
  }

  /** Adds "{@code target}'s throughput is at least {@code goal} of {@code base}'s" at 1 KiB. */
  private void ratio(
      List<Check> out, String target, Op op, int inFlight, String base, double goal) {
    Optional<Cell> measured = cell(op, inFlight, Plan.KIB, target);
    Optional<Cell> against = cell(op, inFlight, Plan.KIB, base);
    if (measured.isEmpty() || against.isEmpty()) {
      return;
    }
    double ratio = measured.get().throughput() / against.get().throughput();
    out.add(
        new Check(
            String.format(
                "%s %s @%d, 1 KiB: throughput vs %s",
                target, op.label, inFlight, base.equals("etcd") ? "direct etcd" : base),
            String.format(
                "%.2fx (%.0f vs %.0f /s)",
                ratio, measured.get().throughput(), against.get().throughput()),
            String.format(">= %.2fx", goal),
            ratio >= goal));
  }

  // ---- files ----

  void write(Path dir, String name) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(name + ".json"), Json.write(json()));
    Files.writeString(dir.resolve(name + ".md"), markdown(name));
    Chart.render(
        cells, targets, dir.resolve(name + ".png"), plan.name() + " run, " + Instant.now());
  }

  String summary() {
    StringBuilder b = new StringBuilder("\nIssue 17 targets:\n");
    for (Check c : checks) {
      b.append(
          String.format(
              "  [%s] %-62s %-34s goal %s%n",
              c.met() ? "met " : "MISS", c.what(), c.measured(), c.goal()));
    }
    return b.toString();
  }

  private Map<String, Object> json() {
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("plan", plan.name());
    root.put("finished", Instant.now().toString());
    root.put("duration_seconds", took.toSeconds());
    root.put("machine", machine);
    root.put("load_average_before", loadBefore);
    root.put("load_average_after", loadAfter);
    root.put("proxy_java_options", proxyJavaOpts);
    root.put(
        "slices",
        Map.of(
            "warmup_rounds",
            plan.warmupRounds(),
            "warmup_slice_ms",
            plan.warmupSliceMillis(),
            "rounds",
            plan.rounds(),
            "slice_ms",
            plan.sliceMillis()));
    List<Object> ts = new ArrayList<>();
    for (Target t : targets) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", t.name);
      m.put("kind", t.kind.name().toLowerCase());
      m.put("command", t.processCommand);
      m.put("rss_end_kib", rss.get(t)[0]);
      m.put("rss_peak_kib", rss.get(t)[1]);
      ts.add(m);
    }
    root.put("targets", ts);
    if (kmsPluginPid > 0) {
      root.put("kms_plugin_rss_peak_kib", Procs.peakRssKiB(kmsPluginPid));
    }
    List<Object> checksJson = new ArrayList<>();
    for (Check c : checks) {
      checksJson.add(
          Map.of("what", c.what(), "measured", c.measured(), "goal", c.goal(), "met", c.met()));
    }
    root.put("targets_of_issue_17", checksJson);
    List<Object> results = new ArrayList<>();
    for (Map.Entry<Scenario, Map<Target, Cell>> e : cells.entrySet()) {
      Scenario s = e.getKey();
      Cell base = etcdCell(s).orElse(null);
      for (Cell c : e.getValue().values()) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("op", s.op().label);
        m.put("in_flight", s.inFlight());
        m.put("value_bytes", s.valueBytes());
        m.put("target", c.target.name);
        m.put("ops", c.ops);
        m.put("errors", c.errors);
        m.put("seconds", c.nanos / 1e9);
        m.put("throughput_per_s", c.throughput());
        m.put("p50_us", c.percentileMicros(50));
        m.put("p99_us", c.percentileMicros(99));
        m.put("p999_us", c.percentileMicros(99.9));
        m.put("max_us", c.latency.getMaxValue() / 1000.0);
        m.put("mean_us", c.meanMicros());
        if (base != null && base.throughput() > 0) {
          m.put("throughput_vs_etcd", c.throughput() / base.throughput());
          m.put("p99_added_us", c.percentileMicros(99) - base.percentileMicros(99));
        }
        m.put("target_cpu_us_per_op", c.targetCpuMicrosPerOp());
        m.put("etcd_cpu_us_per_op", c.etcdCpuMicrosPerOp());
        m.put("loadgen_cpu_us_per_op", c.loadgenCpuMicrosPerOp());
        m.put("rss_max_kib", c.maxRssKiB);
        if (c.firstError != null) {
          m.put("first_error", c.firstError);
        }
        results.add(m);
      }
    }
    root.put("results", results);
    root.put("notes", notes);
    return root;
  }

  private String markdown(String name) {
    StringBuilder b = new StringBuilder();
    b.append("# etcd-crypt-proxy side-by-side benchmark: `").append(name).append("` run\n\n");
    b.append("Generated by `bench/run.sh")
        .append(plan.name().equals("quick") ? " --quick" : "")
        .append("`; see bench/README.md for how to read it. Chart: `")
        .append(name)
        .append(".png`, raw numbers: `")
        .append(name)
        .append(".json`.\n\n");
    b.append("| machine | |\n|---|---|\n");
    machine.forEach(
        (k, v) ->
            b.append("| ").append(k).append(" | ").append(v.replace("|", "\\|")).append(" |\n"));
    b.append("| load average before / after | ")
        .append(loadBefore)
        .append(" / ")
        .append(loadAfter)
        .append(" |\n");
    b.append("| run took | ").append(took.toSeconds()).append(" s |\n");
    b.append("| slices | ")
        .append(plan.warmupRounds())
        .append(" warm-up round(s) of ")
        .append(plan.warmupSliceMillis())
        .append(" ms, then ")
        .append(plan.rounds())
        .append(" rounds of ")
        .append(plan.sliceMillis())
        .append(" ms per target and scenario, targets interleaved (rotated order each round) |\n");
    b.append("| proxy JVM options | `").append(proxyJavaOpts).append("` |\n\n");
    b.append(
            "All processes (load generator, etcd, the proxy under test, and the idle other targets) share the same ")
        .append(machine.get("nproc"))
        .append(" CPUs: a proxy's throughput relative to direct etcd is decided by how ")
        .append("much CPU per request it takes away from etcd and the load generator.\n\n");

    b.append(
        "## Issue 17 targets (proxy level)\n\n| target | measured | goal | |\n|---|---|---|---|\n");
    for (Check c : checks) {
      b.append("| ")
          .append(c.what())
          .append(" | ")
          .append(c.measured())
          .append(" | ")
          .append(c.goal())
          .append(" | ")
          .append(c.met() ? "met" : "**missed**")
          .append(" |\n");
    }
    b.append(
            "\n## Results\n\nLatency in ms; `x etcd` is throughput relative to direct etcd; `+p99` is p99 added ")
        .append(
            "over direct etcd; CPU columns are CPU microseconds per operation of the target's own process, of ")
        .append(
            "etcd, and of the load generator. One operation is one request, except list (one 500-object page) ")
        .append("and watch (one event delivered to all 100 watchers; latency per delivery).\n");
    for (Map.Entry<Scenario, Map<Target, Cell>> e : cells.entrySet()) {
      Scenario s = e.getKey();
      Cell base = etcdCell(s).orElse(null);
      b.append("\n### ")
          .append(s.op().label)
          .append(", ")
          .append(s.inFlight())
          .append(" in flight, ")
          .append(Scenario.sizeLabel(s.valueBytes()))
          .append(" values (")
          .append(s.op().shape)
          .append(")\n\n");
      b.append(
          "| target | ops/s | x etcd | p50 | p99 | p99.9 | +p99 | proxy CPU us/op | etcd CPU us/op | loadgen CPU us/op | errors |\n");
      b.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
      for (Cell c : e.getValue().values()) {
        boolean hasBase = base != null && base.throughput() > 0;
        b.append(
            String.format(
                "| %s | %.0f | %s | %.2f | %.2f | %.2f | %s | %s | %.0f | %.0f | %d |%n",
                c.target.name,
                c.throughput(),
                hasBase ? String.format("%.2f", c.throughput() / base.throughput()) : "",
                c.percentileMicros(50) / 1000,
                c.percentileMicros(99) / 1000,
                c.percentileMicros(99.9) / 1000,
                hasBase && c != base
                    ? String.format(
                        "%+.2f", (c.percentileMicros(99) - base.percentileMicros(99)) / 1000)
                    : "",
                c.target.kind == Target.Kind.ETCD
                    ? ""
                    : String.format("%.0f", c.targetCpuMicrosPerOp()),
                c.etcdCpuMicrosPerOp(),
                c.loadgenCpuMicrosPerOp(),
                c.errors));
      }
    }
    b.append(
        "\n## Memory\n\n| target | RSS at end (MiB) | peak RSS, VmHWM (MiB) |\n|---|--:|--:|\n");
    for (Target t : targets) {
      b.append(
          String.format(
              "| %s | %.0f | %.0f |%n", t.name, rss.get(t)[0] / 1024.0, rss.get(t)[1] / 1024.0));
    }
    if (kmsPluginPid > 0) {
      b.append(
          String.format(
              "| (bundled KMS plugin) | | %.0f |%n", Procs.peakRssKiB(kmsPluginPid) / 1024.0));
    }
    if (!notes.isEmpty()) {
      b.append("\n## Notes\n\n");
      notes.forEach(n -> b.append("- ").append(n).append('\n'));
    }
    return b.toString();
  }
}
