package io.etcdcrypt.crypto;

/**
 * Where a transformer draws its IVs and nonces. Production code always uses {@link #SECURE_RANDOM};
 * tests pin the nonce to reproduce a recorded value byte for byte.
 */
@FunctionalInterface
interface NonceSource {

  /** Fills {@code nonce} completely. */
  void fill(byte[] nonce);

  /** The process-wide generator, {@link SecureRandoms#SHARED}. */
  NonceSource SECURE_RANDOM = SecureRandoms.SHARED::nextBytes;
}
