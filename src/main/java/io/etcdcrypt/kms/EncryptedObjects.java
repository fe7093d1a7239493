package io.etcdcrypt.kms;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.proto.v2.EncryptedDEKSourceType;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Reads, checks and writes the KMS v2 {@link EncryptedObject}. The same limits apply on both sides,
 * as in kube-apiserver: a value that breaks them is neither written nor trusted on read.
 */
public final class EncryptedObjects {

  public static final int KEY_ID_MAX_SIZE = 1024;
  public static final int ENCRYPTED_DEK_SOURCE_MAX_SIZE = 1024;
  public static final int ANNOTATIONS_MAX_SIZE = 32 * 1024;

  private static final Pattern DNS1123_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern DNS1123_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  private EncryptedObjects() {}

  /** Parses and validates a stored value (the bytes after the provider prefix). */
  public static EncryptedObject decode(byte[] stored) throws TransformException {
    EncryptedObject o;
    try {
      o = EncryptedObject.parseFrom(stored);
    } catch (InvalidProtocolBufferException e) {
      throw new TransformException(
          "stored KMS v2 value is not a valid EncryptedObject: " + e.getMessage());
    }
    List<String> problems = problems(o);
    if (!problems.isEmpty()) {
      throw new TransformException(
          "stored KMS v2 value is invalid: " + String.join("; ", problems));
    }
    return o;
  }

  /** Validates and serializes an object about to be written. */
  public static byte[] encode(EncryptedObject o) throws TransformException {
    List<String> problems = problems(o);
    if (!problems.isEmpty()) {
      throw new TransformException(
          "refusing to write an invalid KMS v2 EncryptedObject: " + String.join("; ", problems));
    }
    return o.toByteArray();
  }

  /** Everything wrong with {@code o}, in words; empty when it is valid. */
  public static List<String> problems(EncryptedObject o) {
    List<String> problems = new ArrayList<>();
    EncryptedDEKSourceType type = o.getEncryptedDEKSourceType();
    if (type != EncryptedDEKSourceType.AES_GCM_KEY
        && type != EncryptedDEKSourceType.HKDF_SHA256_XNONCE_AES_GCM_SEED) {
      problems.add("unknown encryptedDEKSourceType: " + o.getEncryptedDEKSourceTypeValue());
    }
    if (o.getEncryptedData().isEmpty()) {
      problems.add("encrypted data is empty");
    }
    String dekProblem = encryptedDekSourceProblem(o.getEncryptedDEKSource());
    if (dekProblem != null) {
      problems.add(dekProblem);
    }
    String keyIdProblem = keyIdProblem(o.getKeyID());
    if (keyIdProblem != null) {
      problems.add(keyIdProblem);
    }
    problems.addAll(annotationProblems(o.getAnnotationsMap()));
    return problems;
  }

  static String encryptedDekSourceProblem(ByteString source) {
    if (source.isEmpty()) {
      return "encrypted DEK source is empty";
    }
    if (source.size() > ENCRYPTED_DEK_SOURCE_MAX_SIZE) {
      return "encrypted DEK source is "
          + source.size()
          + " bytes, which exceeds the max size of "
          + ENCRYPTED_DEK_SOURCE_MAX_SIZE;
    }
    return null;
  }

  /**
   * {@code null} when the key id is usable, else {@code empty} or {@code too_long} (the metric
   * label).
   */
  public static String keyIdErrorCode(String keyId) {
    if (keyId.isEmpty()) {
      return "empty";
    }
    return utf8Length(keyId) > KEY_ID_MAX_SIZE ? "too_long" : null;
  }

  static String keyIdProblem(String keyId) {
    String code = keyIdErrorCode(keyId);
    if (code == null) {
      return null;
    }
    return code.equals("empty")
        ? "keyID is empty"
        : "keyID is "
            + utf8Length(keyId)
            + " bytes, which exceeds the max size of "
            + KEY_ID_MAX_SIZE;
  }

  static List<String> annotationProblems(Map<String, ByteString> annotations) {
    List<String> problems = new ArrayList<>();
    long total = 0;
    for (Map.Entry<String, ByteString> e : annotations.entrySet()) {
      String keyProblem = fqdnProblem(e.getKey());
      if (keyProblem != null) {
        problems.add("annotation key '" + e.getKey() + "' " + keyProblem);
      }
      total += utf8Length(e.getKey()) + e.getValue().size();
    }
    if (total > ANNOTATIONS_MAX_SIZE) {
      problems.add(
          "total size of annotations is "
              + total
              + ", which exceeds the max size of "
              + ANNOTATIONS_MAX_SIZE);
    }
    return problems;
  }

  /**
   * Kubernetes' IsFullyQualifiedDomainName: an RFC 1123 subdomain of at least two labels; a final
   * dot is allowed.
   */
  static String fqdnProblem(String name) {
    if (name.isEmpty()) {
      return "is empty";
    }
    String n = name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
    if (n.length() > 253 || !DNS1123_SUBDOMAIN.matcher(n).matches()) {
      return "must be a lower-case RFC 1123 subdomain of at most 253 characters";
    }
    String[] labels = n.split("\\.", -1);
    if (labels.length < 2) {
      return "should be a domain with at least two segments separated by dots";
    }
    for (String label : labels) {
      if (label.length() > 63 || !DNS1123_LABEL.matcher(label).matches()) {
        return "has a label longer than 63 characters";
      }
    }
    return null;
  }

  private static int utf8Length(String s) {
    return s.getBytes(StandardCharsets.UTF_8).length;
  }
}
