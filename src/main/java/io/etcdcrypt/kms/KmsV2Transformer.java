package io.etcdcrypt.kms;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.KmsApiVersion;
import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.crypto.AesGcmTransformer;
import io.etcdcrypt.crypto.Decrypted;
import io.etcdcrypt.crypto.LocalTransformer;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.KmsObserver.Direction;
import io.etcdcrypt.kms.proto.v2.EncryptedDEKSourceType;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * A KMS v2 provider, byte-compatible with kube-apiserver: the bytes after {@code
 * k8s:enc:kms:v2:<name>:} are a protobuf {@link EncryptedObject}.
 *
 * <p>Writes use the seed kept by the {@link KmsV2StatusProbe} ({@code
 * HKDF_SHA256_XNONCE_AES_GCM_SEED}; no plugin call per write, so a write's stage is complete when
 * returned) and are refused once the seed's write window has passed, i.e. 3 minutes after the
 * plugin last answered Status well. Reads accept both source types; the decrypted DEK/seed is
 * cached ({@link DekSourceCache}), so the plugin's Decrypt is called once per distinct DEK/seed
 * (concurrent misses share that call) and only a read that needs it waits. A value is stale when it
 * was written under another key id, or with another source type, than the current seed.
 *
 * <p>Like kube-apiserver, nothing (not even a read) works before the first successful Status +
 * Encrypt exchange (a provider that only reads needs Status alone); the provider is nevertheless
 * created while the plugin is down and becomes usable when it comes up.
 */
public final class KmsV2Transformer implements KmsProvider {

  private final String name;
  private final KmsV2Client client;
  private final KmsProviderOptions options;
  private volatile boolean closed;
  private final KmsV2StatusProbe probe;
  private final DekSourceCache cache;

  private KmsV2Transformer(
      String name, KmsEndpoint endpoint, Duration timeout, KmsProviderOptions options) {
    this.name = name;
    this.options = options;
    this.client =
        new KmsV2Client(name, endpoint, timeout, options.maxPendingCalls(), options.observer());
    this.probe = new KmsV2StatusProbe(name, client, options);
    this.cache =
        new DekSourceCache(name, options.clock(), options.dekSourceCacheTtl(), options.observer());
  }

  /**
   * Creates the provider and runs its first Status check (waiting at most {@code timeout} for the
   * plugin). A plugin that is down does not make this fail: the provider reports unhealthy and
   * retries in the background.
   */
  public static KmsV2Transformer start(
      String name, KmsEndpoint endpoint, Duration timeout, KmsProviderOptions options) {
    KmsV2Transformer t = new KmsV2Transformer(name, endpoint, timeout, options);
    t.probe.start();
    return t;
  }

  /** {@link #start} for a configured {@code kms} provider with {@code apiVersion: v2}. */
  public static KmsV2Transformer start(ProviderConfig.Kms config, KmsProviderOptions options) {
    if (config.apiVersion() != KmsApiVersion.V2) {
      throw new IllegalArgumentException(
          "KMS provider " + config.name() + " has apiVersion " + config.apiVersion() + ", not v2");
    }
    return start(config.name(), KmsEndpoint.of(config.endpoint()), config.timeout(), options);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public KmsApiVersion apiVersion() {
    return KmsApiVersion.V2;
  }

  @Override
  public CompletionStage<byte[]> encrypt(byte[] plaintext, byte[] associatedData) {
    try {
      checkOpen();
      KmsV2WriteState state = requireState("write");
      if (state.writer() == null) {
        throw new TransformException(
            "KMS v2 provider "
                + name
                + " was opened to read only (census, verify-backup and rewrap --dry-run write"
                + " nothing and never ask the plugin to Encrypt); it cannot write");
      }
      Instant now = options.clock().instant();
      if (now.isAfter(state.expiresAt())) {
        throw new TransformException(
            "KMS v2 provider "
                + name
                + " refuses to write: encryptedDEKSource with keyID"
                + " hash \""
                + KeyIds.hash(state.keyId())
                + "\" expired at "
                + state.expiresAt()
                + " (current time is "
                + now
                + ") because the plugin at "
                + client.endpoint()
                + " has not answered Status successfully for "
                + options.writeWindow().toSeconds()
                + " s. Writes resume once the plugin is healthy again; last check: "
                + probe.lastHealth().text());
      }
      // Our own writes must never cost a Decrypt when read back.
      cache.put(state.cacheKey(), state.cacheEntry());
      byte[] data = state.writer().seal(plaintext, associatedData);
      options.observer().keyIdUsed(name, Direction.TO_STORAGE, state.keyId());
      return CompletableFuture.completedFuture(
          EncryptedObjects.encode(
              state.template().toBuilder().setEncryptedData(ByteString.copyFrom(data)).build()));
    } catch (TransformException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Opens a value with the DEK or seed it names: at once when that is cached (always for this
   * provider's own seed), else when the plugin's Decrypt answers.
   */
  @Override
  public CompletionStage<Decrypted> decrypt(byte[] stored, byte[] associatedData) {
    EncryptedObject o;
    KmsV2WriteState state;
    try {
      checkOpen();
      o = EncryptedObjects.decode(stored);
      state = requireState("read");
    } catch (TransformException e) {
      return CompletableFuture.failedFuture(e);
    }
    CompletableFuture<LocalTransformer> reader =
        cache.get(DekSourceCacheKey.of(o), () -> readerFor(o));
    options.observer().keyIdUsed(name, Direction.FROM_STORAGE, o.getKeyID());
    boolean stale =
        !o.getKeyID().equals(state.keyId())
            || o.getEncryptedDEKSourceType() != state.template().getEncryptedDEKSourceType();
    if (reader.isDone() && !reader.isCompletedExceptionally()) {
      try {
        return CompletableFuture.completedFuture(open(reader.join(), o, associatedData, stale));
      } catch (TransformException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
    return reader.thenApply(
        r -> {
          try {
            return open(r, o, associatedData, stale);
          } catch (TransformException e) {
            throw new CompletionException(e);
          }
        });
  }

  private static Decrypted open(
      LocalTransformer reader, EncryptedObject o, byte[] associatedData, boolean stale)
      throws TransformException {
    return reader.open(o.getEncryptedData().toByteArray(), associatedData).markStale(stale);
  }

  /**
   * Asks the plugin for {@code o}'s DEK or seed and makes the transformer that opens its values.
   */
  private CompletableFuture<LocalTransformer> readerFor(EncryptedObject o) {
    return client
        .decrypt(o.getEncryptedDEKSource(), o.getKeyID(), o.getAnnotationsMap())
        .handle(
            (key, error) -> {
              try {
                if (error != null) {
                  TransformException e = Stages.asTransformException(error);
                  throw new KmsPluginException(
                      "failed to decrypt DEK (key id hash "
                          + KeyIds.hash(o.getKeyID())
                          + "): "
                          + e.getMessage(),
                      e instanceof KmsPluginException k ? k.code() : io.grpc.Status.Code.UNKNOWN,
                      e);
                }
                if (o.getEncryptedDEKSourceType()
                    == EncryptedDEKSourceType.HKDF_SHA256_XNONCE_AES_GCM_SEED) {
                  return new HkdfSeedTransformer(key);
                }
                try {
                  return new AesGcmTransformer(key);
                } catch (IllegalArgumentException e) {
                  throw new TransformException(
                      "the KMS plugin decrypted a DEK of "
                          + key.length
                          + " bytes, which is not an AES key size (16, 24 or 32)");
                }
              } catch (TransformException e) {
                throw new CompletionException(e);
              }
            });
  }

  private KmsV2WriteState requireState(String what) throws TransformException {
    KmsV2WriteState state = probe.state();
    if (state == null) {
      String problem = probe.lastProblem();
      throw new TransformException(
          "KMS v2 provider "
              + name
              + " cannot "
              + what
              + " yet: "
              + (problem != null
                  ? problem
                  : "its plugin at "
                      + client.endpoint()
                      + " has not answered Status and Encrypt since start-up; last check: "
                      + probe.lastHealth().text()));
    }
    return state;
  }

  @Override
  public KmsHealth health() {
    return probe.health();
  }

  @Override
  public KmsHealth lastHealth() {
    return probe.lastHealth();
  }

  @Override
  public Optional<Instant> writeWindowEnd() {
    KmsV2WriteState state = probe.state();
    return state == null ? Optional.empty() : Optional.of(state.expiresAt());
  }

  /** The key id the provider writes under now, or {@code null} before the plugin first answered. */
  public String currentKeyId() {
    KmsV2WriteState state = probe.state();
    return state == null ? null : state.keyId();
  }

  /** Entries in the DEK/seed read cache. */
  public int dekSourceCacheSize() {
    return cache.size();
  }

  /**
   * Runs a Status check now, ignoring the cached health result (operators' "refresh", and tests).
   */
  public KmsHealth checkNow() {
    return probe.checkNow();
  }

  private void checkOpen() throws TransformException {
    if (closed) {
      throw KmsProvider.closedError(name);
    }
  }

  @Override
  public void close() {
    closed = true;
    probe.close();
    client.close();
  }

  @Override
  public String toString() {
    return "KmsV2Transformer[" + name + " at " + client.endpoint() + "]";
  }
}
