package io.etcdcrypt.bench;

import org.HdrHistogram.Histogram;

/**
 * What one slice measured: completed operations, failed ones, wall time, and latencies in
 * nanoseconds.
 */
record SliceResult(long ops, long errors, long nanos, Histogram latency, String firstError) {}
