package io.etcdcrypt.kms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.KmsApiVersion;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.crypto.AesGcm;
import io.etcdcrypt.crypto.DecryptedDetail;
import io.etcdcrypt.crypto.PrefixTransformers;
import io.etcdcrypt.crypto.ProviderChains;
import io.etcdcrypt.kms.proto.v2.EncryptedDEKSourceType;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import io.etcdcrypt.testing.FormatVectors.Vector;
import io.etcdcrypt.testing.MockKmsPlugin;
import io.etcdcrypt.testing.Sync;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/**
 * The KMS cases of the shared format vectors ({@code kms-v1}, {@code kms-v2}, {@code
 * kms-v2-hkdf-body}), called by the single parameterized vector test. The vectors' "KMS" is
 * Kubernetes' base64 mock plugin, so each full value is opened through the real provider chain with
 * {@link MockKmsPlugin} on a unix socket, and then rebuilt byte for byte from the same DEK/seed and
 * nonces.
 */
public final class KmsVectorChecks {

  private KmsVectorChecks() {}

  public static void check(Vector v) throws Exception {
    switch (v.provider()) {
      case "kms-v1" -> checkFullValue(v, KmsApiVersion.V1);
      case "kms-v2" -> checkFullValue(v, KmsApiVersion.V2);
      case "kms-v2-hkdf-body" -> checkHkdfBody(v);
      default -> throw new IllegalArgumentException("not a KMS vector: " + v.provider());
    }
  }

  private static void checkFullValue(Vector v, KmsApiVersion apiVersion) throws Exception {
    Path dir = Files.createTempDirectory("kms-vector");
    try (MockKmsPlugin plugin = MockKmsPlugin.start(dir.resolve("kms.sock"));
        KmsProviders kms = new KmsProviders()) {
      ProviderConfig.Kms config =
          new ProviderConfig.Kms(
              apiVersion,
              v.keyName(),
              plugin.endpoint().url(),
              apiVersion == KmsApiVersion.V1 ? 1000 : 0,
              Duration.ofSeconds(3));
      PrefixTransformers chain = ProviderChains.forProviders(List.of(config), kms);
      String prefix = ProviderChains.kmsPrefix(config);

      DecryptedDetail opened = Sync.decryptDetailed(chain, v.stored(), v.associatedData());
      assertArrayEquals(v.plaintext(), opened.plaintext(), v.id());
      assertEquals(prefix, opened.matchedPrefix());
      // A KMS v2 vector was written under key id "key-1", the mock's is "1": stale. KMS v1 has no
      // key ids.
      assertEquals(apiVersion == KmsApiVersion.V2, opened.stale(), v.id());

      byte[] afterPrefix = Arrays.copyOfRange(v.stored(), prefix.length(), v.stored().length);
      byte[] rebuilt =
          apiVersion == KmsApiVersion.V1 ? rebuildV1(afterPrefix, v) : rebuildV2(afterPrefix, v);
      assertArrayEquals(
          v.stored(), concat(prefix.getBytes(StandardCharsets.UTF_8), rebuilt), v.id());

      // And a fresh write through the chain reads back.
      byte[] written = Sync.encrypt(chain, v.plaintext(), v.associatedData());
      assertTrue(new String(written, StandardCharsets.UTF_8).startsWith(prefix));
      assertArrayEquals(
          v.plaintext(), Sync.decrypt(chain, written, v.associatedData()).plaintext());
    } finally {
      Files.deleteIfExists(dir.resolve("kms.sock"));
      Files.deleteIfExists(dir);
    }
  }

  /**
   * {@code u16BE len || encDEK || nonce || ct || tag} from the mock's DEK (base64 of encDEK) and
   * the stored nonce.
   */
  private static byte[] rebuildV1(byte[] afterPrefix, Vector v) throws Exception {
    int len = ((afterPrefix[0] & 0xff) << 8) | (afterPrefix[1] & 0xff);
    byte[] encryptedDek = Arrays.copyOfRange(afterPrefix, 2, 2 + len);
    byte[] dek = Base64.getDecoder().decode(encryptedDek);
    byte[] nonce = Arrays.copyOfRange(afterPrefix, 2 + len, 2 + len + AesGcm.NONCE_SIZE);
    byte[] body = AesGcm.forKey(dek).seal(nonce, v.plaintext(), v.associatedData());
    return concat(concat(Arrays.copyOf(afterPrefix, 2), encryptedDek), body);
  }

  /**
   * The same EncryptedObject, with encryptedData recomputed from the seed/DEK and the stored
   * info/nonce.
   */
  private static byte[] rebuildV2(byte[] afterPrefix, Vector v) throws Exception {
    EncryptedObject o = EncryptedObjects.decode(afterPrefix);
    byte[] source = Base64.getDecoder().decode(o.getEncryptedDEKSource().toByteArray());
    byte[] data = o.getEncryptedData().toByteArray();
    byte[] recomputed;
    if (o.getEncryptedDEKSourceType() == EncryptedDEKSourceType.HKDF_SHA256_XNONCE_AES_GCM_SEED) {
      recomputed =
          new HkdfSeedTransformer(source, replaying(Arrays.copyOf(data, 32 + AesGcm.NONCE_SIZE)))
              .seal(v.plaintext(), v.associatedData());
    } else {
      recomputed =
          AesGcm.forKey(source)
              .seal(Arrays.copyOf(data, AesGcm.NONCE_SIZE), v.plaintext(), v.associatedData());
    }
    assertArrayEquals(data, recomputed, v.id());
    return EncryptedObjects.encode(
        o.toBuilder().setEncryptedData(ByteString.copyFrom(recomputed)).build());
  }

  /** A raw HKDF body {@code info || nonce || ct || tag}; the vector's key is the seed. */
  private static void checkHkdfBody(Vector v) throws Exception {
    HkdfSeedTransformer t = new HkdfSeedTransformer(v.key());
    assertArrayEquals(v.plaintext(), Sync.decrypt(t, v.stored(), v.associatedData()).plaintext());
    byte[] infoAndNonce = Arrays.copyOf(v.stored(), 32 + AesGcm.NONCE_SIZE);
    assertArrayEquals(
        v.stored(),
        new HkdfSeedTransformer(v.key(), replaying(infoAndNonce))
            .seal(v.plaintext(), v.associatedData()));
  }

  /**
   * A "random" source that hands out {@code bytes} in order: the recorded info, then the recorded
   * nonce.
   */
  private static java.util.function.Consumer<byte[]> replaying(byte[] bytes) {
    int[] position = {0};
    return out -> {
      System.arraycopy(bytes, position[0], out, 0, out.length);
      position[0] += out.length;
    };
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
