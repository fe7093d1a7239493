package io.etcdcrypt.bench;

/** The kube-apiserver-shaped requests the harness sends. */
enum Op {
  /** Txn(MOD(key) == 0, Put): kube-apiserver's create. */
  CREATE("create", "Txn MOD==0 then Put"),
  /** Txn(MOD(key) == rev, Put, else Range): kube-apiserver's GuaranteedUpdate. */
  UPDATE("update", "Txn MOD==rev then Put else Range"),
  /** Range of one key, limit 1, linearizable: kube-apiserver's get. */
  GET("get", "Range key limit 1"),
  /**
   * One page (limit 500) of a paginated list over 10,000 objects, continuing at the first page's
   * revision.
   */
  LIST("list", "Range page limit 500 of 10,000 objects"),
  /**
   * One writer, 100 watch streams on the prefix; latency is Put sent to event received, per
   * watcher.
   */
  WATCH("watch", "1 writer -> 100 watchers");

  final String label;
  final String shape;

  Op(String label, String shape) {
    this.label = label;
    this.shape = shape;
  }
}
