package io.etcdcrypt.kms;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.SecureRandoms;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.proto.v2.EncryptResponse;
import io.etcdcrypt.kms.proto.v2.EncryptedDEKSourceType;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import io.etcdcrypt.kms.proto.v2.StatusResponse;
import io.etcdcrypt.log.Durations;
import io.etcdcrypt.log.StateChangeLog;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a KMS v2 provider's write seed in step with its plugin, as kube-apiserver's probe does.
 *
 * <p>Each check calls Status. With a valid key id: if the current seed belongs to that key id, only
 * its write window is extended (now + 3 min); otherwise (first check, key id changed) a new 32-byte
 * seed is drawn and sent to the plugin's Encrypt, whose key id must equal the Status key id, and
 * the new seed replaces the old one. Any failure keeps the previous seed ("coasting") until its
 * window ends. So a seed is generated only at start-up and when the key id changes, never on a
 * timer. Providers that only read ({@link KmsProviderOptions#readOnly}) never call Encrypt: their
 * state holds the Status key id alone, which is all a read needs to tell stale values. Healthy
 * additionally requires {@code healthz == "ok"} and a supported, unchanging API version.
 *
 * <p>Checks run on a daemon thread every 60 s (10 s while failing) and when a health probe finds
 * the cached result stale.
 */
final class KmsV2StatusProbe implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(KmsV2StatusProbe.class);
  private static final Set<String> SUPPORTED_VERSIONS = Set.of("v2", "v2beta1");
  private static final int SEED_SIZE = 32;

  private final String name;
  private final KmsV2Client client;
  private final KmsProviderOptions options;
  private final CachedHealth health;
  private final AtomicReference<KmsV2WriteState> state = new AtomicReference<>();
  private final ScheduledExecutorService poller;
  private String firstVersion;
  private final StateChangeLog transitions; // logs each change of health once
  private volatile String lastProblem; // what the last failed check found, for client errors
  private volatile boolean closed;

  KmsV2StatusProbe(String name, KmsV2Client client, KmsProviderOptions options) {
    this.name = name;
    this.client = client;
    this.options = options;
    this.health =
        new CachedHealth(options.clock(), options.healthyResultTtl(), options.failedResultTtl());
    this.poller =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "kms-v2-status-" + name);
              t.setDaemon(true);
              return t;
            });
    this.transitions =
        ProviderHealthLog.of(
            log,
            "v2",
            name,
            client.endpoint(),
            "/readyz fails, reads of values whose DEK seed is not cached fail, and writes fail once"
                + " the current seed's write window ends (at most "
                + Durations.brief(options.writeWindow())
                + "); checking it again every "
                + options.failingStatusPollInterval().toSeconds()
                + " s");
  }

  /**
   * Runs the first check now (bounded by the call timeout; a failure is not fatal) and starts
   * polling.
   */
  void start() {
    KmsHealth first = health.record(check());
    scheduleNext(first.ok());
  }

  /**
   * The seed to write with, or {@code null} before the first successful Status + Encrypt exchange.
   */
  KmsV2WriteState state() {
    return state.get();
  }

  KmsHealth health() {
    return health.get(this::check);
  }

  /** Checks now, ignoring the cached result, and caches the outcome. */
  KmsHealth checkNow() {
    return health.record(check());
  }

  /** The last health result without checking (for error messages). */
  KmsHealth lastHealth() {
    KmsHealth last = health.last();
    return last == null ? KmsHealth.failed("no Status check has run yet") : last;
  }

  /**
   * One Status check with seed rotation or extension (see the class comment), logging a change of
   * health once.
   */
  synchronized KmsHealth check() {
    KmsHealth result = checkStatus();
    if (result.ok()) {
      transitions.up();
    } else {
      transitions.down(lastProblem);
    }
    return result;
  }

  private KmsHealth checkStatus() {
    StatusResponse status;
    try {
      status = Stages.join(client.status());
    } catch (TransformException e) {
      return unhealthy(List.of(e.getMessage()));
    }
    List<String> errors = new ArrayList<>();
    String keyId = status.getKeyId();
    String keyIdError = EncryptedObjects.keyIdErrorCode(keyId);
    if (keyIdError != null) {
      options.observer().invalidStatusKeyId(name, keyIdError);
      errors.add("Status returned an unusable key_id: " + EncryptedObjects.keyIdProblem(keyId));
    } else {
      options.observer().statusKeyId(name, keyId);
      // Taken after Status answered and before any Encrypt, so 3 minutes is an upper bound, as
      // upstream.
      Instant expiry = options.clock().instant().plus(options.writeWindow());
      KmsV2WriteState current = state.get();
      if (current != null && current.keyId().equals(keyId)) {
        state.set(current.withExpiry(expiry));
      } else if (options.readOnly()) {
        state.set(KmsV2WriteState.readOnly(keyId, expiry)); // no seed: nothing will be written
      } else {
        try {
          state.set(newSeed(keyId, expiry));
          log.info(
              "KMS v2 provider {} generated a new DEK seed for key id hash {}",
              name,
              KeyIds.hash(keyId));
        } catch (TransformException e) {
          errors.add(
              "failed to rotate the DEK seed to key id hash "
                  + KeyIds.hash(keyId)
                  + " (writes keep the"
                  + " previous seed until its window ends): "
                  + e.getMessage());
        }
      }
    }
    if (!"ok".equals(status.getHealthz())) {
      errors.add("got unexpected healthz status: " + status.getHealthz());
    }
    String version = status.getVersion();
    if (!SUPPORTED_VERSIONS.contains(version)) {
      errors.add(
          "expected KMSv2 API version v2 or v2beta1, got "
              + (version.isEmpty() ? "an empty version" : version));
    } else if (firstVersion == null) {
      firstVersion = version;
    } else if (!firstVersion.equals(version)) {
      errors.add("KMSv2 API version changed from " + firstVersion + " to " + version);
    }
    if (errors.isEmpty()) {
      lastProblem = null;
      return KmsHealth.healthy();
    }
    return unhealthy(errors);
  }

  /**
   * What the last failed check found, without the health check's wording around it (for errors that
   * reach clients, which must stay short); null when it passed.
   */
  String lastProblem() {
    return lastProblem;
  }

  private KmsHealth unhealthy(List<String> errors) {
    lastProblem = String.join("; ", errors);
    return KmsHealth.failed(
        "kmsv2 Provider " + name + " is not healthy, error: " + String.join("; ", errors));
  }

  private KmsV2WriteState newSeed(String statusKeyId, Instant expiry) throws TransformException {
    long start = System.nanoTime();
    byte[] seed = new byte[SEED_SIZE];
    SecureRandoms.SHARED.nextBytes(seed);
    options.observer().dataKeyGenerated(System.nanoTime() - start, true);
    EncryptResponse response = Stages.join(client.encrypt(seed));
    if (!response.getKeyId().equals(statusKeyId)) {
      throw new TransformException(
          "the plugin's Encrypt answered with key id hash "
              + KeyIds.hash(response.getKeyId())
              + " but its Status reported key id hash "
              + KeyIds.hash(statusKeyId)
              + "; the plugin must encrypt with the key its Status reports");
    }
    EncryptedObject template =
        EncryptedObject.newBuilder()
            .setKeyID(response.getKeyId())
            .setEncryptedDEKSource(response.getCiphertext())
            .putAllAnnotations(response.getAnnotationsMap())
            .setEncryptedDEKSourceType(EncryptedDEKSourceType.HKDF_SHA256_XNONCE_AES_GCM_SEED)
            .build();
    // Validate exactly as a write would, with stand-in data.
    List<String> problems =
        EncryptedObjects.problems(
            template.toBuilder().setEncryptedData(ByteString.copyFrom(new byte[] {0})).build());
    if (!problems.isEmpty()) {
      throw new TransformException(
          "the plugin's Encrypt answer cannot be stored: " + String.join("; ", problems));
    }
    DekSourceCacheKey cacheKey = DekSourceCacheKey.of(template);
    return KmsV2WriteState.of(new HkdfSeedTransformer(seed), template, cacheKey, expiry);
  }

  private void scheduleNext(boolean healthy) {
    if (closed) {
      return;
    }
    long delay =
        (healthy ? options.statusPollInterval() : options.failingStatusPollInterval()).toMillis();
    try {
      poller.schedule(this::poll, delay, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // closed concurrently
    }
  }

  private void poll() {
    boolean ok = false;
    try {
      ok = health.record(check()).ok();
    } catch (RuntimeException e) {
      log.error("KMS v2 provider {}: status check failed unexpectedly", name, e);
    } finally {
      scheduleNext(ok);
    }
  }

  @Override
  /** Stops polling; returns once a check that was running has ended (at most its call timeout). */
  public void close() {
    closed = true;
    poller.shutdownNow();
    try {
      poller.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
