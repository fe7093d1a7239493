package io.etcdcrypt.ops;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.etcdcrypt.crypto.DecryptedDetail;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * How one stored value is kept, in census terms: its resource, a label naming what wrote it, and
 * whether it is current, stale, unreadable, or of a resource the configuration does not cover.
 *
 * <p>Labels: {@value #IDENTITY} for plaintext; the full provider and key prefix ({@code
 * k8s:enc:aesgcm:v1:key1:}, {@code k8s:enc:kms:v1:<name>:}); for KMS v2 the provider prefix and the
 * KEK's key id ({@code k8s:enc:kms:v2:<name>: key_id=<id>}), read from the stored EncryptedObject;
 * {@code k8s:enc:kms:v1:<name>: aes-cbc} for KMS v1 values Kubernetes 1.24 or older wrote; {@value
 * #UNDECRYPTABLE} when no configured provider opens the value.
 */
public record StoredAs(String resource, String label, State state, String error) {

  public static final String IDENTITY = DecryptedDetail.IDENTITY;
  public static final String UNDECRYPTABLE = "undecryptable";

  private static final String KMS_V2 = "k8s:enc:kms:v2:";
  private static final String KMS_V1 = "k8s:enc:kms:v1:";

  /** Label suffix of KMS v1 values whose data is AES-CBC, which only padding vouches for. */
  public static final String KMS_V1_CBC = "aes-cbc";

  /** What a value means for a rewrap. */
  public enum State {
    /**
     * Written by the first provider and key (or KMS key id) of its resource's rule: nothing to do.
     */
    CURRENT,
    /** Readable, but written by another provider, key or KMS key id: rewrap rewrites it. */
    STALE,
    /** No provider of the configuration opens it. */
    UNDECRYPTABLE,
    /** Its resource has no rule: stored as plaintext, as the configuration says. */
    NO_RULE
  }

  /**
   * Classifies the value stored at {@code key} (which decrypts it: that is the only way to know it
   * is readable). Null for keys that are not Kubernetes objects.
   */
  public static StoredAs classify(EncryptionCodec codec, ByteString key, ByteString value) {
    return Waits.inspect(codec, key, value).map(i -> of(i, value)).orElse(null);
  }

  static StoredAs of(EncryptionCodec.Inspection i, ByteString value) {
    if (i.error() != null) {
      return new StoredAs(i.resource(), UNDECRYPTABLE, State.UNDECRYPTABLE, i.error());
    }
    if (!i.configured()) {
      return new StoredAs(i.resource(), IDENTITY, State.NO_RULE, null);
    }
    DecryptedDetail d = i.detail();
    Optional<String> garbage = Unauthenticated.whyUnreadable(d);
    if (garbage.isPresent()) {
      return new StoredAs(i.resource(), UNDECRYPTABLE, State.UNDECRYPTABLE, garbage.get());
    }
    String label = d.readAsPlaintext() ? IDENTITY : d.matchedPrefix();
    if (label.startsWith(KMS_V2)) {
      label = label + " key_id=" + kmsV2KeyId(value, label.length());
    } else if (d.unauthenticated() && label.startsWith(KMS_V1)) {
      label = label + " " + KMS_V1_CBC; // AES-CBC data from Kubernetes 1.24 or older
    }
    return new StoredAs(i.resource(), label, d.stale() ? State.STALE : State.CURRENT, null);
  }

  /**
   * The key id of a KMS v2 value, read from its EncryptedObject without asking the plugin for
   * anything.
   */
  private static String kmsV2KeyId(ByteString value, int prefixLength) {
    try {
      return EncryptedObject.parseFrom(value.substring(prefixLength)).getKeyID();
    } catch (InvalidProtocolBufferException e) {
      return "?"; // cannot happen for a value the provider just opened
    }
  }

  /** A key as people read it; Kubernetes keys are UTF-8 text. */
  static String printable(ByteString key) {
    return key.toString(StandardCharsets.UTF_8);
  }
}
