package io.etcdcrypt.bench;

/**
 * One cell of the matrix, measured on every target: an operation at a number of requests in flight
 * with values of one size. For WATCH, {@code inFlight} is the writer's window: events written but
 * not yet received by every watcher.
 */
record Scenario(Op op, int inFlight, int valueBytes) {

  String id() {
    return op.label + "/" + inFlight + "/" + sizeLabel(valueBytes);
  }

  static String sizeLabel(int bytes) {
    return bytes % 1024 == 0 ? (bytes / 1024) + "KiB" : bytes + "B";
  }
}
