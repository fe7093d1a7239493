package io.etcdcrypt.crypto;

import java.security.MessageDigest;
import java.util.Arrays;
import org.bouncycastle.crypto.engines.XSalsa20Engine;
import org.bouncycastle.crypto.macs.Poly1305;
import org.bouncycastle.crypto.params.KeyParameter;
import org.bouncycastle.crypto.params.ParametersWithIV;

/**
 * kube-apiserver's {@code secretbox} provider body for one key: NaCl secretbox (XSalsa20 +
 * Poly1305) with a random 192-bit nonce, stored as {@code nonce(24) || tag(16) || ciphertext} —
 * exactly Go's {@code secretbox.Seal(nonce, msg, nonce, key)} and libsodium's {@code
 * crypto_secretbox_easy} layout. No associated data: a value copied to another etcd key still
 * opens.
 *
 * <p>Construction: the XSalsa20 keystream for (key, nonce) yields the one-time Poly1305 key in its
 * first 32 bytes; the message is XOR-ed with the keystream from byte 32 on; the tag is Poly1305
 * over the ciphertext.
 *
 * <p>Size overhead of a stored value: {@code len("k8s:enc:secretbox:v1:") + len(keyName) + 1} bytes
 * of prefix (added by the provider's {@link PrefixTransformers}) plus 40 bytes (24 nonce + 16 tag),
 * i.e. 62 + len(keyName) bytes more than the plaintext.
 */
public final class SecretboxTransformer extends LocalTransformer {

  public static final int KEY_SIZE = 32;
  public static final int NONCE_SIZE = 24;
  public static final int TAG_SIZE = 16;

  private static final int POLY_KEY_SIZE = 32;

  private final byte[] key;
  private final NonceSource nonces;

  /** A transformer for a 32 byte key; throws IllegalArgumentException for other sizes. */
  public SecretboxTransformer(byte[] key32) {
    this(key32, NonceSource.SECURE_RANDOM);
  }

  /** For tests that reproduce recorded values: the nonce comes from {@code nonces}. */
  SecretboxTransformer(byte[] key32, NonceSource nonces) {
    if (key32.length != KEY_SIZE) {
      throw new IllegalArgumentException(
          "expected key size 32 for secretbox provider, got "
              + key32.length
              + ": use base64 of 32 random bytes");
    }
    this.key = key32.clone();
    this.nonces = nonces;
  }

  @Override
  public byte[] seal(byte[] plaintext, byte[] associatedData) {
    byte[] out = new byte[NONCE_SIZE + TAG_SIZE + plaintext.length];
    byte[] nonce = new byte[NONCE_SIZE];
    nonces.fill(nonce);
    System.arraycopy(nonce, 0, out, 0, NONCE_SIZE);

    XSalsa20Engine stream = keystream(nonce);
    Poly1305 mac = oneTimeMac(stream);
    stream.processBytes(plaintext, 0, plaintext.length, out, NONCE_SIZE + TAG_SIZE);
    mac.update(out, NONCE_SIZE + TAG_SIZE, plaintext.length);
    mac.doFinal(out, NONCE_SIZE);
    return out;
  }

  @Override
  public Decrypted open(byte[] stored, byte[] associatedData) throws TransformException {
    if (stored.length < NONCE_SIZE + TAG_SIZE) {
      throw new TransformException("the stored data was shorter than the required size");
    }
    int ciphertextStart = NONCE_SIZE + TAG_SIZE;
    int ciphertextLength = stored.length - ciphertextStart;

    byte[] nonce = new byte[NONCE_SIZE];
    System.arraycopy(stored, 0, nonce, 0, NONCE_SIZE);
    XSalsa20Engine stream = keystream(nonce);
    Poly1305 mac = oneTimeMac(stream);
    mac.update(stored, ciphertextStart, ciphertextLength);
    byte[] expectedTag = new byte[TAG_SIZE];
    mac.doFinal(expectedTag, 0);
    byte[] storedTag = new byte[TAG_SIZE];
    System.arraycopy(stored, NONCE_SIZE, storedTag, 0, TAG_SIZE);
    if (!MessageDigest.isEqual(expectedTag, storedTag)) { // constant time
      // Upstream's (misleading) text for a failed open: wrong key or tampered bytes.
      throw new TransformException("output array was not large enough for encryption");
    }
    byte[] plaintext = new byte[ciphertextLength];
    stream.processBytes(stored, ciphertextStart, ciphertextLength, plaintext, 0);
    return Decrypted.fresh(plaintext);
  }

  private XSalsa20Engine keystream(byte[] nonce) {
    XSalsa20Engine engine = new XSalsa20Engine();
    engine.init(true, new ParametersWithIV(new KeyParameter(key), nonce));
    return engine;
  }

  /** Consumes the first 32 keystream bytes as the Poly1305 one-time key. */
  private static Poly1305 oneTimeMac(XSalsa20Engine stream) {
    byte[] polyKey = new byte[POLY_KEY_SIZE];
    stream.processBytes(polyKey, 0, POLY_KEY_SIZE, polyKey, 0);
    Poly1305 mac = new Poly1305();
    mac.init(new KeyParameter(polyKey));
    Arrays.fill(polyKey, (byte) 0);
    return mac;
  }

  @Override
  public String toString() {
    return "SecretboxTransformer[XSalsa20-Poly1305, key redacted]";
  }
}
