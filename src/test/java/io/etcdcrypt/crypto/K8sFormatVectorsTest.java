package io.etcdcrypt.crypto;

import static io.etcdcrypt.crypto.TestBytes.pinnedTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.etcdcrypt.config.KeyConfig;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.kms.KmsVectorChecks;
import io.etcdcrypt.testing.FormatVectors;
import io.etcdcrypt.testing.FormatVectors.Vector;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.Sync;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every stored value in {@code shared/testdata/k8s-format-vectors.json} must open to its plaintext
 * (unless its note says it must fail), and re-encrypting with the same key and nonce must give the
 * same bytes.
 *
 * <p>One case per vector; {@link #check} dispatches on the provider family. KMS families are
 * checked by the KMS package ({@link io.etcdcrypt.kms.KmsVectorChecks}) through the base64 mock
 * plugin.
 */
@RealComponents
class K8sFormatVectorsTest {

  static List<Vector> vectors() throws IOException {
    return FormatVectors.load();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("vectors")
  void check(Vector v) throws Exception {
    switch (v.provider()) {
      case "aescbc", "aesgcm", "secretbox" -> checkLocalProvider(v);
      case "aesgcm-body" -> checkGcmBody(v);
      case "kms-v1", "kms-v2", "kms-v2-hkdf-body" -> KmsVectorChecks.check(v);
      default ->
          fail(
              "vector "
                  + v.id()
                  + " has provider '"
                  + v.provider()
                  + "' that no check covers: add one");
    }
  }

  /**
   * Guards against a vector file (or a switch) that silently skips everything this package owns.
   */
  @Test
  void vectorFileCoversEveryLocalProvider() throws IOException {
    Set<String> providers = vectors().stream().map(Vector::provider).collect(Collectors.toSet());
    assertTrue(
        providers.containsAll(Set.of("aescbc", "aesgcm", "secretbox", "aesgcm-body")),
        providers::toString);
    assertTrue(
        providers.containsAll(Set.of("kms-v1", "kms-v2", "kms-v2-hkdf-body")), providers::toString);
    assertTrue(
        vectors().stream().anyMatch(Vector::mustFail), "expected a vector that must fail to open");
  }

  /**
   * A full stored value (prefix included) of an aescbc, aesgcm or secretbox provider with one key.
   */
  private static void checkLocalProvider(Vector v) throws Exception {
    ProviderConfig config = providerWithOneKey(v);
    byte[] aad = v.associatedData();
    PrefixTransformers chain =
        ProviderChains.forProviders(List.of(config), KmsTransformerFactory.UNAVAILABLE);

    if (v.mustFail()) {
      UnreadableValueException e =
          assertThrows(UnreadableValueException.class, () -> Sync.decrypt(chain, v.stored(), aad));
      if (v.provider().equals("aesgcm")) {
        assertEquals("cipher: message authentication failed", e.getMessage());
      }
      return;
    }

    String prefix = providerPrefix(v.provider()) + v.keyName() + ":";
    DecryptedDetail opened = Sync.decryptDetailed(chain, v.stored(), aad);
    assertArrayEquals(v.plaintext(), opened.plaintext());
    assertFalse(opened.stale());
    assertEquals(prefix, opened.matchedPrefix());

    // Same key, same nonce/IV (the one recorded right after the prefix) => the very same bytes.
    int start = prefix.getBytes(StandardCharsets.UTF_8).length;
    byte[] nonce = Arrays.copyOfRange(v.stored(), start, start + nonceSize(v.provider()));
    PrefixTransformers pinned =
        ProviderChains.forProviders(
            List.of(config), KmsTransformerFactory.UNAVAILABLE, pinnedTo(nonce));
    assertArrayEquals(v.stored(), Sync.encrypt(pinned, v.plaintext(), aad));
  }

  /** A raw AES-GCM body {@code nonce || ct || tag} without any prefix. */
  private static void checkGcmBody(Vector v) throws Exception {
    byte[] aad = v.associatedData();
    assertArrayEquals(v.plaintext(), AesGcm.forKey(v.key()).open(v.stored(), aad));
    assertArrayEquals(
        v.plaintext(), new AesGcmTransformer(v.key()).open(v.stored(), aad).plaintext());

    byte[] nonce = Arrays.copyOf(v.stored(), AesGcm.NONCE_SIZE);
    assertArrayEquals(
        v.stored(), AesGcm.seal(new SecretKeySpec(v.key(), "AES"), nonce, v.plaintext(), aad));
    assertArrayEquals(
        v.stored(), new AesGcmTransformer(v.key(), pinnedTo(nonce)).seal(v.plaintext(), aad));
  }

  private static ProviderConfig providerWithOneKey(Vector v) {
    List<KeyConfig> keys = List.of(new KeyConfig(v.keyName(), v.key()));
    return switch (v.provider()) {
      case "aescbc" -> new ProviderConfig.AesCbc(keys);
      case "aesgcm" -> new ProviderConfig.AesGcm(keys);
      case "secretbox" -> new ProviderConfig.Secretbox(keys);
      default -> throw new IllegalArgumentException(v.provider());
    };
  }

  private static String providerPrefix(String provider) {
    return switch (provider) {
      case "aescbc" -> ProviderChains.AESCBC_PREFIX;
      case "aesgcm" -> ProviderChains.AESGCM_PREFIX;
      case "secretbox" -> ProviderChains.SECRETBOX_PREFIX;
      default -> throw new IllegalArgumentException(provider);
    };
  }

  private static int nonceSize(String provider) {
    return switch (provider) {
      case "aescbc" -> 16;
      case "aesgcm" -> AesGcm.NONCE_SIZE;
      case "secretbox" -> SecretboxTransformer.NONCE_SIZE;
      default -> throw new IllegalArgumentException(provider);
    };
  }
}
