package io.etcdcrypt.crypto;

import java.security.SecureRandom;

/** The proxy's one {@link SecureRandom}, for every nonce, IV, DEK and seed it draws. */
public final class SecureRandoms {

  /** Thread-safe; seeding one generator per transformer or per provider buys nothing. */
  public static final SecureRandom SHARED = new SecureRandom();

  private SecureRandoms() {}
}
