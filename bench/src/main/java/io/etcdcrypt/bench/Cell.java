package io.etcdcrypt.bench;

import org.HdrHistogram.Histogram;

/** Everything measured for one (scenario, target) across the run's slices. */
final class Cell {

  final Scenario scenario;
  final Target target;
  final Histogram latency = new Histogram(3);
  long ops;
  long errors;
  long nanos;
  long slices;
  long targetCpuNanos;
  long etcdCpuNanos;
  long loadgenCpuNanos;
  long maxRssKiB = -1;
  String firstError;

  Cell(Scenario scenario, Target target) {
    this.scenario = scenario;
    this.target = target;
  }

  void add(SliceResult r, long targetCpu, long etcdCpu, long loadgenCpu, long rssKiB) {
    latency.add(r.latency());
    ops += r.ops();
    errors += r.errors();
    nanos += r.nanos();
    slices++;
    targetCpuNanos += targetCpu;
    etcdCpuNanos += etcdCpu;
    loadgenCpuNanos += loadgenCpu;
    maxRssKiB = Math.max(maxRssKiB, rssKiB);
    if (firstError == null) {
      firstError = r.firstError();
    }
  }

  double throughput() {
    return nanos == 0 ? 0 : ops * 1e9 / nanos;
  }

  /** Latency percentile in microseconds. */
  double percentileMicros(double p) {
    return latency.getTotalCount() == 0 ? 0 : latency.getValueAtPercentile(p) / 1000.0;
  }

  double meanMicros() {
    return latency.getTotalCount() == 0 ? 0 : latency.getMean() / 1000.0;
  }

  /** CPU microseconds per operation spent by the target's own process (for direct etcd: etcd). */
  double targetCpuMicrosPerOp() {
    return ops == 0 ? 0 : targetCpuNanos / 1000.0 / ops;
  }

  double etcdCpuMicrosPerOp() {
    return ops == 0 ? 0 : etcdCpuNanos / 1000.0 / ops;
  }

  double loadgenCpuMicrosPerOp() {
    return ops == 0 ? 0 : loadgenCpuNanos / 1000.0 / ops;
  }
}
