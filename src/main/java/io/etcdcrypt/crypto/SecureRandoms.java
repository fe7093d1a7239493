package io.etcdcrypt.crypto;

import java.nio.ByteBuffer;
import java.security.DrbgParameters;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.UUID;

/**
 * The proxy's one {@link SecureRandom}, for every nonce, IV, DEK, seed and request id it draws: a
 * NIST DRBG (Hash_DRBG, SHA-256, 256-bit strength) seeded once from the operating system. After
 * that it draws without I/O, so a write on an event loop never reads {@code /dev/urandom} (the
 * JDK's default generator does, under a lock).
 */
public final class SecureRandoms {

  /** Thread-safe; seeding one generator per transformer or per provider buys nothing. */
  public static final SecureRandom SHARED = newDrbg();

  private SecureRandoms() {}

  private static SecureRandom newDrbg() {
    try {
      SecureRandom drbg =
          SecureRandom.getInstance(
              "DRBG",
              DrbgParameters.instantiation(256, DrbgParameters.Capability.RESEED_ONLY, null));
      drbg.nextBytes(
          new byte[1]); // the DRBG reads its seed from the OS on first use: here, not on a request
      return drbg;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(
          "this JVM lacks the DRBG SecureRandom, which every Java 17 JDK provides", e);
    }
  }

  /** Seeds the generator now (it reads the OS's entropy once), so that no request pays for it. */
  public static void seedNow() {
    SHARED.getAlgorithm(); // loading this class seeded it
  }

  /**
   * A random (version 4) UUID drawn from {@link #SHARED}, as {@link UUID#randomUUID()} draws from
   * its own.
   */
  public static UUID uuid() {
    byte[] b = new byte[16];
    SHARED.nextBytes(b);
    b[6] = (byte) ((b[6] & 0x0f) | 0x40); // version 4
    b[8] = (byte) ((b[8] & 0x3f) | 0x80); // IETF variant
    ByteBuffer buf = ByteBuffer.wrap(b);
    return new UUID(buf.getLong(), buf.getLong());
  }
}
