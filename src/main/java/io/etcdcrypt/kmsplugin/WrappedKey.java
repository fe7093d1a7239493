package io.etcdcrypt.kmsplugin;

import io.etcdcrypt.crypto.TransformException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The bundled plugin's ciphertext of a DEK or seed (what kube-apiserver and the proxy store in etcd
 * as the encrypted DEK), format version 1:
 *
 * <pre>
 * 0x01 || u8 len(kekId) || kekId (ASCII) || nonce(12) || AES-256-GCM_kek(plaintext) || tag(16)
 *         AAD = the header: 0x01 || u8 len(kekId) || kekId
 * </pre>
 *
 * The KEK id travels inside the ciphertext so that KMS v1 (whose Decrypt carries no key id) can
 * find its KEK, and the AAD binds it so that the id cannot be swapped. A seed of 32 bytes wraps to
 * at most 190 bytes, well within KMS v2's 1 KiB limit.
 */
public final class WrappedKey {

  public static final byte VERSION = 1;

  private WrappedKey() {}

  public static byte[] wrap(Kek kek, byte[] plaintext) throws TransformException {
    byte[] header = header(kek.id());
    byte[] sealed = kek.seal(plaintext, header);
    byte[] out = Arrays.copyOf(header, header.length + sealed.length);
    System.arraycopy(sealed, 0, out, header.length, sealed.length);
    return out;
  }

  /** The KEK id named in a wrapped key; fails when the bytes are not in this format. */
  public static String kekId(byte[] wrapped) throws TransformException {
    if (wrapped.length < 2) {
      throw new TransformException(
          "the ciphertext is too short to be a key wrapped by this plugin");
    }
    if (wrapped[0] != VERSION) {
      throw new TransformException(
          "the ciphertext is not a key wrapped by this plugin (unknown format version "
              + (wrapped[0] & 0xff)
              + ")");
    }
    int idLength = wrapped[1] & 0xff;
    if (idLength == 0 || wrapped.length < 2 + idLength + 12 + 16) {
      throw new TransformException("the ciphertext is truncated");
    }
    return new String(wrapped, 2, idLength, StandardCharsets.US_ASCII);
  }

  /** Opens {@code wrapped} with {@code kek}, which must be the KEK {@link #kekId} names. */
  public static byte[] unwrap(Kek kek, byte[] wrapped) throws TransformException {
    String id = kekId(wrapped);
    if (!id.equals(kek.id())) {
      throw new IllegalArgumentException("wrong KEK for this ciphertext");
    }
    int headerLength = 2 + id.length();
    return kek.open(
        Arrays.copyOfRange(wrapped, headerLength, wrapped.length),
        Arrays.copyOf(wrapped, headerLength));
  }

  private static byte[] header(String kekId) {
    byte[] id = kekId.getBytes(StandardCharsets.US_ASCII);
    if (id.length == 0 || id.length > 255) {
      throw new IllegalArgumentException("KEK id must be 1-255 bytes");
    }
    byte[] header = new byte[2 + id.length];
    header[0] = VERSION;
    header[1] = (byte) id.length;
    System.arraycopy(id, 0, header, 2, id.length);
    return header;
  }
}
