package io.etcdcrypt.config;

/**
 * How to validate a configuration.
 *
 * @param automaticReload true when the file is (re)loaded with kube-apiserver's {@code
 *     --encryption-provider-config-automatic-reload} semantics: KMS v1 provider names must then be
 *     unique too, not only v2 names
 */
public record LoadOptions(boolean automaticReload) {

  /** Load-once semantics, kube-apiserver's default. */
  public static LoadOptions defaults() {
    return new LoadOptions(false);
  }
}
