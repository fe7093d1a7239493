package io.etcdcrypt.testing;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.kms.UnixSocketTransport;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import io.etcdcrypt.kms.proto.v2.KeyManagementServiceGrpc;
import io.grpc.ManagedChannel;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.engines.XSalsa20Engine;
import org.bouncycastle.crypto.macs.Poly1305;
import org.bouncycastle.crypto.params.KeyParameter;
import org.bouncycastle.crypto.params.ParametersWithIV;

/**
 * Opens stored values in kube-apiserver's format straight from the format notes, sharing no code
 * with the production providers, so a test can tell "the proxy wrote the right bytes" from "the
 * proxy agrees with itself".
 */
public final class SpecDecoder {
  private SpecDecoder() {}

  /** Strips {@code prefix} or fails. */
  public static byte[] body(byte[] stored, String prefix) {
    byte[] p = prefix.getBytes(StandardCharsets.US_ASCII);
    if (stored.length < p.length || !Arrays.equals(Arrays.copyOf(stored, p.length), p)) {
      throw new AssertionError(
          "stored value does not start with "
              + prefix
              + ": "
              + new String(
                  Arrays.copyOf(stored, Math.min(40, stored.length)), StandardCharsets.ISO_8859_1));
    }
    return Arrays.copyOfRange(stored, p.length, stored.length);
  }

  /** nonce(12) || ct || tag(16), AAD = etcd key. */
  public static byte[] aesGcm(byte[] key, byte[] body, byte[] aad) throws Exception {
    Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
    c.init(
        Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, body, 0, 12));
    c.updateAAD(aad);
    return c.doFinal(body, 12, body.length - 12);
  }

  /** IV(16) || AES-CBC(PKCS#7). */
  public static byte[] aesCbc(byte[] key, byte[] body) throws Exception {
    Cipher c = Cipher.getInstance("AES/CBC/PKCS5Padding");
    c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(body, 0, 16));
    return c.doFinal(body, 16, body.length - 16);
  }

  /** nonce(24) || Poly1305 tag(16) || XSalsa20 ciphertext: NaCl secretbox. */
  public static byte[] secretbox(byte[] key, byte[] body) {
    byte[] nonce = Arrays.copyOfRange(body, 0, 24);
    byte[] tag = Arrays.copyOfRange(body, 24, 40);
    byte[] ct = Arrays.copyOfRange(body, 40, body.length);
    // One XSalsa20 keystream: bytes 0..31 key Poly1305, the message is XOR-ed with the stream from
    // byte 32 on.
    XSalsa20Engine salsa = new XSalsa20Engine();
    salsa.init(false, new ParametersWithIV(new KeyParameter(key), nonce));
    byte[] stream = new byte[32 + ct.length];
    salsa.processBytes(new byte[stream.length], 0, stream.length, stream, 0);
    Poly1305 mac = new Poly1305();
    mac.init(new KeyParameter(Arrays.copyOf(stream, 32)));
    mac.update(ct, 0, ct.length);
    byte[] expected = new byte[16];
    mac.doFinal(expected, 0);
    if (!java.security.MessageDigest.isEqual(expected, tag)) {
      throw new AssertionError("secretbox tag mismatch");
    }
    byte[] pt = new byte[ct.length];
    for (int i = 0; i < ct.length; i++) {
      pt[i] = (byte) (ct[i] ^ stream[32 + i]);
    }
    return pt;
  }

  /** What a KMS v2 value holds, opened with the seed the plugin unwraps. */
  public record KmsV2Opened(String keyId, int sourceType, byte[] plaintext) {}

  /**
   * Parses the EncryptedObject, asks the plugin's v2 Decrypt for the seed, derives the key, opens
   * the data.
   */
  public static KmsV2Opened kmsV2(KmsEndpoint plugin, byte[] body, byte[] aad) throws Exception {
    EncryptedObject o = EncryptedObject.parseFrom(body);
    ManagedChannel ch = UnixSocketTransport.channel(plugin);
    byte[] seed;
    try {
      seed =
          KeyManagementServiceGrpc.newBlockingStub(ch)
              .withDeadlineAfter(5, TimeUnit.SECONDS)
              .decrypt(
                  io.etcdcrypt.kms.proto.v2.DecryptRequest.newBuilder()
                      .setCiphertext(o.getEncryptedDEKSource())
                      .setKeyId(o.getKeyID())
                      .setUid("spec-decoder")
                      .putAllAnnotations(o.getAnnotationsMap())
                      .build())
              .getPlaintext()
              .toByteArray();
    } finally {
      ch.shutdownNow();
    }
    byte[] data = o.getEncryptedData().toByteArray();
    if (o.getEncryptedDEKSourceTypeValue() == 1) {
      byte[] info = Arrays.copyOf(data, 32);
      Mac hmac = Mac.getInstance("HmacSHA256");
      hmac.init(new SecretKeySpec(seed, "HmacSHA256"));
      hmac.update(info);
      hmac.update((byte) 1);
      byte[] key = hmac.doFinal();
      return new KmsV2Opened(
          o.getKeyID(), 1, aesGcm(key, Arrays.copyOfRange(data, 32, data.length), aad));
    }
    return new KmsV2Opened(o.getKeyID(), 0, aesGcm(seed, data, aad));
  }

  /** u16BE len || encrypted DEK || GCM body; the DEK comes from the plugin's v1beta1 Decrypt. */
  public static byte[] kmsV1(KmsEndpoint plugin, byte[] body, byte[] aad) throws Exception {
    ByteBuffer b = ByteBuffer.wrap(body);
    int len = Short.toUnsignedInt(b.getShort());
    byte[] encDek = new byte[len];
    b.get(encDek);
    ManagedChannel ch = UnixSocketTransport.channel(plugin);
    byte[] dek;
    try {
      var stub =
          io.etcdcrypt.kms.proto.v1beta1.KeyManagementServiceGrpc.newBlockingStub(ch)
              .withDeadlineAfter(5, TimeUnit.SECONDS);
      stub.version(
          io.etcdcrypt.kms.proto.v1beta1.VersionRequest.newBuilder().setVersion("v1beta1").build());
      dek =
          stub.decrypt(
                  io.etcdcrypt.kms.proto.v1beta1.DecryptRequest.newBuilder()
                      .setVersion("v1beta1")
                      .setCipher(ByteString.copyFrom(encDek))
                      .build())
              .getPlain()
              .toByteArray();
    } finally {
      ch.shutdownNow();
    }
    return aesGcm(dek, Arrays.copyOfRange(body, 2 + len, body.length), aad);
  }
}
