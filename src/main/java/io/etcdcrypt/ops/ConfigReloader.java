package io.etcdcrypt.ops;

import io.etcdcrypt.config.ConfigException;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.LoadOptions;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.crypto.TransformObserver;
import io.etcdcrypt.kms.KmsProviders;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --encryption-provider-config-automatic-reload}: applies a changed EncryptionConfiguration
 * file without a restart and without dropping a connection.
 *
 * <p>The file is watched (its directories, see {@link DirectoryWatcher}) and also polled, since
 * watches miss changes behind symlinks into other directories and on some file systems. A change is
 * what kube-apiserver calls one: a different SHA-256 of the file's bytes. A changed file is loaded
 * and validated with reload semantics, every provider is built (KMS providers with a new {@link
 * KmsProviders}), and the new KMS providers get up to max(grace period, 10 s) to become healthy,
 * checked every 100 ms. Only then is the new codec swapped into the {@link SwappableCodec}: calls
 * already running finish on the old one, whose KMS providers are closed after the old
 * configuration's grace period (twice the sum of its KMS timeouts). If anything fails the old
 * configuration stays in effect; the failure is logged (without key material) and counted. A file
 * that does not validate is not tried again until it changes; one whose providers failed is retried
 * at the next poll.
 *
 * <p>The reloader owns the KMS providers of every generation, the initial one included: {@link
 * #close()} closes them all, so close it after the proxy has stopped serving.
 */
public final class ConfigReloader implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ConfigReloader.class);

  /**
   * @param pollInterval how often the file is read and hashed (kube-apiserver polls every minute)
   * @param watchFiles whether directory changes trigger a check at once
   * @param minHealthWait the least time new KMS providers get to become healthy (kube-apiserver: 10
   *     s)
   * @param closeGrace how long a replaced configuration's KMS providers stay open; null for
   *     kube-apiserver's grace period of that configuration
   * @param kmsFactory makes the KMS provider factory of each new configuration
   * @param debounce how long after a directory change the file is checked (an editor writes in
   *     several steps)
   * @param transforms observes the transformations of every new configuration's codec (metrics)
   * @param onReload hears the outcome of every attempt to apply a changed file (metrics)
   */
  public record Options(
      Duration pollInterval,
      boolean watchFiles,
      Duration minHealthWait,
      Duration closeGrace,
      Supplier<KmsProviders> kmsFactory,
      Duration debounce,
      TransformObserver transforms,
      Consumer<Boolean> onReload) {

    public static Options defaults() {
      return new Options(
          Duration.ofMinutes(1),
          true,
          KmsReadiness.MIN_WAIT,
          null,
          KmsProviders::new,
          Duration.ofMillis(200),
          TransformObserver.NONE,
          applied -> {});
    }

    /** Metrics for every configuration this reloader builds, and for its reloads. */
    public Options withObservers(TransformObserver t, Consumer<Boolean> reloads) {
      return new Options(
          pollInterval, watchFiles, minHealthWait, closeGrace, kmsFactory, debounce, t, reloads);
    }

    public Options withPollInterval(Duration d) {
      return new Options(
          d, watchFiles, minHealthWait, closeGrace, kmsFactory, debounce, transforms, onReload);
    }

    public Options withWatchFiles(boolean watch) {
      return new Options(
          pollInterval,
          watch,
          minHealthWait,
          closeGrace,
          kmsFactory,
          debounce,
          transforms,
          onReload);
    }

    public Options withMinHealthWait(Duration d) {
      return new Options(
          pollInterval, watchFiles, d, closeGrace, kmsFactory, debounce, transforms, onReload);
    }

    public Options withCloseGrace(Duration d) {
      return new Options(
          pollInterval, watchFiles, minHealthWait, d, kmsFactory, debounce, transforms, onReload);
    }

    public Options withKmsFactory(Supplier<KmsProviders> factory) {
      return new Options(
          pollInterval,
          watchFiles,
          minHealthWait,
          closeGrace,
          factory,
          debounce,
          transforms,
          onReload);
    }
  }

  /** A configuration in effect and the KMS providers built for it. */
  private record Generation(EncryptionConfiguration config, KmsProviders kms) {}

  private final Path file;
  private final ResourceResolver resolver;
  private final SwappableCodec codec;
  private final Options options;
  private final ReentrantLock reloading = new ReentrantLock();
  private final ScheduledExecutorService timer;
  private final AtomicBoolean checkScheduled = new AtomicBoolean();
  private final AtomicLong successes = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();
  private final List<KmsProviders> closing = new ArrayList<>();
  private volatile Generation current;
  private volatile String lastError;
  private String rejectedHash;
  private DirectoryWatcher watcher;
  private volatile boolean closed;

  private ConfigReloader(
      Path file,
      ResourceResolver resolver,
      SwappableCodec codec,
      KmsProviders initialKms,
      Options options) {
    this.file = file;
    this.resolver = resolver;
    this.codec = codec;
    this.options = options;
    this.current = new Generation(codec.current().config(), initialKms);
    ScheduledThreadPoolExecutor t =
        new ScheduledThreadPoolExecutor(
            2,
            r -> {
              Thread th = new Thread(r, "config-reload");
              th.setDaemon(true);
              return th;
            });
    t.setRemoveOnCancelPolicy(true);
    this.timer = t;
  }

  /**
   * Starts watching and polling {@code file}.
   *
   * @param codec the proxy's codec; its current codec must have been built from {@code file} with
   *     {@code initialKms} and {@code resolver}
   * @param initialKms the KMS providers of the current codec; the reloader closes them when they
   *     are replaced
   */
  public static ConfigReloader start(
      Path file,
      ResourceResolver resolver,
      SwappableCodec codec,
      KmsProviders initialKms,
      Options options)
      throws IOException {
    ConfigReloader r = new ConfigReloader(file, resolver, codec, initialKms, options);
    if (options.watchFiles()) {
      r.watcher = DirectoryWatcher.start(file, r::scheduleCheck);
    }
    long poll = options.pollInterval().toMillis();
    r.timer.scheduleWithFixedDelay(r::checkQuietly, poll, poll, TimeUnit.MILLISECONDS);
    log.info(
        "watching {} for changes of the encryption configuration (and reading it every {} s)",
        file,
        options.pollInterval().toSeconds());
    return r;
  }

  /**
   * Checks the file now and applies it if it changed; returns whether a new configuration is in
   * effect. Runs on the caller's thread, one check at a time.
   */
  public boolean reloadIfChanged() throws InterruptedException {
    reloading.lockInterruptibly();
    try {
      return closed ? false : check();
    } finally {
      reloading.unlock();
    }
  }

  /** Configurations applied since start. */
  public long reloadSuccesses() {
    return successes.get();
  }

  /**
   * Changed files that were not applied (invalid, providers failed, KMS unhealthy), counting every
   * attempt.
   */
  public long reloadFailures() {
    return failures.get();
  }

  /** Why the last failed attempt failed, or null if none has. */
  public String lastError() {
    return lastError;
  }

  /**
   * {@code sha256:<hex>} of the file in effect (compare it, do not show it: it is a digest of key
   * material).
   */
  public String currentConfigHash() {
    return current.config().sha256();
  }

  /** The configuration in effect. */
  public EncryptionConfiguration currentConfig() {
    return current.config();
  }

  /** The KMS providers of the configuration in effect, for the readiness check. */
  public KmsProviders currentKms() {
    return current.kms();
  }

  private void scheduleCheck() {
    if (!closed && checkScheduled.compareAndSet(false, true)) {
      timer.schedule(
          () -> {
            checkScheduled.set(false);
            checkQuietly();
          },
          options.debounce().toMillis(),
          TimeUnit.MILLISECONDS);
    }
  }

  private void checkQuietly() {
    try {
      reloadIfChanged();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      fail("unexpected error: " + e);
    }
  }

  private boolean check() throws InterruptedException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      return fail("cannot read the file: " + e.getMessage());
    }
    String hash = sha256(bytes);
    if (hash.equals(current.config().sha256()) || hash.equals(rejectedHash)) {
      return false;
    }
    EncryptionConfiguration config;
    try {
      config = EncryptionConfigLoader.parse(bytes, file.toString(), new LoadOptions(true));
    } catch (ConfigException e) {
      rejectedHash = hash;
      return fail(
          "it is not valid: "
              + e.errors().stream().map(Object::toString).collect(Collectors.joining("; ")));
    }
    rejectedHash = null;
    KmsProviders kms = options.kmsFactory().get();
    EncryptionCodec next;
    try {
      next = EncryptionCodec.create(config, resolver, kms, options.transforms());
      Duration wait = max(KmsReadiness.closeGracePeriod(config), options.minHealthWait());
      List<String> unhealthy = KmsReadiness.await(kms, wait);
      if (!unhealthy.isEmpty()) {
        kms.close();
        return fail(
            "its KMS providers did not become healthy within "
                + wait.toMillis()
                + " ms: "
                + String.join("; ", unhealthy));
      }
    } catch (TransformException | RuntimeException e) {
      kms.close();
      return fail("cannot build its providers: " + e.getMessage());
    } catch (InterruptedException e) {
      kms.close();
      throw e;
    }
    config
        .warnings()
        .forEach(w -> log.warn("encryption configuration: {}: {}", w.path(), w.message()));
    Generation old = current;
    codec.swap(next);
    current = new Generation(config, kms);
    successes.incrementAndGet();
    options.onReload().accept(true);
    lastError = null;
    Duration grace =
        options.closeGrace() != null
            ? options.closeGrace()
            : KmsReadiness.closeGracePeriod(old.config());
    retire(old.kms(), grace);
    log.info(
        "applied the changed encryption configuration {} ({} rules); KMS providers of the previous one close"
            + " in {} ms",
        file,
        config.rules().size(),
        grace.toMillis());
    return true;
  }

  private boolean fail(String reason) {
    failures.incrementAndGet();
    options.onReload().accept(false);
    lastError = reason;
    log.error(
        "the encryption configuration {} changed but was not applied, the previous one stays in effect: {}",
        file,
        reason);
    return false;
  }

  /** Closes {@code kms} after {@code grace}, so that calls which started with it can finish. */
  private void retire(KmsProviders kms, Duration grace) {
    synchronized (closing) {
      closing.add(kms);
    }
    timer.schedule(
        () -> {
          synchronized (closing) {
            closing.remove(kms);
          }
          kms.close();
        },
        grace.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /** Stops watching and polling, and closes the KMS providers of every generation. */
  @Override
  public void close() {
    closed = true;
    if (watcher != null) {
      watcher.close();
    }
    timer.shutdownNow();
    reloading.lock(); // a running check finishes (or fails) before its providers are closed
    try {
      List<KmsProviders> pending;
      synchronized (closing) {
        pending = new ArrayList<>(closing);
        closing.clear();
      }
      pending.forEach(KmsProviders::close);
      current.kms().close();
    } finally {
      reloading.unlock();
    }
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  /**
   * kube-apiserver's change detector: {@code sha256:<hex>} of the raw bytes, as {@link
   * EncryptionConfiguration#sha256()}.
   */
  static String sha256(byte[] bytes) {
    try {
      return "sha256:"
          + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
