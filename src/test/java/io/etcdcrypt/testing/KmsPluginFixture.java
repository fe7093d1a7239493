package io.etcdcrypt.testing;

import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.kmsplugin.KekRing;
import io.etcdcrypt.kmsplugin.KekStore;
import io.etcdcrypt.kmsplugin.KeyFileKekStore;
import io.etcdcrypt.kmsplugin.KmsPluginServer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The bundled KMS plugin started in-process on a socket in a temp dir, with a fresh key file
 * holding one KEK ({@code kek-1}). {@link #addKek(String)} rotates; the plugin re-reads the file
 * every 100 ms.
 */
public final class KmsPluginFixture implements AutoCloseable {

  public static final Duration RELOAD_INTERVAL = Duration.ofMillis(100);

  private final Path keyFile;
  private final KmsEndpoint endpoint;
  private final AtomicInteger failedReloads = new AtomicInteger();
  private KmsPluginServer server;

  private KmsPluginFixture(Path keyFile, KmsEndpoint endpoint) {
    this.keyFile = keyFile;
    this.endpoint = endpoint;
  }

  /**
   * Starts the plugin in {@code dir} (the socket is {@code dir/plugin.sock}, the key file {@code
   * dir/keks}).
   */
  public static KmsPluginFixture start(Path dir) throws IOException {
    return start(dir, KmsEndpoint.of("unix://" + dir.toAbsolutePath().resolve("plugin.sock")));
  }

  public static KmsPluginFixture start(Path dir, KmsEndpoint endpoint) throws IOException {
    RealComponentsGuard.starting("the bundled KMS plugin on a unix socket");
    Path keyFile = dir.resolve("keks");
    KeyFileKekStore.generateKey(keyFile, "kek-1", Clock.systemUTC());
    KmsPluginFixture f = new KmsPluginFixture(keyFile, endpoint);
    f.server =
        KmsPluginServer.start(
            endpoint, f.counted(KeyFileKekStore.open(keyFile)), RELOAD_INTERVAL, "test");
    return f;
  }

  /** {@code store}, counting the reloads that fail (the plugin then keeps its previous KEKs). */
  private KekStore counted(KekStore store) {
    return new KekStore() {
      @Override
      public KekRing ring() {
        return store.ring();
      }

      @Override
      public boolean reload() throws Exception {
        try {
          return store.reload();
        } catch (Exception e) {
          failedReloads.incrementAndGet();
          throw e;
        }
      }

      @Override
      public String describe() {
        return store.describe();
      }

      @Override
      public void close() {
        store.close();
      }
    };
  }

  public KmsEndpoint endpoint() {
    return endpoint;
  }

  public Path keyFile() {
    return keyFile;
  }

  /** Appends a KEK, which becomes current once the plugin reloads the file. */
  public void addKek(String id) throws IOException {
    KeyFileKekStore.generateKey(keyFile, id, Clock.systemUTC());
  }

  /** Stops the plugin, as a crash or an outage would; its socket goes away. */
  public void stop() {
    if (server != null) {
      server.close();
      server = null;
    }
  }

  /** Starts the plugin again on the same socket with the same key file. */
  public void restart() throws IOException {
    stop();
    server =
        KmsPluginServer.start(
            endpoint, counted(KeyFileKekStore.open(keyFile)), RELOAD_INTERVAL, "test");
  }

  /** How many times the plugin re-read its key file and rejected it, since this fixture started. */
  public int failedReloads() {
    return failedReloads.get();
  }

  /** The KEK id the plugin uses now. */
  public String currentKekId() {
    return server.store().ring().current().id();
  }

  @Override
  public void close() {
    stop();
  }
}
