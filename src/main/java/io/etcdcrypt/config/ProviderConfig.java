package io.etcdcrypt.config;

import java.time.Duration;
import java.util.List;

/** One entry of a resource rule's {@code providers:} list, after validation and defaulting. */
public sealed interface ProviderConfig {

  /**
   * The name used in logs and metrics, e.g. {@code aesgcm} or {@code kms:v2:my-kms}. Never key
   * material.
   */
  String describe();

  record Identity() implements ProviderConfig {
    @Override
    public String describe() {
      return "identity";
    }
  }

  record AesCbc(List<KeyConfig> keys) implements ProviderConfig {
    public AesCbc {
      keys = List.copyOf(keys);
    }

    @Override
    public String describe() {
      return "aescbc";
    }
  }

  record AesGcm(List<KeyConfig> keys) implements ProviderConfig {
    public AesGcm {
      keys = List.copyOf(keys);
    }

    @Override
    public String describe() {
      return "aesgcm";
    }
  }

  record Secretbox(List<KeyConfig> keys) implements ProviderConfig {
    public Secretbox {
      keys = List.copyOf(keys);
    }

    @Override
    public String describe() {
      return "secretbox";
    }
  }

  /**
   * A KMS plugin. {@code apiVersion} is {@code v1} or {@code v2}; {@code cacheSize} is only
   * meaningful for v1 (negative disables the cache); {@code endpoint} is the {@code unix://} URL of
   * the plugin's socket.
   */
  record Kms(
      KmsApiVersion apiVersion, String name, String endpoint, int cacheSize, Duration timeout)
      implements ProviderConfig {
    @Override
    public String describe() {
      return "kms:" + apiVersion + ":" + name;
    }
  }
}
