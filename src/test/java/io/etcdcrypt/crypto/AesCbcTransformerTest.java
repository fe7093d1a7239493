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
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AesCbcTransformerTest {

  private static final byte[] KEY = counting(32, 0);
  private static final byte[] IV = counting(16, 0x40);

  @ParameterizedTest
  @ValueSource(ints = {16, 24, 32})
  void roundTripsEveryKeySizeAndPlaintextSize(int keySize) throws Exception {
    AesCbcTransformer cbc = new AesCbcTransformer(counting(keySize, 7));
    for (int size : PLAINTEXT_SIZES) {
      byte[] plaintext = pseudoRandom(size, size);
      byte[] stored = cbc.seal(plaintext, ETCD_KEY);
      // IV + plaintext + 1..16 bytes of padding (a whole block when the length is a multiple of
      // 16).
      assertEquals(
          16 + size + (16 - size % 16), stored.length, "stored size for plaintext of " + size);
      Decrypted d = cbc.open(stored, ETCD_KEY);
      assertArrayEquals(plaintext, d.plaintext(), "plaintext of " + size);
      assertFalse(d.stale());
    }
  }

  @Test
  void drawsAFreshIvForEveryWrite() throws Exception {
    AesCbcTransformer cbc = new AesCbcTransformer(KEY);
    byte[] first = cbc.seal(new byte[10], ETCD_KEY);
    byte[] second = cbc.seal(new byte[10], ETCD_KEY);
    assertFalse(Arrays.equals(Arrays.copyOf(first, 16), Arrays.copyOf(second, 16)));
  }

  @Test
  void ignoresTheEtcdKeyBecauseCbcHasNoAssociatedData() throws Exception {
    AesCbcTransformer cbc = new AesCbcTransformer(KEY);
    byte[] stored = cbc.seal(TestBytes.utf8("moved"), ETCD_KEY);
    assertArrayEquals(TestBytes.utf8("moved"), cbc.open(stored, OTHER_ETCD_KEY).plaintext());
  }

  @Test
  void rejectsValuesShorterThanAnIv() {
    AesCbcTransformer cbc = new AesCbcTransformer(KEY);
    for (int n = 0; n < 16; n++) {
      assertFails(cbc, new byte[n], "the stored data was shorter than the required size");
    }
  }

  @Test
  void rejectsPartialBlocks() {
    assertFails(
        new AesCbcTransformer(KEY),
        new byte[16 + 17],
        "the stored data is not a multiple of the block size");
  }

  @Test
  void rejectsAnIvWithoutCiphertext() {
    assertFails(
        new AesCbcTransformer(KEY), new byte[16], "invalid PKCS7 data (empty or not padded)");
  }

  @Test
  void reportsPaddingErrorsWithUpstreamMessages() throws Exception {
    byte[] zeroPad = new byte[16];
    assertFails(
        new AesCbcTransformer(KEY), rawCbc(zeroPad), "invalid PKCS7 data (empty or not padded)");

    byte[] tooLong = new byte[16];
    tooLong[15] = 17;
    assertFails(
        new AesCbcTransformer(KEY), rawCbc(tooLong), "invalid PKCS7 data (empty or not padded)");

    byte[] inconsistent = new byte[16];
    inconsistent[14] = 1;
    inconsistent[15] = 2;
    assertFails(new AesCbcTransformer(KEY), rawCbc(inconsistent), "invalid padding on input");
  }

  @Test
  void acceptsPaddingLongerThanABlockLikeUpstream() throws Exception {
    // Upstream checks 1 <= p <= len(data), not p <= 16: two blocks of 0x20 bytes decrypt to an
    // empty plaintext.
    byte[] twoBlocksOfPadding = new byte[32];
    Arrays.fill(twoBlocksOfPadding, (byte) 32);
    Decrypted d = new AesCbcTransformer(KEY).open(rawCbc(twoBlocksOfPadding), ETCD_KEY);
    assertEquals(0, d.plaintext().length);
  }

  @Test
  void detectsTamperingOnlyWhenItBreaksThePadding() throws Exception {
    byte[] plaintext =
        pseudoRandom(55, 1); // 7 bytes in the last block, then 9 bytes of padding 0x09
    byte[] stored = new AesCbcTransformer(KEY, pinnedTo(IV)).seal(plaintext, ETCD_KEY);

    // Flipping the low bit of the second-to-last block's last byte turns the final padding byte 9
    // into 8.
    byte[] paddingBroken = stored.clone();
    paddingBroken[stored.length - 17] ^= 1;
    assertFails(new AesCbcTransformer(KEY), paddingBroken, "invalid padding on input");

    // Without a MAC, a flipped IV bit silently flips the same plaintext bit: the weakness upstream
    // documents.
    byte[] ivFlipped = stored.clone();
    ivFlipped[0] ^= 1;
    byte[] opened = new AesCbcTransformer(KEY).open(ivFlipped, ETCD_KEY).plaintext();
    assertEquals(plaintext[0] ^ 1, opened[0]);
    assertArrayEquals(Arrays.copyOfRange(plaintext, 1, 55), Arrays.copyOfRange(opened, 1, 55));
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 8, 15, 17, 31, 33, 64})
  void rejectsKeysThatAreNotAes128Or192Or256(int size) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new AesCbcTransformer(new byte[size]));
    assertTrue(e.getMessage().contains("invalid AES key size " + size), e.getMessage());
  }

  @Test
  void toStringRedactsTheKey() {
    assertEquals(
        "AesCbcTransformer[AES-256-CBC, key redacted]", new AesCbcTransformer(KEY).toString());
  }

  /**
   * {@code IV || AES-CBC-NoPadding(KEY, IV, blocks)}: lets a test choose the decrypted padding
   * bytes.
   */
  private static byte[] rawCbc(byte[] blocks) throws Exception {
    Cipher c = Cipher.getInstance("AES/CBC/NoPadding");
    c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(KEY, "AES"), new IvParameterSpec(IV));
    byte[] body = c.doFinal(blocks);
    byte[] out = Arrays.copyOf(IV, 16 + body.length);
    System.arraycopy(body, 0, out, 16, body.length);
    return out;
  }

  private static void assertFails(LocalTransformer t, byte[] stored, String message) {
    TransformException e = assertThrows(TransformException.class, () -> t.open(stored, ETCD_KEY));
    assertEquals(message, e.getMessage());
  }
}
