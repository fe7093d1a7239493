package io.etcdcrypt.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.testing.FormatVectors;
import io.etcdcrypt.testing.TestCodecs;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A value a client writes that already carries {@code k8s:enc:} is never wrapped again: stored as
 * it is when the configuration opens it, refused (nothing stored) when it does not.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class AlreadyEncryptedValuesTest {

  private static final String SECRET = "/registry/secrets/default/foo";

  /** What the codec reported: "resource stored_as_is" or "resource refused". */
  private final List<String> reported = new ArrayList<>();

  private final TransformObserver observer =
      new TransformObserver() {
        @Override
        public void alreadyEncryptedWrite(String resource, boolean storedAsIs) {
          reported.add(resource + (storedAsIs ? " stored_as_is" : " refused"));
        }
      };

  private EncryptionCodec codec(String... secretsProviders) throws Exception {
    return EncryptionCodec.create(
        OpsFixtures.parse(OpsFixtures.config("secrets", secretsProviders)),
        new ResourceResolver("/registry"),
        KmsTransformerFactory.UNAVAILABLE,
        observer);
  }

  private static ByteString bs(String s) {
    return ByteString.copyFromUtf8(s);
  }

  private static String provider(FormatVectors.Vector v) {
    String key = Base64.getEncoder().encodeToString(v.key());
    return v.provider() + ": {keys: [{name: " + v.keyName() + ", secret: " + key + "}]}";
  }

  static Stream<FormatVectors.Vector> localVectors() throws Exception {
    return FormatVectors.load().stream()
        .filter(v -> v.key() != null && v.stored().length > 8 && !v.mustFail())
        .filter(v -> new String(v.stored(), 0, 8).equals("k8s:enc:"));
  }

  /** The migration case: kube-apiserver's own bytes, under the same keys, pass untouched. */
  @ParameterizedTest
  @MethodSource("localVectors")
  void kubeApiserversBytesUnderTheSameKeysAreStoredAsTheyAre(FormatVectors.Vector v)
      throws Exception {
    EncryptionCodec codec = codec(provider(v));
    ByteString stored = ByteString.copyFrom(v.stored());
    assertNull(Stages.join(codec.toStorage(bs(v.etcdKey()), stored)), "stored as it is");
    assertEquals(List.of("secrets stored_as_is"), reported);
    // and what a read returns is the plaintext kube-apiserver encrypted
    assertEquals(
        ByteString.copyFrom(v.plaintext()),
        Stages.join(codec.fromStorage(bs(v.etcdKey()), stored)));
  }

  @Test
  void anOlderKeyThatStillReadsAlsoPasses() throws Exception {
    String secretboxK1 = "secretbox: {keys: [{name: k1, secret: " + key() + "}]}";
    ByteString byOld = Stages.join(codec(secretboxK1).toStorage(bs(SECRET), bs("plain")));
    assertTrue(byOld.startsWith(bs("k8s:enc:secretbox:v1:k1:")));
    // Not the write key of the rotated file, but one it reads: stored as is (rewrap renews it).
    EncryptionCodec rotated =
        codec("aesgcm: {keys: [{name: g1, secret: " + key() + "}]}", secretboxK1, "identity: {}");
    assertNull(Stages.join(rotated.toStorage(bs(SECRET), byOld)));
    assertEquals(List.of("secrets stored_as_is"), reported);
  }

  @Test
  void aPrefixNothingReadsIsRefusedWithTheCauseFirst() throws Exception {
    EncryptionCodec codec = codec("aesgcm: {keys: [{name: key1, secret: " + key() + "}]}");
    ByteString foreign = bs("k8s:enc:aescbc:v1:key9:\u0001\u0002 rest of the ciphertext");
    AlreadyEncryptedValueException e = refused(codec, SECRET, foreign);
    assertEquals(
        "already encrypted value (k8s:enc:aescbc:v1:key9:) refused: nothing in the encryption"
            + " configuration for \"secrets\" reads that prefix, nothing written; send plaintext (do"
            + " not encrypt in the writer) or add the provider and key; key \""
            + SECRET
            + "\"",
        e.getMessage());
    assertEquals(List.of("secrets refused"), reported);
  }

  @Test
  void aValueMovedToAnotherKeyIsRefusedWithTheReason() throws Exception {
    FormatVectors.Vector moved =
        FormatVectors.load().stream().filter(FormatVectors.Vector::mustFail).findFirst().get();
    EncryptionCodec codec = codec(provider(moved));
    AlreadyEncryptedValueException e =
        refused(codec, moved.etcdKey(), ByteString.copyFrom(moved.stored()));
    assertTrue(
        e.getMessage()
            .startsWith(
                "already encrypted value (k8s:enc:aesgcm:v1:key1:) refused: the encryption"
                    + " configuration for \"secrets\" cannot open it, nothing written; send"
                    + " plaintext (do not encrypt in the writer); a value opens only under its own"
                    + " key; key \"/registry/secrets/default/bar\": "),
        e.getMessage());
  }

  @Test
  void identityFirstStillStoresWhatItReadsAndRefusesTheRest() throws Exception {
    String gcm = "aesgcm: {keys: [{name: key1, secret: " + key() + "}]}";
    ByteString sealed = Stages.join(codec(gcm).toStorage(bs(SECRET), bs("plain")));
    EncryptionCodec stepOne = codec("identity: {}", gcm); // migration step 1
    reported.clear();
    assertNull(Stages.join(stepOne.toStorage(bs(SECRET), sealed)));
    refused(stepOne, SECRET, bs("k8s:enc:secretbox:v1:other:xyz"));
    assertEquals(List.of("secrets stored_as_is", "secrets refused"), reported);
  }

  @Test
  void aResourceWithoutARuleRefusesIt() throws Exception {
    EncryptionCodec codec = codec("identity: {}");
    AlreadyEncryptedValueException e =
        refused(codec, "/registry/configmaps/ns/c", bs("k8s:enc:aesgcm:v1:key1:abc"));
    assertTrue(
        e.getMessage()
            .startsWith(
                "already encrypted value (k8s:enc:aesgcm:v1:key1:) refused: resource"
                    + " \"configmaps\" has no rule in the encryption configuration, nothing written;"),
        e.getMessage());
  }

  @Test
  void keysThatAreNotObjectsAndPlainValuesAreNotLookedAt() throws Exception {
    EncryptionCodec codec = codec("aesgcm: {keys: [{name: key1, secret: " + key() + "}]}");
    assertSame(ValueCodec.UNCHANGED, codec.toStorage(bs("/other/x"), bs("k8s:enc:aesgcm:v1:x:")));
    assertSame(
        ValueCodec.UNCHANGED, codec.toStorage(bs("compact_rev_key"), bs("k8s:enc:aesgcm:v1:x:")));
    assertTrue(
        Stages.join(codec.toStorage(bs(SECRET), bs("k8s\u0000 not encrypted")))
            .startsWith(bs("k8s:enc:aesgcm:v1:key1:")));
    assertEquals(List.of(), reported);
  }

  /** Rewrap and the stale rewriter keep what clients read: their seal wraps whatever it gets. */
  @Test
  void theToolsSealWrapsWhateverItGets() throws Exception {
    EncryptionCodec codec = codec("aesgcm: {keys: [{name: key1, secret: " + key() + "}]}");
    ByteString inner = bs("k8s:enc:kms:v2:elsewhere:opaque");
    ByteString sealed = Stages.join(codec.seal(bs(SECRET), inner));
    assertTrue(sealed.startsWith(bs("k8s:enc:aesgcm:v1:key1:")));
    assertEquals(inner, Stages.join(codec.fromStorage(bs(SECRET), sealed)));
  }

  @Test
  void aPrefixIsQuotedOnlyAsPrintableText() {
    assertEquals(
        "k8s:enc:kms:v2:my-kms:", AlreadyEncryptedWrites.prefixOf(bs("k8s:enc:kms:v2:my-kms:\n")));
    assertEquals("k8s:enc:kms:...", AlreadyEncryptedWrites.prefixOf(bs("k8s:enc:kms:\u0000v2")));
    assertEquals(
        "k8s:enc:" + "a".repeat(88) + "...",
        AlreadyEncryptedWrites.prefixOf(bs("k8s:enc:" + "a".repeat(200))));
  }

  private AlreadyEncryptedValueException refused(EncryptionCodec codec, String key, ByteString v) {
    TransformException e =
        assertThrows(TransformException.class, () -> Stages.join(codec.toStorage(bs(key), v)));
    return assertInstanceOf(AlreadyEncryptedValueException.class, e);
  }

  private static String key() {
    return TestCodecs.randomKey(32);
  }
}
