package io.etcdcrypt.kms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.crypto.AesCbcTransformer;
import io.etcdcrypt.crypto.Decrypted;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.testing.FormatVectors;
import io.etcdcrypt.testing.MockKmsPlugin;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.Sync;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The KMS v1 provider against the base64 mock plugin on a real unix socket. */
@RealComponents
class KmsV1TransformerTest {

  private static final byte[] AAD = bytes("/registry/secrets/default/db");
  private static final byte[] PLAINTEXT = bytes("{\"kind\":\"Secret\"}");

  @TempDir Path dir;
  private MockKmsPlugin plugin;
  private final List<KmsProvider> providers = new ArrayList<>();

  @BeforeEach
  void startPlugin() throws Exception {
    plugin = MockKmsPlugin.start(dir.resolve("kms.sock"));
  }

  @AfterEach
  void stopAll() {
    providers.forEach(KmsProvider::close);
    plugin.close();
  }

  private KmsV1Transformer provider(int cacheSize) {
    return provider(cacheSize, Duration.ofSeconds(3));
  }

  private KmsV1Transformer provider(int cacheSize, Duration timeout) {
    KmsV1Transformer t =
        KmsV1Transformer.create(
            "kms-v1", plugin.endpoint(), timeout, cacheSize, KmsProviderOptions.defaults());
    providers.add(t);
    return t;
  }

  @Test
  void everyWriteEncryptsAFreshDekAndTheLayoutIsKubernetes() throws Exception {
    KmsV1Transformer kms = provider(1000);
    byte[] a = Sync.encrypt(kms, PLAINTEXT, AAD);
    byte[] b = Sync.encrypt(kms, PLAINTEXT, AAD);
    assertEquals(2, plugin.v1EncryptCalls.get(), "one plugin Encrypt per write");
    assertEquals(1, plugin.v1VersionCalls.get(), "the version handshake happens once");

    int len = ((a[0] & 0xff) << 8) | (a[1] & 0xff);
    byte[] encryptedDek = Arrays.copyOfRange(a, 2, 2 + len);
    assertEquals(
        32,
        Base64.getDecoder().decode(encryptedDek).length,
        "a fresh 32-byte DEK, base64 by the mock");
    assertEquals(
        2 + len + 12 + PLAINTEXT.length + 16, a.length, "u16 || encDEK || nonce || ct || tag");
    assertNotEquals(
        Arrays.toString(Arrays.copyOfRange(b, 2, 2 + len)), Arrays.toString(encryptedDek));

    Decrypted d = Sync.decrypt(kms, a, AAD);
    assertArrayEquals(PLAINTEXT, d.plaintext());
    assertFalse(d.stale());
    assertEquals(0, plugin.v1DecryptCalls.get(), "DEKs of our own writes are cached");
    assertThrows(
        TransformException.class,
        () -> Sync.decrypt(kms, a, bytes("/registry/secrets/default/other")));
  }

  @Test
  void readsCostOneDecryptPerDekWhileCached() throws Exception {
    KmsV1Transformer writer = provider(1000);
    byte[] a = Sync.encrypt(writer, PLAINTEXT, AAD);
    byte[] b = Sync.encrypt(writer, PLAINTEXT, AAD);
    KmsV1Transformer reader = provider(1000);
    for (int i = 0; i < 5; i++) {
      Sync.decrypt(reader, a, AAD);
      Sync.decrypt(reader, b, AAD);
    }
    assertEquals(2, plugin.v1DecryptCalls.get());
    assertEquals(2, reader.dekCacheSize());
  }

  @Test
  void aNegativeCacheSizeDecryptsOnEveryRead() throws Exception {
    byte[] a = Sync.encrypt(provider(1000), PLAINTEXT, AAD);
    KmsV1Transformer uncached = provider(-1);
    for (int i = 0; i < 3; i++) {
      assertArrayEquals(PLAINTEXT, Sync.decrypt(uncached, a, AAD).plaintext());
    }
    assertEquals(3, plugin.v1DecryptCalls.get());
    assertEquals(0, uncached.dekCacheSize());
  }

  @Test
  void theCacheHoldsAtMostCachesizeDeks() throws Exception {
    KmsV1Transformer writer = provider(1000);
    byte[] v1 = Sync.encrypt(writer, bytes("1"), AAD);
    byte[] v2 = Sync.encrypt(writer, bytes("2"), AAD);
    byte[] v3 = Sync.encrypt(writer, bytes("3"), AAD);
    KmsV1Transformer reader = provider(2);
    Sync.decrypt(reader, v1, AAD);
    Sync.decrypt(reader, v1, AAD);
    assertEquals(1, plugin.v1DecryptCalls.get(), "a cached DEK costs no Decrypt");
    Sync.decrypt(reader, v2, AAD);
    Sync.decrypt(reader, v3, AAD);
    assertEquals(3, plugin.v1DecryptCalls.get());
    assertEquals(2, reader.dekCacheSize(), "cachesize bounds the cache");
    // Which DEK made room is the cache's choice (frequency and recency, not strictly the least
    // recent one):
    // reading all three again asks the plugin again for at least the one that left.
    for (byte[] v : List.of(v1, v2, v3)) {
      Sync.decrypt(reader, v, AAD);
    }
    assertTrue(plugin.v1DecryptCalls.get() >= 4, "three DEKs cannot all fit in a cache of two");
    assertEquals(2, reader.dekCacheSize());
  }

  @Test
  void cbcValuesFromKubernetes124AndOlderReadAsStale() throws Exception {
    byte[] dek = new byte[32];
    Arrays.fill(dek, (byte) 0x42);
    byte[] encryptedDek = Base64.getEncoder().encode(dek);
    byte[] body = new AesCbcTransformer(dek).seal(PLAINTEXT, AAD);
    byte[] stored = new byte[2 + encryptedDek.length + body.length];
    stored[1] = (byte) encryptedDek.length;
    System.arraycopy(encryptedDek, 0, stored, 2, encryptedDek.length);
    System.arraycopy(body, 0, stored, 2 + encryptedDek.length, body.length);

    Decrypted d = Sync.decrypt(provider(1000), stored, AAD);
    assertArrayEquals(PLAINTEXT, d.plaintext());
    assertTrue(d.stale(), "CBC data must be rewritten as GCM");
    assertTrue(d.unauthenticated(), "but only padding vouches for it: rewrap must ask first");
  }

  @Test
  void malformedValuesAreRejected() {
    KmsV1Transformer kms = provider(1000);
    TransformException e =
        assertThrows(TransformException.class, () -> Sync.decrypt(kms, new byte[] {0, 9, 1}, AAD));
    assertEquals(
        "invalid data encountered by envelope transformer: failed to read uint16 length prefixed data",
        e.getMessage());
    assertThrows(TransformException.class, () -> Sync.decrypt(kms, new byte[] {0}, AAD));
  }

  @Test
  void theKmsV1VectorOpens() throws Exception {
    List<FormatVectors.Vector> vectors =
        FormatVectors.load().stream().filter(v -> v.provider().equals("kms-v1")).toList();
    assertEquals(1, vectors.size());
    KmsV1Transformer kms = provider(1000);
    for (FormatVectors.Vector v : vectors) {
      byte[] prefix = bytes("k8s:enc:kms:v1:" + v.keyName() + ":");
      byte[] afterPrefix = Arrays.copyOfRange(v.stored(), prefix.length, v.stored().length);
      Decrypted d = Sync.decrypt(kms, afterPrefix, v.associatedData());
      assertArrayEquals(v.plaintext(), d.plaintext(), v.id());
      assertFalse(d.stale());
    }
  }

  @Test
  void aPluginSpeakingAnotherVersionIsRefused() throws Exception {
    plugin.v1Version = "v2alpha1";
    KmsV1Transformer kms = provider(1000);
    TransformException e =
        assertThrows(TransformException.class, () -> Sync.encrypt(kms, PLAINTEXT, AAD));
    assertTrue(
        e.getMessage().contains("KMS provider api version v2alpha1 is not supported, only v1beta1"),
        e.getMessage());
    assertEquals(0, plugin.v1EncryptCalls.get());
    plugin.v1Version = "v1beta1";
    assertArrayEquals(
        PLAINTEXT,
        Sync.decrypt(kms, Sync.encrypt(kms, PLAINTEXT, AAD), AAD).plaintext(),
        "a failed handshake is retried on the next call");
  }

  @Test
  void healthPingsEncryptAndDecrypt() throws Exception {
    KmsV1Transformer kms = provider(1000, Duration.ofMillis(300));
    assertTrue(kms.health().ok());
    assertEquals(1, plugin.v1EncryptCalls.get());
    assertEquals(1, plugin.v1DecryptCalls.get());
    kms.health();
    assertEquals(1, plugin.v1EncryptCalls.get(), "a passing result is reused for 20 s");

    plugin.stop();
    KmsV1Transformer fresh = provider(1000, Duration.ofMillis(300));
    KmsHealth h = fresh.health();
    assertFalse(h.ok());
    assertTrue(
        h.error()
            .startsWith(
                "failed to perform encrypt section of the healthz check for KMS Provider kms-v1"),
        h.error());
    TransformException e =
        assertThrows(TransformException.class, () -> Sync.encrypt(fresh, PLAINTEXT, AAD));
    // The cause first: the socket the plugin should listen on is gone.
    assertTrue(
        e.getMessage().contains("no KMS plugin socket at " + plugin.endpoint().socketPath()),
        e.getMessage());
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
