package io.etcdcrypt.crypto;

import static io.etcdcrypt.crypto.TestBytes.ETCD_KEY;
import static io.etcdcrypt.crypto.TestBytes.OTHER_ETCD_KEY;
import static io.etcdcrypt.crypto.TestBytes.PLAINTEXT_SIZES;
import static io.etcdcrypt.crypto.TestBytes.counting;
import static io.etcdcrypt.crypto.TestBytes.pinnedTo;
import static io.etcdcrypt.crypto.TestBytes.pseudoRandom;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AesGcmTransformerTest {

  private static final byte[] KEY = counting(32, 0);
  private static final byte[] NONCE = counting(12, 0x60);
  private static final String AUTH_FAILED = "cipher: message authentication failed";

  @ParameterizedTest
  @ValueSource(ints = {16, 24, 32})
  void roundTripsEveryKeySizeAndPlaintextSize(int keySize) throws Exception {
    AesGcmTransformer gcm = new AesGcmTransformer(counting(keySize, 3));
    for (int size : PLAINTEXT_SIZES) {
      byte[] plaintext = pseudoRandom(size, size);
      byte[] stored = gcm.seal(plaintext, ETCD_KEY);
      assertEquals(size + 28, stored.length, "nonce 12 + tag 16 for plaintext of " + size);
      Decrypted d = gcm.open(stored, ETCD_KEY);
      assertArrayEquals(plaintext, d.plaintext(), "plaintext of " + size);
      assertFalse(d.stale());
    }
  }

  @Test
  void bindsTheValueToItsEtcdKey() throws Exception {
    AesGcmTransformer gcm = new AesGcmTransformer(KEY);
    byte[] stored = gcm.seal(TestBytes.utf8("secret"), ETCD_KEY);
    assertFails(gcm, stored, OTHER_ETCD_KEY, AUTH_FAILED);
  }

  @Test
  void detectsAFlipInEveryByteOfNonceCiphertextAndTag() throws Exception {
    AesGcmTransformer gcm = new AesGcmTransformer(KEY);
    byte[] stored = gcm.seal(pseudoRandom(20, 9), ETCD_KEY);
    for (int i = 0; i < stored.length; i++) {
      byte[] tampered = stored.clone();
      tampered[i] ^= (byte) 0x80;
      assertFails(gcm, tampered, ETCD_KEY, AUTH_FAILED);
    }
  }

  @Test
  void doesNotOpenWithAnotherKey() throws Exception {
    byte[] stored = new AesGcmTransformer(KEY).seal(new byte[5], ETCD_KEY);
    assertFails(new AesGcmTransformer(counting(32, 1)), stored, ETCD_KEY, AUTH_FAILED);
  }

  @Test
  void rejectsTruncatedValues() {
    AesGcmTransformer gcm = new AesGcmTransformer(KEY);
    for (int n = 0; n < 12; n++) {
      assertFails(gcm, new byte[n], ETCD_KEY, "the stored data was shorter than the required size");
    }
    for (int n = 12;
        n < 28;
        n++) { // a nonce but no room for a tag: GCM's own authentication failure
      assertFails(gcm, new byte[n], ETCD_KEY, AUTH_FAILED);
    }
  }

  @Test
  void drawsAFreshNonceForEveryWrite() throws Exception {
    AesGcmTransformer gcm = new AesGcmTransformer(KEY);
    Set<ByteBuffer> nonces = new HashSet<>();
    for (int i = 0; i < 200; i++) {
      nonces.add(ByteBuffer.wrap(Arrays.copyOf(gcm.seal(new byte[1], ETCD_KEY), 12)));
    }
    assertEquals(200, nonces.size());
  }

  @Test
  void sameKeyAndNonceGiveTheSameBytes() throws Exception {
    byte[] plaintext = pseudoRandom(100, 4);
    byte[] a = new AesGcmTransformer(KEY, pinnedTo(NONCE)).seal(plaintext, ETCD_KEY);
    byte[] b = new AesGcmTransformer(KEY, pinnedTo(NONCE)).seal(plaintext, ETCD_KEY);
    assertArrayEquals(a, b);
    assertArrayEquals(NONCE, Arrays.copyOf(a, 12));
  }

  @Test
  void refusesToSealTwiceInARowWithTheSameNonce() throws Exception {
    AesGcmTransformer gcm = new AesGcmTransformer(KEY, pinnedTo(NONCE));
    gcm.seal(new byte[3], ETCD_KEY);
    TransformException e =
        assertThrows(TransformException.class, () -> gcm.seal(new byte[3], ETCD_KEY));
    assertTrue(e.getMessage().contains("reuse"), e.getMessage());
  }

  @Test
  void servesManyThreadsAtOnce() throws Exception {
    AesGcmTransformer gcm = new AesGcmTransformer(KEY);
    Thread[] threads = new Thread[4];
    Throwable[] failure = new Throwable[1];
    for (int t = 0; t < threads.length; t++) {
      int seed = t;
      threads[t] =
          new Thread(
              () -> {
                try {
                  for (int i = 0; i < 500; i++) {
                    byte[] plaintext = pseudoRandom(64 + i, seed * 1000L + i);
                    assertArrayEquals(
                        plaintext, gcm.open(gcm.seal(plaintext, ETCD_KEY), ETCD_KEY).plaintext());
                  }
                } catch (Throwable e) {
                  synchronized (failure) {
                    failure[0] = e;
                  }
                }
              });
      threads[t].start();
    }
    for (Thread t : threads) {
      t.join(30_000);
      if (t.isAlive()) {
        throw new AssertionError(t.getName() + " did not finish within 30 s");
      }
    }
    synchronized (failure) {
      if (failure[0] != null) {
        throw new AssertionError("a thread failed", failure[0]);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 12, 20, 31, 33})
  void rejectsKeysThatAreNotAes128Or192Or256(int size) {
    assertThrows(IllegalArgumentException.class, () -> new AesGcmTransformer(new byte[size]));
  }

  @Test
  void toStringRedactsTheKey() {
    assertEquals(
        "AesGcmTransformer[AesGcm[AES-128-GCM, key redacted]]",
        new AesGcmTransformer(new byte[16]).toString());
  }

  private static void assertFails(LocalTransformer t, byte[] stored, byte[] aad, String message) {
    TransformException e = assertThrows(TransformException.class, () -> t.open(stored, aad));
    assertEquals(message, e.getMessage());
  }
}
