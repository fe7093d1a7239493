package io.etcdcrypt.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The per-PRK expander KMS v2 derives its per-value keys with: the same bytes as the one-shot
 * HKDF-Expand.
 */
class HkdfExpanderTest {

  private static final HexFormat HEX = HexFormat.of();

  @Test
  void matchesRfc5869Case1ExpandStep() {
    // RFC 5869 A.1: PRK and info given, L = 42 (two HMAC blocks).
    byte[] prk = HEX.parseHex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    byte[] info = HEX.parseHex("f0f1f2f3f4f5f6f7f8f9");
    Hkdf.Sha256Expander expander = new Hkdf.Sha256Expander(prk);
    assertEquals(
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        HEX.formatHex(expander.expand(info, 42)));
  }

  @Test
  void repeatedAndConcurrentExpansionsEqualTheOneShotFunction() throws Exception {
    byte[] seed = new byte[32];
    for (int i = 0; i < seed.length; i++) {
      seed[i] = (byte) (7 * i + 1);
    }
    Hkdf.Sha256Expander expander = new Hkdf.Sha256Expander(seed);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Boolean>> results = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int thread = t;
        results.add(
            pool.submit(
                () -> {
                  for (int i = 0; i < 200; i++) {
                    byte[] info = new byte[32];
                    info[0] = (byte) thread;
                    info[1] = (byte) i;
                    if (!java.util.Arrays.equals(
                        Hkdf.expandSha256(seed, info, 32), expander.expand(info, 32))) {
                      return false;
                    }
                  }
                  return true;
                }));
      }
      for (Future<Boolean> r : results) {
        assertTrue(r.get(30, TimeUnit.SECONDS));
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void differentInfoGivesDifferentKeysAndTheSeedIsCopied() {
    byte[] seed = new byte[32];
    Hkdf.Sha256Expander expander = new Hkdf.Sha256Expander(seed);
    byte[] before = expander.expand(new byte[] {1}, 32);
    seed[0] = 42; // the caller's array changing must not change the expander's key
    assertArrayEquals(before, expander.expand(new byte[] {1}, 32));
    assertFalse(java.util.Arrays.equals(before, expander.expand(new byte[] {2}, 32)));
  }

  @Test
  void refusesAnEmptyPrkAndRedactsIt() {
    assertThrows(IllegalArgumentException.class, () -> new Hkdf.Sha256Expander(new byte[0]));
    assertEquals(
        "Hkdf.Sha256Expander[prk redacted]", new Hkdf.Sha256Expander(new byte[32]).toString());
  }
}
