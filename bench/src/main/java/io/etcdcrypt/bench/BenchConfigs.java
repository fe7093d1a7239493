package io.etcdcrypt.bench;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;

/** The EncryptionConfiguration each proxy reads: secrets under one provider, identity after it. */
public final class BenchConfigs {
  private BenchConfigs() {}

  public static String encryptionConfig(String provider, Path kmsSocket) {
    String key = Base64.getEncoder().encodeToString(random(32));
    String first =
        switch (provider) {
          case "identity" -> "      - identity: {}\n";
          case "aescbc", "aesgcm", "secretbox" ->
              "      - "
                  + provider
                  + ":\n          keys:\n            - name: bench-key\n              secret: "
                  + key
                  + "\n";
          case "kmsv2" ->
              "      - kms:\n          apiVersion: v2\n          name: bench-kms-v2\n          endpoint: unix://"
                  + kmsSocket
                  + "\n          timeout: 3s\n";
          case "kmsv1" ->
              "      - kms:\n          apiVersion: v1\n          name: bench-kms-v1\n          endpoint: unix://"
                  + kmsSocket
                  + "\n          cachesize: 1000\n          timeout: 3s\n";
          default -> throw new IllegalArgumentException(provider);
        };
    String identity = provider.equals("identity") ? "" : "      - identity: {}\n";
    return "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
        + "  - resources: [secrets]\n    providers:\n"
        + first
        + identity;
  }

  private static byte[] random(int n) {
    byte[] b = new byte[n];
    new SecureRandom().nextBytes(b);
    return b;
  }
}
