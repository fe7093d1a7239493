package io.etcdcrypt.kms;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.proto.v2.EncryptedDEKSourceType;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EncryptedObjectsTest {

  private static EncryptedObject.Builder valid() {
    return EncryptedObject.newBuilder()
        .setEncryptedData(ByteString.copyFromUtf8("data"))
        .setKeyID("key-1")
        .setEncryptedDEKSource(ByteString.copyFromUtf8("dek"))
        .putAnnotations("local-kek.kms.kubernetes.io", ByteString.copyFromUtf8("x"))
        .setEncryptedDEKSourceType(EncryptedDEKSourceType.HKDF_SHA256_XNONCE_AES_GCM_SEED);
  }

  @Test
  void aValidObjectRoundTrips() throws Exception {
    byte[] bytes = EncryptedObjects.encode(valid().build());
    assertEquals(valid().build(), EncryptedObjects.decode(bytes));
  }

  @Test
  void theWireLayoutMatchesKubernetes() throws Exception {
    // Fields in ascending order; type 0 omitted; map entries as {1: key, 2: value}.
    EncryptedObject o =
        EncryptedObject.newBuilder()
            .setEncryptedData(ByteString.copyFrom(new byte[] {1, 2}))
            .setKeyID("1")
            .setEncryptedDEKSource(ByteString.copyFromUtf8("ab"))
            .putAnnotations("a.b", ByteString.copyFromUtf8("v"))
            .build();
    assertEquals(
        "0a020102" + "120131" + "1a026162" + "22080a03612e62120176",
        HexFormat.of().formatHex(EncryptedObjects.encode(o)));
  }

  @Test
  void limitsApplyOnWriteAndRead() {
    String longId = "k".repeat(1025);
    assertProblem(valid().setKeyID(""), "keyID is empty");
    assertProblem(
        valid().setKeyID(longId), "keyID is 1025 bytes, which exceeds the max size of 1024");
    assertProblem(valid().setEncryptedDEKSource(ByteString.EMPTY), "encrypted DEK source is empty");
    assertProblem(
        valid().setEncryptedDEKSource(ByteString.copyFrom(new byte[1025])),
        "encrypted DEK source is 1025 bytes, which exceeds the max size of 1024");
    assertProblem(valid().setEncryptedData(ByteString.EMPTY), "encrypted data is empty");
    assertProblem(valid().setEncryptedDEKSourceTypeValue(7), "unknown encryptedDEKSourceType: 7");
    assertProblem(valid().putAnnotations("nodots", ByteString.EMPTY), "at least two segments");
    assertProblem(valid().putAnnotations("Upper.case", ByteString.EMPTY), "RFC 1123");
    assertProblem(
        valid().putAnnotations("a." + "b".repeat(64) + ".c", ByteString.EMPTY),
        "label longer than 63");
    assertProblem(
        valid().putAnnotations("big.example.com", ByteString.copyFrom(new byte[32 * 1024])),
        "total size of annotations is");
    assertNull(EncryptedObjects.fqdnProblem("trailing.dot.example."));
  }

  private static void assertProblem(EncryptedObject.Builder b, String expected) {
    EncryptedObject o = b.build();
    TransformException onWrite =
        assertThrows(TransformException.class, () -> EncryptedObjects.encode(o));
    assertTrue(onWrite.getMessage().contains(expected), onWrite.getMessage());
    TransformException onRead =
        assertThrows(TransformException.class, () -> EncryptedObjects.decode(o.toByteArray()));
    assertTrue(onRead.getMessage().contains(expected), onRead.getMessage());
  }

  @Test
  void garbageIsNotAnEncryptedObject() {
    assertThrows(
        TransformException.class, () -> EncryptedObjects.decode(new byte[] {(byte) 0xff, 0x01}));
    assertThrows(TransformException.class, () -> EncryptedObjects.decode(new byte[0]));
  }

  @Test
  void cacheKeysDependOnEverythingDecryptDependsOn() {
    ByteString dek = ByteString.copyFromUtf8("dek");
    Map<String, ByteString> ann =
        Map.of("a.b", ByteString.copyFromUtf8("1"), "c.d", ByteString.copyFromUtf8("2"));
    DekSourceCacheKey k = DekSourceCacheKey.of(EncryptedDEKSourceType.AES_GCM_KEY, dek, "1", ann);
    assertEquals(
        k,
        DekSourceCacheKey.of(
            EncryptedDEKSourceType.AES_GCM_KEY, dek, "1", new java.util.TreeMap<>(ann)));
    assertNotEquals(
        k,
        DekSourceCacheKey.of(
            EncryptedDEKSourceType.HKDF_SHA256_XNONCE_AES_GCM_SEED, dek, "1", ann));
    assertNotEquals(k, DekSourceCacheKey.of(EncryptedDEKSourceType.AES_GCM_KEY, dek, "2", ann));
    assertNotEquals(
        k,
        DekSourceCacheKey.of(
            EncryptedDEKSourceType.AES_GCM_KEY, ByteString.copyFromUtf8("dek2"), "1", ann));
    assertNotEquals(
        k, DekSourceCacheKey.of(EncryptedDEKSourceType.AES_GCM_KEY, dek, "1", Map.of()));
    // Length prefixes keep field boundaries: ("ab","c") and ("a","bc") differ.
    assertNotEquals(
        DekSourceCacheKey.of(
            EncryptedDEKSourceType.AES_GCM_KEY, ByteString.copyFromUtf8("ab"), "c", Map.of()),
        DekSourceCacheKey.of(
            EncryptedDEKSourceType.AES_GCM_KEY, ByteString.copyFromUtf8("a"), "bc", Map.of()));
  }
}
