package io.etcdcrypt.crypto;

import io.etcdcrypt.config.KeyConfig;
import io.etcdcrypt.config.ProviderConfig;
import java.util.List;

/** Short builders for provider configurations in tests; keys are {@code counting(size, seed)}. */
final class Providers {

  private Providers() {}

  static KeyConfig key(String name, int seed) {
    return new KeyConfig(name, TestBytes.counting(32, seed));
  }

  static ProviderConfig aesgcm(KeyConfig... keys) {
    return new ProviderConfig.AesGcm(List.of(keys));
  }

  static ProviderConfig aescbc(KeyConfig... keys) {
    return new ProviderConfig.AesCbc(List.of(keys));
  }

  static ProviderConfig secretbox(KeyConfig... keys) {
    return new ProviderConfig.Secretbox(List.of(keys));
  }

  static ProviderConfig identity() {
    return new ProviderConfig.Identity();
  }

  /** The chain kube-apiserver would build for this {@code providers:} list (no KMS). */
  static PrefixTransformers chain(ProviderConfig... providers) throws TransformException {
    return ProviderChains.forProviders(List.of(providers), KmsTransformerFactory.UNAVAILABLE);
  }
}
