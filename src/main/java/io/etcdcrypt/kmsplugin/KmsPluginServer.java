package io.etcdcrypt.kmsplugin;

import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.kms.UnixSocketTransport;
import io.grpc.Server;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bundled KMS plugin: serves the KMS v2 and v1beta1 APIs on one unix socket, backed by a {@link
 * KekStore}, and re-reads the store every {@code reloadInterval} so that a newly added KEK becomes
 * current without a restart.
 */
public final class KmsPluginServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(KmsPluginServer.class);

  private final KmsEndpoint endpoint;
  private final KekStore store;
  private final Server server;
  private final ScheduledExecutorService reloader;
  private final Object socketFile; // the inode of the socket file it created; null for abstract

  private KmsPluginServer(
      KmsEndpoint endpoint,
      KekStore store,
      Server server,
      ScheduledExecutorService reloader,
      Object socketFile) {
    this.endpoint = endpoint;
    this.socketFile = socketFile;
    this.store = store;
    this.server = server;
    this.reloader = reloader;
  }

  /** Binds {@code endpoint} and starts serving; the store's ownership passes to the server. */
  public static KmsPluginServer start(
      KmsEndpoint endpoint, KekStore store, Duration reloadInterval, String runtimeVersion)
      throws IOException {
    KeyWrapper wrapper = new KeyWrapper(store);
    Server server =
        UnixSocketTransport.serverBuilder(endpoint)
            .addService(new KmsV2PluginService(wrapper))
            .addService(new KmsV1PluginService(wrapper, runtimeVersion))
            .build();
    try {
      server.start();
    } catch (IOException e) {
      throw new IOException("cannot listen on " + endpoint + ": " + e.getMessage(), e);
    }
    ScheduledExecutorService reloader =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "kms-plugin-key-reload");
              t.setDaemon(true);
              return t;
            });
    long period = reloadInterval.toMillis();
    reloader.scheduleWithFixedDelay(() -> reload(store), period, period, TimeUnit.MILLISECONDS);
    log.info(
        "KMS plugin listening on {} (KMS v2 and v1beta1) with {}; current KEK {}",
        endpoint,
        store.describe(),
        store.ring().current().id());
    Object socketFile =
        endpoint.isAbstract()
            ? null
            : UnixSocketTransport.socketFileKey(Path.of(endpoint.socketPath()));
    return new KmsPluginServer(endpoint, store, server, reloader, socketFile);
  }

  private static void reload(KekStore store) {
    try {
      store.reload();
    } catch (Exception e) {
      log.error(
          "KMS plugin could not reload its {}; the previous KEKs stay in use: {}",
          store.describe(),
          e.getMessage());
    }
  }

  public KmsEndpoint endpoint() {
    return endpoint;
  }

  public KekStore store() {
    return store;
  }

  /** Blocks until the server stops. */
  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  @Override
  public void close() {
    reloader.shutdownNow();
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    removeOwnSocket();
    store.close();
  }

  /** Removes the socket file this server created, unless another process has replaced it since. */
  private void removeOwnSocket() {
    if (socketFile == null) {
      return;
    }
    Path socket = Path.of(endpoint.socketPath());
    if (!socketFile.equals(UnixSocketTransport.socketFileKey(socket))) {
      log.info("not removing {}: another process created the socket there since", socket);
      return;
    }
    try {
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      log.warn("could not remove socket {}: {}", socket, e.getMessage());
    }
  }
}
