package io.etcdcrypt.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Random;

/** Deterministic inputs (bytes, keys, nonces) for the crypto tests. */
final class TestBytes {

  static final byte[] ETCD_KEY = utf8("/registry/secrets/default/foo");
  static final byte[] OTHER_ETCD_KEY = utf8("/registry/secrets/default/bar");
  static final int MIB = 1 << 20;

  /**
   * Plaintext lengths worth covering: empty, around the AES block size, a typical object, and 1
   * MiB.
   */
  static final int[] PLAINTEXT_SIZES = {0, 1, 15, 16, 17, 55, 4096, MIB};

  private TestBytes() {}

  /** {@code n} bytes counting up from {@code first}: the key shapes of the shared vectors. */
  static byte[] counting(int n, int first) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (first + i);
    }
    return b;
  }

  /** {@code n} pseudo-random bytes, the same for the same seed. */
  static byte[] pseudoRandom(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  /**
   * Hands out {@code nonce}, and fails the test if a transformer asks for a nonce of another size.
   */
  static NonceSource pinnedTo(byte[] nonce) {
    return out -> {
      assertEquals(nonce.length, out.length, "nonce size");
      System.arraycopy(nonce, 0, out, 0, nonce.length);
    };
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
