package io.etcdcrypt.bench;

/** The Secret operations the kube-apiserver benchmark drives through the API. */
enum KubeOp {
  CREATE("create", "POST a new Secret"),
  UPDATE("update", "PUT a Secret with its resourceVersion"),
  GET("get", "GET a Secret (resourceVersion unset)"),
  LIST("list", "one page, limit=500, of a list over 10,000 Secrets (continue token)");

  final String label;
  final String shape;

  KubeOp(String label, String shape) {
    this.label = label;
    this.shape = shape;
  }
}
