package io.etcdcrypt.config;

import java.util.Optional;

/**
 * The KMS plugin API a {@code kms} provider speaks, its {@code apiVersion}. It also names the
 * provider's stored prefix ({@code k8s:enc:kms:v1:<name>:}, {@code k8s:enc:kms:v2:<name>:}).
 */
public enum KmsApiVersion {
  /**
   * The deprecated envelope API of {@code v1beta1} plugins: one plugin Encrypt per write.
   * kube-apiserver 1.29+ reads such a configuration only with its KMSv1 feature gate.
   */
  V1("v1"),
  /** The current API: one seed per key id, a Decrypt per distinct seed. */
  V2("v2");

  private final String text;

  KmsApiVersion(String text) {
    this.text = text;
  }

  /** As the configuration spells it: {@code v1} or {@code v2}. */
  public String text() {
    return text;
  }

  /** The version spelled {@code text}, or empty for anything else. */
  public static Optional<KmsApiVersion> parse(String text) {
    for (KmsApiVersion v : values()) {
      if (v.text.equals(text)) {
        return Optional.of(v);
      }
    }
    return Optional.empty();
  }

  @Override
  public String toString() {
    return text;
  }
}
