package io.etcdcrypt.crypto;

import static io.etcdcrypt.crypto.Providers.aescbc;
import static io.etcdcrypt.crypto.Providers.aesgcm;
import static io.etcdcrypt.crypto.Providers.chain;
import static io.etcdcrypt.crypto.Providers.identity;
import static io.etcdcrypt.crypto.Providers.key;
import static io.etcdcrypt.crypto.Providers.secretbox;
import static io.etcdcrypt.crypto.TestBytes.ETCD_KEY;
import static io.etcdcrypt.crypto.TestBytes.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.testing.Sync;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * kube-apiserver's prefix-list semantics, at the provider level and the key level, on real
 * providers.
 */
class PrefixTransformersTest {

  private static final byte[] OBJECT =
      utf8("{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"data\":{\"k\":\"dg==\"}}");

  @Test
  void firstProviderAndItsFirstKeyEncrypt() throws Exception {
    PrefixTransformers chain = chain(aesgcm(key("key2", 2), key("key1", 1)), aescbc(key("old", 3)));
    byte[] stored = Sync.encrypt(chain, OBJECT, ETCD_KEY);
    assertTrue(startsWith(stored, "k8s:enc:aesgcm:v1:key2:"));
    assertEquals("k8s:enc:aesgcm:v1:key2:", chain.writePrefix());

    DecryptedDetail d = Sync.decryptDetailed(chain, stored, ETCD_KEY);
    assertArrayEquals(OBJECT, d.plaintext());
    assertFalse(d.stale());
    assertEquals("k8s:enc:aesgcm:v1:key2:", d.matchedPrefix());
    assertEquals("k8s:enc:aesgcm:v1:", d.providerPrefix());
  }

  @Test
  void keyRotationMakesDataOfTheOldKeyStale() throws Exception {
    byte[] old = Sync.encrypt(chain(aesgcm(key("key1", 1))), OBJECT, ETCD_KEY);
    PrefixTransformers rotated = chain(aesgcm(key("key2", 2), key("key1", 1)));

    DecryptedDetail d = Sync.decryptDetailed(rotated, old, ETCD_KEY);
    assertArrayEquals(OBJECT, d.plaintext());
    assertTrue(d.stale());
    assertEquals("k8s:enc:aesgcm:v1:key1:", d.matchedPrefix());

    byte[] rewritten = Sync.encrypt(rotated, d.plaintext(), ETCD_KEY);
    assertFalse(Sync.decrypt(rotated, rewritten, ETCD_KEY).stale());
  }

  @Test
  void providerRotationMakesDataOfLaterProvidersStale() throws Exception {
    byte[] cbcData = Sync.encrypt(chain(aescbc(key("a", 5))), OBJECT, ETCD_KEY);
    DecryptedDetail d =
        Sync.decryptDetailed(chain(secretbox(key("s", 6)), aescbc(key("a", 5))), cbcData, ETCD_KEY);
    assertArrayEquals(OBJECT, d.plaintext());
    assertTrue(d.stale());
    assertEquals("k8s:enc:aescbc:v1:", d.providerPrefix());
    assertEquals("k8s:enc:aescbc:v1:a:", d.matchedPrefix());
  }

  @Test
  void identityInTheListReadsPlaintextAsStale() throws Exception {
    PrefixTransformers chain = chain(aesgcm(key("key1", 1)), identity());
    DecryptedDetail d = Sync.decryptDetailed(chain, OBJECT, ETCD_KEY);
    assertArrayEquals(OBJECT, d.plaintext());
    assertTrue(d.stale());
    assertEquals("identity", d.matchedPrefix());
    assertEquals("identity", d.providerPrefix());
    assertTrue(d.readAsPlaintext());
  }

  @Test
  void plaintextIsUnreadableWhenIdentityIsNotInTheList() throws Exception {
    PrefixTransformers chain = chain(aesgcm(key("key1", 1)));
    UnreadableValueException e =
        assertThrows(UnreadableValueException.class, () -> Sync.decrypt(chain, OBJECT, ETCD_KEY));
    assertEquals("no matching prefix found", e.getMessage());
    assertTrue(e.noPrefixMatched());
    assertEquals(List.of(), e.attemptedPrefixes());
  }

  @Test
  void identityFirstWritesPlaintextAndStillReadsEncryptedDataAsStale() throws Exception {
    byte[] encrypted = Sync.encrypt(chain(aesgcm(key("key1", 1))), OBJECT, ETCD_KEY);
    PrefixTransformers decrypting = chain(identity(), aesgcm(key("key1", 1)));

    assertArrayEquals(OBJECT, Sync.encrypt(decrypting, OBJECT, ETCD_KEY));
    assertEquals("", decrypting.writePrefix());

    DecryptedDetail d = Sync.decryptDetailed(decrypting, encrypted, ETCD_KEY);
    assertArrayEquals(OBJECT, d.plaintext());
    assertTrue(d.stale());
    assertEquals("k8s:enc:aesgcm:v1:key1:", d.matchedPrefix());

    DecryptedDetail plain = Sync.decryptDetailed(decrypting, OBJECT, ETCD_KEY);
    assertFalse(plain.stale());
    assertEquals("identity", plain.matchedPrefix());
  }

  @Test
  void identityAloneSkipsItsRefusalAndReportsNoMatch() throws Exception {
    byte[] encrypted = Sync.encrypt(chain(aesgcm(key("key1", 1))), OBJECT, ETCD_KEY);
    UnreadableValueException e =
        assertThrows(
            UnreadableValueException.class,
            () -> Sync.decrypt(chain(identity()), encrypted, ETCD_KEY));
    assertEquals("no matching prefix found", e.getMessage());
  }

  @Test
  void twoAescbcProvidersSharingAPrefixAreBothTried() throws Exception {
    // Upstream's own example: rotating from aescbc key "1" to a second aescbc provider with key
    // "2".
    byte[] old = Sync.encrypt(chain(aescbc(key("1", 1))), OBJECT, ETCD_KEY);
    PrefixTransformers chain = chain(aescbc(key("2", 2)), aescbc(key("1", 1)));
    DecryptedDetail d = Sync.decryptDetailed(chain, old, ETCD_KEY);
    assertArrayEquals(OBJECT, d.plaintext());
    assertTrue(d.stale());
    assertEquals("k8s:enc:aescbc:v1:1:", d.matchedPrefix());
  }

  @Test
  void sameKeyNameWithAnotherSecretFallsThroughToTheNextProvider() throws Exception {
    byte[] old = Sync.encrypt(chain(aesgcm(key("key1", 1))), OBJECT, ETCD_KEY);
    DecryptedDetail d =
        Sync.decryptDetailed(chain(aesgcm(key("key1", 99)), aesgcm(key("key1", 1))), old, ETCD_KEY);
    assertArrayEquals(OBJECT, d.plaintext());
    assertTrue(d.stale());
  }

  @Test
  void distinctFailuresAreAggregatedInWalkOrder() throws Exception {
    PrefixTransformers chain = chain(aescbc(key("key1", 1)), aescbc(key("key2", 2)));
    byte[] truncated = utf8("k8s:enc:aescbc:v1:key1:12345");
    UnreadableValueException e =
        assertThrows(
            UnreadableValueException.class, () -> Sync.decrypt(chain, truncated, ETCD_KEY));
    assertEquals(
        "[the stored data was shorter than the required size,"
            + " no matching key was found for the provided AES transformer]",
        e.getMessage());
    assertFalse(e.noPrefixMatched());
    assertEquals(List.of("k8s:enc:aescbc:v1:key1:", "k8s:enc:aescbc:v1:"), e.attemptedPrefixes());
    assertEquals(
        List.of("k8s:enc:aescbc:v1:", "k8s:enc:aescbc:v1:"), e.attemptedProviderPrefixes());
    assertEquals(1, e.getSuppressed().length);
  }

  @Test
  void repeatedFailureMessagesAreReportedOnce() throws Exception {
    byte[] stored = Sync.encrypt(chain(aesgcm(key("key1", 1))), OBJECT, ETCD_KEY);
    PrefixTransformers chain = chain(aesgcm(key("key1", 7)), aesgcm(key("key1", 8)));
    UnreadableValueException e =
        assertThrows(UnreadableValueException.class, () -> Sync.decrypt(chain, stored, ETCD_KEY));
    assertEquals("cipher: message authentication failed", e.getMessage());
    assertEquals(2, e.attemptedPrefixes().size());
  }

  @Test
  void aSingleFailureIsReportedAsItself() throws Exception {
    byte[] stored = Sync.encrypt(chain(aesgcm(key("key1", 1))), OBJECT, ETCD_KEY);
    stored[stored.length - 1] ^= 1;
    assertMessage(chain(aesgcm(key("key1", 1))), stored, "cipher: message authentication failed");
    assertMessage(
        chain(aesgcm(key("other", 1))),
        stored,
        "no matching key was found for the provided AES transformer");
    assertMessage(
        chain(secretbox(key("other", 1))),
        utf8("k8s:enc:secretbox:v1:key1:x"),
        "no matching key was found for the provided Secretbox transformer");
  }

  @Test
  void keepsTheStaleVerdictOfTheTransformerThatOpened() throws Exception {
    Transformer staleBody =
        new LocalTransformer() {
          @Override
          public byte[] seal(byte[] plaintext, byte[] associatedData) {
            return plaintext;
          }

          @Override
          public Decrypted open(byte[] stored, byte[] associatedData) {
            return new Decrypted(stored, true, false); // e.g. KMS v2 data under an older key id
          }
        };
    PrefixTransformers chain =
        PrefixTransformers.of(
            PrefixTransformers.NO_MATCHING_PREFIX,
            PrefixTransformers.Entry.of("k8s:enc:kms:v2:p:", staleBody));
    DecryptedDetail d = Sync.decryptDetailed(chain, utf8("k8s:enc:kms:v2:p:body"), ETCD_KEY);
    assertTrue(d.stale());
    assertArrayEquals(utf8("body"), d.plaintext());
    assertEquals("k8s:enc:kms:v2:p:", d.matchedPrefix());
  }

  @Test
  void decryptIsDecryptDetailedWithoutTheDetail() throws Exception {
    PrefixTransformers chain = chain(aescbc(key("k", 1)), identity());
    byte[] stored = Sync.encrypt(chain, OBJECT, ETCD_KEY);
    byte[] copy = stored.clone();
    Decrypted d = Sync.decrypt(chain, stored, ETCD_KEY);
    assertArrayEquals(OBJECT, d.plaintext());
    assertFalse(d.stale());
    assertArrayEquals(copy, stored, "the walk must not modify the stored value");
  }

  @Test
  void refusesAnEmptyChain() {
    assertThrows(IllegalArgumentException.class, () -> new PrefixTransformers(List.of(), "x"));
  }

  @Test
  void entriesCopyTheirPrefix() {
    byte[] prefix = utf8("p:");
    PrefixTransformers.Entry e = new PrefixTransformers.Entry(prefix, IdentityTransformer.INSTANCE);
    prefix[0] = 'x';
    e.prefix()[1] = 'y';
    assertEquals("p:", e.prefixText());
    assertEquals(PrefixTransformers.Entry.of("p:", IdentityTransformer.INSTANCE), e);
    assertNotEquals(PrefixTransformers.Entry.of("q:", IdentityTransformer.INSTANCE), e);
  }

  private static void assertMessage(Transformer chain, byte[] stored, String message) {
    TransformException e =
        assertThrows(TransformException.class, () -> Sync.decrypt(chain, stored, ETCD_KEY));
    assertEquals(message, e.getMessage());
  }

  private static boolean startsWith(byte[] value, String prefix) {
    byte[] p = prefix.getBytes(StandardCharsets.UTF_8);
    return value.length >= p.length && Arrays.equals(value, 0, p.length, p, 0, p.length);
  }

  /**
   * The samples a walk reports, one per chain level, in the order kube-apiserver's nested chains
   * record them.
   */
  @Test
  void everyLevelOfTheWalkReportsItsSample() throws Exception {
    PrefixTransformers chain = chain(aesgcm(key("key2", 2), key("key1", 1)), identity());
    List<String> samples = new ArrayList<>();
    PrefixTransformers.Samples recorder =
        (prefix, nanos, error) -> samples.add(prefix + (error == null ? " ok" : " failed"));

    byte[] stored = Stages.join(chain.encrypt(OBJECT, ETCD_KEY, recorder));
    assertEquals(List.of("key2: ok", "k8s:enc:aesgcm:v1: ok"), samples);

    samples.clear();
    Stages.join(chain.decryptDetailed(stored, ETCD_KEY, recorder));
    assertEquals(List.of("key2: ok", "k8s:enc:aesgcm:v1: ok"), samples);

    samples.clear();
    Stages.join(chain.decryptDetailed(OBJECT, ETCD_KEY, recorder));
    assertEquals(List.of("identity ok"), samples, "plaintext read by identity");

    samples.clear();
    byte[] tampered = stored.clone();
    tampered[tampered.length - 1] ^= 1;
    assertThrows(
        UnreadableValueException.class,
        () -> Stages.join(chain.decryptDetailed(tampered, ETCD_KEY, recorder)));
    assertEquals(
        List.of("key2: failed", "k8s:enc:aesgcm:v1: failed"),
        samples,
        "the key fails, then its provider");

    samples.clear();
    PrefixTransformers noIdentity = chain(aesgcm(key("key1", 1)));
    assertThrows(
        UnreadableValueException.class,
        () ->
            Stages.join(
                noIdentity.decryptDetailed(
                    utf8("k8s:enc:aesgcm:v1:gone:xyz"), ETCD_KEY, recorder)));
    assertEquals(
        List.of("unknown failed", "k8s:enc:aesgcm:v1: failed"), samples, "no key of that name");
    samples.clear();
    assertThrows(
        UnreadableValueException.class,
        () -> Stages.join(noIdentity.decryptDetailed(OBJECT, ETCD_KEY, recorder)));
    assertEquals(List.of("unknown failed"), samples, "no provider's prefix");
  }
}
