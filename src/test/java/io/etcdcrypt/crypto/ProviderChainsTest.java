package io.etcdcrypt.crypto;

import static io.etcdcrypt.crypto.Providers.aescbc;
import static io.etcdcrypt.crypto.Providers.aesgcm;
import static io.etcdcrypt.crypto.Providers.chain;
import static io.etcdcrypt.crypto.Providers.identity;
import static io.etcdcrypt.crypto.Providers.key;
import static io.etcdcrypt.crypto.Providers.secretbox;
import static io.etcdcrypt.crypto.TestBytes.ETCD_KEY;
import static io.etcdcrypt.crypto.TestBytes.MIB;
import static io.etcdcrypt.crypto.TestBytes.counting;
import static io.etcdcrypt.crypto.TestBytes.pseudoRandom;
import static io.etcdcrypt.crypto.TestBytes.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.config.KeyConfig;
import io.etcdcrypt.config.KmsApiVersion;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.testing.Sync;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProviderChainsTest {

  @Test
  void buildsOneEntryPerProviderWithUpstreamsPrefixes() throws Exception {
    assertEquals("", entry(identity()).prefixText());
    assertSame(IdentityTransformer.INSTANCE, entry(identity()).transformer());
    assertEquals("k8s:enc:aescbc:v1:", entry(aescbc(key("k", 1))).prefixText());
    assertEquals("k8s:enc:aesgcm:v1:", entry(aesgcm(key("k", 1))).prefixText());
    assertEquals("k8s:enc:secretbox:v1:", entry(secretbox(key("k", 1))).prefixText());

    PrefixTransformers keys =
        (PrefixTransformers) entry(aesgcm(key("new", 1), key("old", 2))).transformer();
    assertEquals(
        List.of("new:", "old:"),
        keys.entries().stream().map(PrefixTransformers.Entry::prefixText).toList());
  }

  @Test
  void everyLocalProviderRoundTripsEmptyTypicalAndOneMibValues() throws Exception {
    List<ProviderConfig> providers =
        List.of(identity(), aescbc(key("k", 1)), aesgcm(key("k", 2)), secretbox(key("k", 3)));
    for (ProviderConfig p : providers) {
      PrefixTransformers chain = chain(p);
      for (byte[] plaintext :
          List.of(new byte[0], utf8("{\"kind\":\"Secret\"}"), pseudoRandom(MIB, 11))) {
        byte[] stored = Sync.encrypt(chain, plaintext, ETCD_KEY);
        Decrypted d = Sync.decrypt(chain, stored, ETCD_KEY);
        assertArrayEquals(
            plaintext, d.plaintext(), p.describe() + " with " + plaintext.length + " bytes");
        assertFalse(d.stale());
      }
    }
  }

  @Test
  void storedSizesMatchTheDocumentedOverheads() throws Exception {
    for (String name : List.of("k", "key1", "a-much-longer-key-name")) {
      for (int size : new int[] {0, 1, 16, 55, 1000}) {
        byte[] plaintext = new byte[size];
        int prefixAndName = name.length() + 1;
        assertEquals(
            18 + prefixAndName + 16 + size + (16 - size % 16),
            Sync.encrypt(chain(aescbc(key(name, 1))), plaintext, ETCD_KEY).length,
            "aescbc");
        assertEquals(
            18 + prefixAndName + 28 + size,
            Sync.encrypt(chain(aesgcm(key(name, 1))), plaintext, ETCD_KEY).length);
        assertEquals(
            21 + prefixAndName + 40 + size,
            Sync.encrypt(chain(secretbox(key(name, 1))), plaintext, ETCD_KEY).length);
        assertEquals(size, Sync.encrypt(chain(identity()), plaintext, ETCD_KEY).length);
      }
    }
  }

  @Test
  void kmsProvidersGetTheirPrefixHereAndTheirBodyFromTheFactory() throws Exception {
    // A real AES-GCM body stands in for the KMS envelope: the chain must hand it the value minus
    // the prefix.
    AesGcmTransformer body = new AesGcmTransformer(counting(32, 0x42));
    List<ProviderConfig.Kms> asked = new ArrayList<>();
    KmsTransformerFactory factory =
        kms -> {
          asked.add(kms);
          return body;
        };
    ProviderConfig.Kms v2 =
        new ProviderConfig.Kms(
            KmsApiVersion.V2, "my-kms", "unix:///tmp/kms.sock", 0, Duration.ofSeconds(3));
    ProviderConfig.Kms v1 =
        new ProviderConfig.Kms(
            KmsApiVersion.V1, "legacy", "unix:///tmp/v1.sock", 1000, Duration.ofSeconds(3));

    PrefixTransformers chain = ProviderChains.forProviders(List.of(v2, v1), factory);
    assertEquals(List.of(v2, v1), asked);
    assertEquals("k8s:enc:kms:v2:my-kms:", chain.writePrefix());

    byte[] stored = Sync.encrypt(chain, utf8("object"), ETCD_KEY);
    int prefixLength = "k8s:enc:kms:v2:my-kms:".length();
    assertArrayEquals(
        utf8("object"), AesGcm.forKey(counting(32, 0x42)).open(stored, prefixLength, ETCD_KEY));

    byte[] v1Stored =
        Sync.encrypt(ProviderChains.forProviders(List.of(v1), factory), utf8("old"), ETCD_KEY);
    DecryptedDetail d = Sync.decryptDetailed(chain, v1Stored, ETCD_KEY);
    assertArrayEquals(utf8("old"), d.plaintext());
    assertTrue(d.stale());
    assertEquals("k8s:enc:kms:v1:legacy:", d.matchedPrefix());
  }

  @Test
  void kmsIsRefusedWhereNoClientExists() {
    ProviderConfig.Kms v2 =
        new ProviderConfig.Kms(KmsApiVersion.V2, "p", "unix:///x", 0, Duration.ofSeconds(3));
    TransformException e =
        assertThrows(
            TransformException.class,
            () -> ProviderChains.forProviders(List.of(v2), KmsTransformerFactory.UNAVAILABLE));
    assertTrue(e.getMessage().contains("kms:v2:p"), e.getMessage());
  }

  @Test
  void reportsUnusableKeysByNameWithoutTheirBytes() {
    byte[] wrongSize = counting(20, 0x33);
    String encoded = Base64.getEncoder().encodeToString(wrongSize);
    TransformException e =
        assertThrows(
            TransformException.class, () -> chain(aescbc(new KeyConfig("short", wrongSize))));
    assertTrue(
        e.getMessage().startsWith("error while creating transformer for named key short: "),
        e.getMessage());
    assertTrue(e.getMessage().contains("invalid AES key size 20"), e.getMessage());
    assertFalse(e.getMessage().contains(encoded));

    TransformException box =
        assertThrows(
            TransformException.class, () -> chain(secretbox(new KeyConfig("k16", new byte[16]))));
    assertTrue(
        box.getMessage().contains("expected key size 32 for secretbox provider, got 16"),
        box.getMessage());
  }

  @Test
  void rejectsKeyListsUpstreamRejects() {
    assertMessage(
        "aes provider has no valid keys", () -> chain(new ProviderConfig.AesGcm(List.of())));
    assertMessage(
        "secretbox provider has no valid keys",
        () -> chain(new ProviderConfig.Secretbox(List.of())));
    assertMessage(
        "key with invalid name provided", () -> chain(aescbc(new KeyConfig("", new byte[32]))));
    assertMessage(
        "key nokey has no provided secret",
        () -> chain(aesgcm(new KeyConfig("nokey", new byte[0]))));
    assertMessage(
        "a resource rule needs at least one provider",
        () -> ProviderChains.forProviders(List.of(), KmsTransformerFactory.UNAVAILABLE));
  }

  private static PrefixTransformers.Entry entry(ProviderConfig p) throws TransformException {
    return ProviderChains.forProvider(p, KmsTransformerFactory.UNAVAILABLE);
  }

  private interface Build {
    Object run() throws Exception;
  }

  private static void assertMessage(String message, Build build) {
    TransformException e = assertThrows(TransformException.class, build::run);
    assertEquals(message, e.getMessage());
  }
}
