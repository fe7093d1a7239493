package io.etcdcrypt.ops;

import static io.etcdcrypt.ops.OpsFixtures.AESCBC_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.KEY1;
import static io.etcdcrypt.ops.OpsFixtures.codec;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.key;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.DecryptedDetail;
import io.etcdcrypt.crypto.EncryptionCodec;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A value that only AES-CBC opened is never laundered: garbage that happened to have valid padding
 * is unreadable to census and verify-backup, and no value opened without authentication is
 * rewritten unless the operator says so.
 */
@Timeout(60)
class UnauthenticatedTest {

  private static final ByteString KEY = key("/registry/secrets/ns/s");
  private static final String OBJECT = "{\"kind\":\"Secret\",\"apiVersion\":\"v1\"}";

  /** aescbc's cbc1 under a different secret: what it wrote, the real cbc1 opens as garbage. */
  private static final String IMPOSTOR_CBC1 =
      "aescbc: {keys: [{name: cbc1, secret: '" + KEY1 + "'}]}";

  @Test
  void kubernetesObjectsAreProtobufBehindTheMagicOrJson() {
    assertTrue(Unauthenticated.looksLikeKubernetesObject(bytes("k8s\0\n\u000fv1")));
    assertTrue(Unauthenticated.looksLikeKubernetesObject(bytes(" \n{\"kind\":\"Widget\"}")));
    assertFalse(Unauthenticated.looksLikeKubernetesObject(bytes("k8s")));
    assertFalse(Unauthenticated.looksLikeKubernetesObject(bytes("k8s:enc:aescbc:v1:")));
    assertFalse(Unauthenticated.looksLikeKubernetesObject(bytes("[1,2]")));
    assertFalse(Unauthenticated.looksLikeKubernetesObject(new byte[0]));
    assertFalse(Unauthenticated.looksLikeKubernetesObject(new byte[] {(byte) 0x9c, 0x11, 0x7f}));
  }

  @Test
  void anAescbcObjectIsFlaggedAndRewrittenOnlyWhenTheOperatorAllowsIt() {
    EncryptionCodec cbc = codec(config("secrets", AESCBC_KEY1));
    EncryptionCodec rotated = codec(config("secrets", AESGCM_KEY1, AESCBC_KEY1));
    ByteString stored = seal(cbc, OBJECT);
    DecryptedDetail d = inspect(rotated, stored).detail();

    assertTrue(d.unauthenticated());
    assertTrue(d.stale());
    Optional<String> refused = Unauthenticated.whyNotRewrite(d, false);
    assertTrue(refused.orElseThrow().contains("--rewrite-unauthenticated"), refused.get());
    assertEquals(Optional.empty(), Unauthenticated.whyNotRewrite(d, true));
    assertEquals(StoredAs.State.STALE, StoredAs.of(inspect(rotated, stored), stored).state());
  }

  @Test
  void authenticatedFormatsAreNeverFlagged() {
    EncryptionCodec gcm = codec(config("secrets", AESGCM_KEY1));
    DecryptedDetail d = inspect(gcm, seal(gcm, "not an object, and that is fine")).detail();
    assertFalse(d.unauthenticated());
    assertEquals(Optional.empty(), Unauthenticated.whyNotRewrite(d, false));
  }

  @Test
  void garbageWithValidPaddingIsUnreadableAndNeverRewritten() {
    EncryptionCodec real = codec(config("secrets", AESGCM_KEY1, AESCBC_KEY1));
    ByteString garbage = garbageThatOpens(real);
    EncryptionCodec.Inspection i = inspect(real, garbage);
    assertTrue(i.detail().unauthenticated(), i.toString());

    StoredAs census = StoredAs.of(i, garbage);
    assertEquals(StoredAs.State.UNDECRYPTABLE, census.state());
    assertTrue(census.error().contains("not a Kubernetes object"), census.error());
    Optional<String> refused = Unauthenticated.whyNotRewrite(i.detail(), true);
    assertTrue(refused.orElseThrow().contains("not a Kubernetes object"), refused.get());
  }

  /**
   * A value cbc1 did not write that cbc1 still opens: about 1 in 256 such values has valid PKCS#7
   * padding after decryption with the wrong key, as KMS v1's CBC fallback found for moved values.
   */
  static ByteString garbageThatOpens(EncryptionCodec reader) {
    EncryptionCodec impostor = codec(config("secrets", IMPOSTOR_CBC1));
    for (int attempt = 0; attempt < 20_000; attempt++) {
      ByteString candidate = seal(impostor, OBJECT);
      if (inspect(reader, candidate).error() == null) {
        return candidate;
      }
    }
    throw new AssertionError("no value with valid padding in 20,000 (expected about 1 in 256)");
  }

  static ByteString seal(EncryptionCodec codec, String plaintext) {
    try {
      return Waits.seal(codec, KEY, ByteString.copyFromUtf8(plaintext));
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static EncryptionCodec.Inspection inspect(EncryptionCodec codec, ByteString value) {
    return Waits.inspect(codec, KEY, value).orElseThrow();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }
}
