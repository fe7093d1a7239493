package io.etcdcrypt.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.testing.TestCodecs;
import org.junit.jupiter.api.Test;

/**
 * A value the identity provider reads is returned as the very instance it came in: callers (the
 * Range wire opener, the message walker) then forward the stored bytes without a rebuild.
 */
class EncryptionCodecIdentityTest {

  private static final EncryptionCodec CODEC =
      TestCodecs.fromYaml(
          String.join(
              "\n",
              "apiVersion: apiserver.config.k8s.io/v1",
              "kind: EncryptionConfiguration",
              "resources:",
              "  - resources: [secrets]",
              "    providers:",
              "      - aesgcm: {keys: [{name: key1, secret: " + TestCodecs.randomKey(32) + "}]}",
              "      - identity: {}",
              "  - resources: [configmaps]",
              "    providers: [{identity: {}}]",
              ""),
          KmsTransformerFactory.UNAVAILABLE);

  private static ByteString bs(String s) {
    return ByteString.copyFromUtf8(s);
  }

  @Test
  void valuesReadByIdentityStayAsTheyAre() throws Exception {
    ByteString configMap = bs("{\"kind\":\"ConfigMap\"}");
    assertNull(Stages.join(CODEC.fromStorage(bs("/registry/configmaps/ns/c"), configMap)));
    // A secret stored before encryption was configured: read by the identity provider that follows
    // aesgcm.
    ByteString legacySecret = bs("{\"kind\":\"Secret\"}");
    assertNull(Stages.join(CODEC.fromStorage(bs("/registry/secrets/ns/s"), legacySecret)));
    // Keys that are not objects, and configured keys with identity first, are not even looked at.
    assertSame(ValueCodec.UNCHANGED, CODEC.fromStorage(bs("compact_rev_key"), bs("42")));
    assertSame(ValueCodec.UNCHANGED, CODEC.toStorage(bs("/registry/configmaps/ns/c"), configMap));
  }

  @Test
  void encryptedValuesAreOpenedIntoNewPlaintext() throws Exception {
    ByteString key = bs("/registry/secrets/ns/s");
    ByteString stored = Stages.join(CODEC.toStorage(key, bs("plain")));
    assertTrue(stored.startsWith(bs("k8s:enc:aesgcm:v1:key1:")));
    ByteString opened = Stages.join(CODEC.fromStorage(key, stored));
    assertNotSame(stored, opened);
    assertEquals(bs("plain"), opened);
  }
}
