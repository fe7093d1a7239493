package io.etcdcrypt.bench;

import java.util.LinkedHashMap;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * Everything measured for one (phase, operation, in flight, kube-apiserver) across the run's
 * slices, with the CPU time of each process involved.
 */
final class KubeCell {

  /** The processes whose CPU is read around each slice, in report order. */
  static final String[] PROCESSES = {"kube-apiserver", "proxy", "etcd", "kms-plugin", "driver"};

  final String phase;
  final KubeOp op;
  final int inFlight;
  final KubeCluster.Server server;
  final Histogram latency = new Histogram(3);
  final long[] cpuNanos = new long[PROCESSES.length];
  long ops;
  long errors;
  long nanos;
  long slices;
  String firstError;

  KubeCell(String phase, KubeOp op, int inFlight, KubeCluster.Server server) {
    this.phase = phase;
    this.op = op;
    this.inFlight = inFlight;
    this.server = server;
  }

  void add(SliceResult r, long[] cpu) {
    latency.add(r.latency());
    ops += r.ops();
    errors += r.errors();
    nanos += r.nanos();
    slices++;
    for (int i = 0; i < cpu.length; i++) {
      cpuNanos[i] += cpu[i];
    }
    if (firstError == null && r.firstError() != null) {
      firstError =
          r.firstError().length() > 300 ? r.firstError().substring(0, 300) : r.firstError();
    }
  }

  double throughput() {
    return nanos == 0 ? 0 : ops * 1e9 / nanos;
  }

  double percentileMillis(double p) {
    return latency.getTotalCount() == 0 ? 0 : latency.getValueAtPercentile(p) / 1e6;
  }

  /** CPU microseconds per operation of process {@code i} of {@link #PROCESSES}. */
  double cpuMicrosPerOp(int i) {
    return ops == 0 ? 0 : cpuNanos[i] / 1000.0 / ops;
  }

  double totalCpuMicrosPerOp() {
    double sum = 0;
    for (int i = 0; i < PROCESSES.length; i++) {
      sum += cpuMicrosPerOp(i);
    }
    return sum;
  }

  /** CPU per op of the servers only (kube-apiserver, proxy, etcd, plugin): not the driver's. */
  double serverCpuMicrosPerOp() {
    return totalCpuMicrosPerOp() - cpuMicrosPerOp(PROCESSES.length - 1);
  }

  Map<String, Object> toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("phase", phase);
    m.put("op", op.label);
    m.put("in_flight", inFlight);
    m.put("setup", server.name);
    m.put("provider", server.provider);
    m.put("via_proxy", server.viaProxy);
    m.put("ops", ops);
    m.put("errors", errors);
    m.put("slices", slices);
    m.put("seconds", nanos / 1e9);
    m.put("ops_per_s", throughput());
    m.put("p50_ms", percentileMillis(50));
    m.put("p99_ms", percentileMillis(99));
    m.put("p999_ms", percentileMillis(99.9));
    m.put("max_ms", latency.getTotalCount() == 0 ? 0.0 : latency.getMaxValue() / 1e6);
    Map<String, Object> cpu = new LinkedHashMap<>();
    for (int i = 0; i < PROCESSES.length; i++) {
      cpu.put(PROCESSES[i], cpuMicrosPerOp(i));
    }
    m.put("cpu_us_per_op", cpu);
    m.put("first_error", firstError);
    return m;
  }
}
