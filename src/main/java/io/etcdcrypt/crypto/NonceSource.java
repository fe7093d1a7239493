package io.etcdcrypt.crypto;

import java.security.SecureRandom;

/**
 * Where a transformer draws its IVs and nonces. Production code always uses {@link #SECURE_RANDOM}; tests pin the
 * nonce to reproduce a recorded value byte for byte.
 */
@FunctionalInterface
interface NonceSource {

  /** Fills {@code nonce} completely. */
  void fill(byte[] nonce);

  /** One process-wide {@link SecureRandom}: it is thread-safe, and seeding one per transformer buys nothing. */
  NonceSource SECURE_RANDOM = SharedRandom.INSTANCE::nextBytes;

  /** Holder so the generator is created (and seeded) on first use, not when the interface is loaded. */
  final class SharedRandom {
    static final SecureRandom INSTANCE = new SecureRandom();

    private SharedRandom() {}
  }
}
