package io.etcdcrypt.crypto;

/**
 * What the {@link EncryptionCodec} reports about the values it seals and opens, for metrics. Every
 * method has a no-op default, so an observer implements only what it records. Implementations must
 * be thread-safe, fast (they run on the data path) and must never throw.
 *
 * <p>The codec passes on the samples its prefix chains record while they walk (see {@link
 * PrefixTransformers.Samples}), the ones kube-apiserver's chains record, so that an observer can
 * export them under kube-apiserver's names: one per chain level a value passes through (the
 * provider, e.g. {@code k8s:enc:aesgcm:v1:}, and for aescbc/aesgcm/secretbox also its key, e.g.
 * {@code key1:}), with {@value DecryptedDetail#IDENTITY} for values the identity provider read, the
 * empty string for values it wrote, and {@value #UNKNOWN_PREFIX} for stored values no provider's
 * prefix matched. Resources without a rule report nothing. Values are never passed, only what was
 * done with them.
 */
public interface TransformObserver {

  /** Records nothing. */
  TransformObserver NONE = new TransformObserver() {};

  /** The {@code transformer_prefix} of a read that no provider's prefix matched. */
  String UNKNOWN_PREFIX = "unknown";

  /** Which way a value was transformed. */
  enum Direction {
    TO_STORAGE,
    FROM_STORAGE
  }

  /**
   * One transformation sample.
   *
   * @param resource the resource as the configuration names it ({@code secrets}, {@code
   *     deployments.apps})
   * @param transformerPrefix the prefix of the chain entry, as described in the class comment
   * @param nanos how long that level of the chain took
   * @param error why it failed, or {@code null} when it succeeded
   */
  default void transformed(
      String resource,
      Direction direction,
      String transformerPrefix,
      long nanos,
      TransformException error) {}

  /**
   * A value of {@code resource} was read as plaintext although the resource's first provider
   * encrypts: written before encryption was configured, or written past the proxy. Rewriting it
   * encrypts it.
   */
  default void plaintextRead(String resource) {}

  /**
   * A value of {@code resource} was written by a provider or key that no longer writes (a rewrite
   * would renew it).
   */
  default void staleRead(String resource) {}

  /**
   * A client wrote a value of {@code resource} that already carries a {@code k8s:enc:} prefix:
   * {@code storedAsIs} when the configuration opens it (it was stored without a second layer),
   * false when it does not (the write was refused).
   */
  default void alreadyEncryptedWrite(String resource, boolean storedAsIs) {}
}
