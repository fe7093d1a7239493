package io.etcdcrypt.crypto;

import static io.etcdcrypt.crypto.TestBytes.ETCD_KEY;
import static io.etcdcrypt.crypto.TestBytes.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IdentityTransformerTest {

  private final IdentityTransformer identity = IdentityTransformer.INSTANCE;

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "{\"kind\":\"Secret\"}",
        "k8s\u0000\n\u000fv1",
        "k8s:enc",
        "k8s:encx",
        "K8S:ENC:aesgcm"
      })
  void storesAndReadsPlaintextUnchanged(String value) throws Exception {
    byte[] bytes = utf8(value);
    assertArrayEquals(bytes, identity.seal(bytes, ETCD_KEY));
    Decrypted d = identity.open(bytes, ETCD_KEY);
    assertArrayEquals(bytes, d.plaintext());
    assertFalse(d.stale());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"k8s:enc:", "k8s:enc:aesgcm:v1:key1:xyz", "k8s:enc:kms:v2:p:", "k8s:enc:unknown"})
  void refusesEncryptedData(String value) {
    TransformException e =
        assertThrows(TransformException.class, () -> identity.open(utf8(value), ETCD_KEY));
    assertEquals("identity transformer tried to read encrypted data", e.getMessage());
  }
}
