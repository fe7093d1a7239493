package io.etcdcrypt.config;

import java.util.Arrays;

/**
 * One named key of an aescbc, aesgcm or secretbox provider; {@code secret} is the base64-decoded
 * key.
 */
public record KeyConfig(String name, byte[] secret) {

  public KeyConfig {
    secret = secret.clone();
  }

  @Override
  public byte[] secret() {
    return secret.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof KeyConfig k && k.name.equals(name) && Arrays.equals(k.secret, secret);
  }

  @Override
  public int hashCode() {
    return name.hashCode();
  }

  @Override
  public String toString() {
    return "KeyConfig[name=" + name + ", secret=<" + secret.length + " bytes redacted>]";
  }
}
