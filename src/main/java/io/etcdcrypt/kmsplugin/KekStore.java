package io.etcdcrypt.kmsplugin;

/**
 * Where the bundled plugin's KEKs come from. {@link #ring()} is cheap and returns the latest
 * snapshot; {@link #reload()} re-reads the source and publishes a new ring when it changed.
 */
public interface KekStore extends AutoCloseable {

  /** The current ring; never {@code null} once the store was opened. */
  KekRing ring();

  /**
   * Re-reads the source. Returns true when the ring changed. On an error the previous ring stays in
   * effect and the exception says what is wrong with the source.
   */
  boolean reload() throws Exception;

  /** A short description for logs, e.g. the key file path (never key material). */
  String describe();

  @Override
  default void close() {}
}
