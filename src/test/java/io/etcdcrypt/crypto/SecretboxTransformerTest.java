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

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SecretboxTransformerTest {

  private static final byte[] KEY = counting(32, 0);
  private static final String OPEN_FAILED = "output array was not large enough for encryption";

  @Test
  void roundTripsEveryPlaintextSize() throws Exception {
    SecretboxTransformer box = new SecretboxTransformer(KEY);
    for (int size : PLAINTEXT_SIZES) {
      byte[] plaintext = pseudoRandom(size, size);
      byte[] stored = box.seal(plaintext, ETCD_KEY);
      assertEquals(size + 40, stored.length, "nonce 24 + tag 16 for plaintext of " + size);
      Decrypted d = box.open(stored, ETCD_KEY);
      assertArrayEquals(plaintext, d.plaintext(), "plaintext of " + size);
      assertFalse(d.stale());
    }
  }

  @Test
  void detectsAFlipInEveryByteOfNonceTagAndCiphertext() throws Exception {
    SecretboxTransformer box = new SecretboxTransformer(KEY);
    byte[] stored = box.seal(pseudoRandom(30, 5), ETCD_KEY);
    for (int i = 0; i < stored.length; i++) {
      byte[] tampered = stored.clone();
      tampered[i] ^= 1;
      assertFails(box, tampered, OPEN_FAILED);
    }
  }

  @Test
  void doesNotOpenWithAnotherKey() throws Exception {
    byte[] stored = new SecretboxTransformer(KEY).seal(new byte[8], ETCD_KEY);
    assertFails(new SecretboxTransformer(counting(32, 1)), stored, OPEN_FAILED);
  }

  @Test
  void rejectsValuesShorterThanNonceAndTag() {
    SecretboxTransformer box = new SecretboxTransformer(KEY);
    for (int n = 0; n < 40; n++) {
      assertFails(box, new byte[n], "the stored data was shorter than the required size");
    }
  }

  @Test
  void ignoresTheEtcdKeyBecauseSecretboxHasNoAssociatedData() throws Exception {
    SecretboxTransformer box = new SecretboxTransformer(KEY);
    byte[] stored = box.seal(TestBytes.utf8("moved"), ETCD_KEY);
    assertArrayEquals(TestBytes.utf8("moved"), box.open(stored, OTHER_ETCD_KEY).plaintext());
  }

  @Test
  void sameKeyAndNonceGiveTheSameBytesAndFreshNoncesDiffer() throws Exception {
    byte[] nonce = counting(24, 0x80);
    byte[] plaintext = pseudoRandom(70, 6);
    byte[] a = new SecretboxTransformer(KEY, pinnedTo(nonce)).seal(plaintext, ETCD_KEY);
    assertArrayEquals(a, new SecretboxTransformer(KEY, pinnedTo(nonce)).seal(plaintext, ETCD_KEY));
    assertArrayEquals(nonce, Arrays.copyOf(a, 24));

    SecretboxTransformer random = new SecretboxTransformer(KEY);
    byte[] b = random.seal(plaintext, ETCD_KEY);
    byte[] c = random.seal(plaintext, ETCD_KEY);
    assertFalse(Arrays.equals(Arrays.copyOf(b, 24), Arrays.copyOf(c, 24)));
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 16, 24, 31, 33})
  void acceptsOnly32ByteKeys(int size) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> new SecretboxTransformer(new byte[size]));
    assertTrue(
        e.getMessage().startsWith("expected key size 32 for secretbox provider, got " + size),
        e.getMessage());
  }

  @Test
  void keepsItsOwnCopyOfTheKey() throws Exception {
    byte[] key = KEY.clone();
    SecretboxTransformer box = new SecretboxTransformer(key);
    byte[] stored = box.seal(new byte[4], ETCD_KEY);
    Arrays.fill(key, (byte) 0);
    assertArrayEquals(new byte[4], box.open(stored, ETCD_KEY).plaintext());
  }

  private static void assertFails(LocalTransformer t, byte[] stored, String message) {
    TransformException e = assertThrows(TransformException.class, () -> t.open(stored, ETCD_KEY));
    assertEquals(message, e.getMessage());
  }
}
