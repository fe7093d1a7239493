package io.etcdcrypt.kms;

import io.grpc.Status;

/**
 * What KMS providers report for metrics: plugin calls, DEK cache use, key ids. Every method has a
 * no-op default so an observer implements only what it records. Implementations must be thread-safe
 * and fast (they are called on the data path) and must never throw. Key ids are passed as they are;
 * hash them before exporting.
 */
public interface KmsObserver {

  /** Records nothing. */
  KmsObserver NONE = new KmsObserver() {};

  /** Which way a value was transformed. */
  enum Direction {
    TO_STORAGE,
    FROM_STORAGE
  }

  /**
   * One gRPC call to a plugin finished. {@code fullMethod} is the full gRPC path, e.g. {@code
   * /v2.KeyManagementService/Encrypt}; {@code code} is {@code OK} on success.
   */
  default void pluginCall(String provider, String fullMethod, Status.Code code, long nanos) {}

  /** Why a plugin call was not made, or abandoned before its answer. */
  enum DropReason {
    /** The client whose write needed the call cancelled it. */
    CLIENT_CANCELLED("client_cancelled"),
    /** The client's deadline passed first. */
    CLIENT_DEADLINE("client_deadline"),
    /** As many calls as allowed already waited on the plugin. */
    QUEUE_FULL("queue_full");

    private final String label;

    DropReason(String label) {
      this.label = label;
    }

    /** The metric label value. */
    public String label() {
      return label;
    }
  }

  /** A call to {@code fullMethod} was not made, or was abandoned, for {@code reason}. */
  default void pluginCallDropped(String provider, String fullMethod, DropReason reason) {}

  /** A stored DEK/seed was found in the provider's cache (no plugin call). */
  default void dekCacheHit(String provider) {}

  /** A stored DEK/seed was not cached: the plugin is asked to decrypt it. */
  default void dekCacheMiss(String provider) {}

  /**
   * The DEK cache now holds {@code size} entries; {@code capacity} is its bound, or -1 when
   * unbounded.
   */
  default void dekCacheSize(String provider, int size, int capacity) {}

  /** A fresh DEK or seed was drawn from the random source. */
  default void dataKeyGenerated(long nanos, boolean ok) {}

  /** A KMS v2 value was written or read under {@code keyId}. */
  default void keyIdUsed(String provider, Direction direction, String keyId) {}

  /** A KMS v2 Status call reported a valid {@code keyId}. */
  default void statusKeyId(String provider, String keyId) {}

  /**
   * A KMS v2 Status call reported an unusable key id; {@code reason} is {@code empty} or {@code
   * too_long}.
   */
  default void invalidStatusKeyId(String provider, String reason) {}
}
