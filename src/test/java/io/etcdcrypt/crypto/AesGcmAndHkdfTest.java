package io.etcdcrypt.crypto;

import static io.etcdcrypt.crypto.TestBytes.ETCD_KEY;
import static io.etcdcrypt.crypto.TestBytes.counting;
import static io.etcdcrypt.crypto.TestBytes.pseudoRandom;
import static io.etcdcrypt.crypto.TestBytes.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.HexFormat;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/** The building blocks the KMS providers reuse: the GCM body helper and HKDF-Expand. */
class AesGcmAndHkdfTest {

  private static final HexFormat HEX = HexFormat.of();

  @Test
  void oneShotAndWarmHelpersAgree() throws Exception {
    byte[] key = counting(32, 0xa0);
    byte[] nonce = counting(12, 0x70);
    byte[] plaintext = pseudoRandom(300, 2);
    byte[] sealed = AesGcm.seal(new SecretKeySpec(key, "AES"), nonce, plaintext, ETCD_KEY);
    assertEquals(12 + 300 + 16, sealed.length);
    assertArrayEquals(nonce, Arrays.copyOf(sealed, 12));
    assertArrayEquals(plaintext, AesGcm.forKey(key).open(sealed, ETCD_KEY));
    assertArrayEquals(plaintext, AesGcm.open(new SecretKeySpec(key, "AES"), sealed, ETCD_KEY));
    assertArrayEquals(sealed, AesGcm.forKey(key).seal(nonce, plaintext, ETCD_KEY));
  }

  @Test
  void opensABodyAtAnOffset() throws Exception {
    AesGcm gcm = AesGcm.forKey(counting(32, 0));
    byte[] body = gcm.seal(utf8("after a header"), ETCD_KEY);
    byte[] framed = new byte[32 + body.length];
    System.arraycopy(body, 0, framed, 32, body.length);
    assertArrayEquals(utf8("after a header"), gcm.open(framed, 32, ETCD_KEY));
    TransformException e =
        assertThrows(
            TransformException.class, () -> gcm.open(framed, framed.length - 11, ETCD_KEY));
    assertEquals("the stored data was shorter than the required size", e.getMessage());
  }

  @Test
  void refusesNoncesOfTheWrongSize() {
    AesGcm gcm = AesGcm.forKey(new byte[16]);
    assertThrows(
        IllegalArgumentException.class, () -> gcm.seal(new byte[16], new byte[1], ETCD_KEY));
  }

  @Test
  void hkdfExpandMatchesRfc5869TestCase1() {
    byte[] prk = HEX.parseHex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    byte[] info = HEX.parseHex("f0f1f2f3f4f5f6f7f8f9");
    assertEquals(
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        HEX.formatHex(Hkdf.expandSha256(prk, info, 42)));
  }

  @Test
  void hkdfDerivesTheKeyOfUpstreamsRecordedExtendedNonceBody() throws Exception {
    // encryption-format.md §8.1 V2 (aes_test.go TestExtendedNonceGCMLegacyDataCompatibility).
    byte[] seed = HEX.parseHex("5d40323a820ff95561675e3b95e81867c5fdd561d35a88a2d08b08aa9d4fcf5c");
    byte[] body =
        HEX.parseHex(
            "2442759e33945fbad709db577a0f037fd8a709fc76979b8942209debcecb9d57"
                + "efe3d6ff6a1ef6ee9a5003b9833b3043cec1e47b35175b151107a8d2416b0e29"
                + "6bbf66b5d102fcefdf9a78f293d271");
    byte[] key = Hkdf.expandSha256(seed, Arrays.copyOf(body, 32), 32);
    assertEquals(
        "6e58b7659c304b0c382f42f16bd700465def1dead80bf6f1bf1d52073bdb0c00", HEX.formatHex(key));
    assertArrayEquals(
        utf8("pandas are the best"), AesGcm.forKey(key).open(body, 32, utf8("bamboo")));
  }

  @Test
  void hkdfRejectsImpossibleRequests() {
    assertThrows(
        IllegalArgumentException.class, () -> Hkdf.expandSha256(new byte[0], new byte[1], 32));
    assertThrows(
        IllegalArgumentException.class, () -> Hkdf.expandSha256(new byte[32], new byte[1], 0));
    assertThrows(
        IllegalArgumentException.class,
        () -> Hkdf.expandSha256(new byte[32], new byte[1], 255 * 32 + 1));
  }
}
