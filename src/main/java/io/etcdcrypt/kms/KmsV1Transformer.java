package io.etcdcrypt.kms;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.google.protobuf.ByteString;
import io.etcdcrypt.config.KmsApiVersion;
import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.crypto.AesCbcTransformer;
import io.etcdcrypt.crypto.AesGcmTransformer;
import io.etcdcrypt.crypto.Decrypted;
import io.etcdcrypt.crypto.SecureRandoms;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.log.StateChangeLog;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A KMS v1 provider (deprecated upstream since 1.28, off by default since 1.29), byte-compatible
 * with kube-apiserver: after {@code k8s:enc:kms:v1:<name>:} comes {@code u16BE(len encDEK) ||
 * encDEK || body}.
 *
 * <p>Every write draws a fresh 32-byte DEK and costs one plugin Encrypt; the body is AES-256-GCM
 * with the etcd key as associated data. Reads look the encrypted DEK up in a cache of {@code
 * cachesize} entries (negative: no cache, every read calls Decrypt; concurrent misses for one DEK
 * share one call) and try AES-GCM first, then the AES-CBC that Kubernetes ≤ 1.24 wrote; a CBC value
 * is stale. Only what needs the plugin waits for it.
 */
public final class KmsV1Transformer implements KmsProvider {

  private static final Logger log = LoggerFactory.getLogger(KmsV1Transformer.class);
  private static final int DEK_SIZE = 32;
  private static final byte[] PING = "ping".getBytes(StandardCharsets.US_ASCII);

  private final String name;
  private final KmsV1Client client;
  private final KmsProviderOptions options;
  private volatile boolean closed;
  private final int cacheSize;

  /**
   * Decrypted DEKs by encrypted DEK; null when {@code cachesize} is negative (every read asks the
   * plugin).
   */
  private final AsyncCache<ByteString, DekReader> cache;

  private final CachedHealth health;
  private final StateChangeLog transitions; // logs each change of health once

  /** Opens v1 bodies with one DEK: GCM as written since 1.25, then CBC as written before. */
  private record DekReader(AesGcmTransformer gcm, AesCbcTransformer cbc) {
    static DekReader of(byte[] dek) throws TransformException {
      try {
        return new DekReader(new AesGcmTransformer(dek), new AesCbcTransformer(dek));
      } catch (IllegalArgumentException e) {
        throw new TransformException(
            "the KMS plugin decrypted a DEK of "
                + dek.length
                + " bytes, which is not an AES key size (16, 24 or 32)");
      } finally {
        Arrays.fill(dek, (byte) 0);
      }
    }

    Decrypted open(byte[] body, byte[] associatedData) throws TransformException {
      TransformException gcmFailure;
      try {
        return gcm.open(body, associatedData);
      } catch (TransformException e) {
        gcmFailure = e;
      }
      try {
        return cbc.open(body, associatedData).markStale(true);
      } catch (TransformException cbcFailure) {
        throw new TransformException(
            "[" + gcmFailure.getMessage() + ", " + cbcFailure.getMessage() + "]");
      }
    }

    @Override
    public String toString() {
      return "DekReader[key redacted]";
    }
  }

  /** A stored value's parts: {@code u16BE(len encDEK) || encDEK || body}. */
  private record Envelope(ByteString encryptedDek, byte[] body) {

    static Envelope parse(byte[] stored) throws TransformException {
      ByteBuffer in = ByteBuffer.wrap(stored);
      if (in.remaining() < Short.BYTES) {
        throw lengthPrefixError();
      }
      int length = Short.toUnsignedInt(in.getShort());
      if (in.remaining() < length) {
        throw lengthPrefixError();
      }
      ByteString encryptedDek = ByteString.copyFrom(stored, in.position(), length);
      return new Envelope(
          encryptedDek, Arrays.copyOfRange(stored, in.position() + length, stored.length));
    }

    static byte[] write(byte[] encryptedDek, byte[] body) {
      return ByteBuffer.allocate(Short.BYTES + encryptedDek.length + body.length)
          .putShort((short) encryptedDek.length)
          .put(encryptedDek)
          .put(body)
          .array();
    }

    private static TransformException lengthPrefixError() {
      return new TransformException(
          "invalid data encountered by envelope transformer: failed to read uint16 length prefixed data");
    }
  }

  private KmsV1Transformer(
      String name,
      KmsEndpoint endpoint,
      Duration timeout,
      int cacheSize,
      KmsProviderOptions options) {
    if (cacheSize == 0) {
      throw new IllegalArgumentException(
          "KMS provider "
              + name
              + ": cachesize 0 is invalid; use a positive size,"
              + " or a negative one to disable the cache");
    }
    this.name = name;
    this.options = options;
    this.cacheSize = cacheSize;
    this.client =
        new KmsV1Client(name, endpoint, timeout, options.maxPendingCalls(), options.observer());
    this.health =
        new CachedHealth(options.clock(), options.healthyResultTtl(), options.failedResultTtl());
    this.transitions =
        ProviderHealthLog.of(
            log,
            "v1",
            name,
            endpoint,
            "/readyz fails, and so do writes and reads of values whose DEK is not cached; it is"
                + " checked again with the readiness checks (every few seconds with --metrics-addr)");
    this.cache =
        cacheSize < 0
            ? null
            : Caffeine.newBuilder().maximumSize(cacheSize).executor(Runnable::run).buildAsync();
  }

  /**
   * Creates the provider; the plugin is contacted on first use (Version handshake, then
   * Encrypt/Decrypt).
   */
  public static KmsV1Transformer create(
      String name,
      KmsEndpoint endpoint,
      Duration timeout,
      int cacheSize,
      KmsProviderOptions options) {
    return new KmsV1Transformer(name, endpoint, timeout, cacheSize, options);
  }

  /** {@link #create} for a configured {@code kms} provider with {@code apiVersion: v1}. */
  public static KmsV1Transformer create(ProviderConfig.Kms config, KmsProviderOptions options) {
    if (config.apiVersion() != KmsApiVersion.V1) {
      throw new IllegalArgumentException(
          "KMS provider " + config.name() + " has apiVersion " + config.apiVersion() + ", not v1");
    }
    return create(
        config.name(),
        KmsEndpoint.of(config.endpoint()),
        config.timeout(),
        config.cacheSize(),
        options);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public KmsApiVersion apiVersion() {
    return KmsApiVersion.V1;
  }

  /**
   * Draws a fresh DEK, has the plugin encrypt it, and seals the value with it: one plugin call per
   * write.
   */
  @Override
  public CompletionStage<byte[]> encrypt(byte[] plaintext, byte[] associatedData) {
    if (closed) {
      return CompletableFuture.failedFuture(KmsProvider.closedError(name));
    }
    long start = System.nanoTime();
    byte[] dek = new byte[DEK_SIZE];
    SecureRandoms.SHARED.nextBytes(dek);
    options.observer().dataKeyGenerated(System.nanoTime() - start, true);
    DekReader reader;
    try {
      reader = DekReader.of(dek.clone());
    } catch (TransformException e) {
      return CompletableFuture.failedFuture(e);
    }
    return client
        .encrypt(dek)
        .whenComplete((encryptedDek, error) -> Arrays.fill(dek, (byte) 0))
        .thenApply(
            encryptedDek -> {
              try {
                byte[] body = reader.gcm().seal(plaintext, associatedData);
                remember(ByteString.copyFrom(encryptedDek), reader);
                return Envelope.write(encryptedDek, body);
              } catch (TransformException e) {
                throw new CompletionException(e);
              }
            });
  }

  /** Opens a value with its DEK: at once when cached, else when the plugin's Decrypt answers. */
  @Override
  public CompletionStage<Decrypted> decrypt(byte[] stored, byte[] associatedData) {
    Envelope envelope;
    try {
      if (closed) {
        throw KmsProvider.closedError(name);
      }
      envelope = Envelope.parse(stored);
    } catch (TransformException e) {
      return CompletableFuture.failedFuture(e);
    }
    CompletableFuture<DekReader> reader;
    if (cache == null) {
      reader = readerFor(envelope.encryptedDek());
    } else {
      boolean[] loaded = {false};
      reader =
          cache.get(
              envelope.encryptedDek(),
              (key, executor) -> {
                loaded[0] = true;
                return readerFor(key);
              });
      if (loaded[0]) {
        options.observer().dekCacheMiss(name);
        reader.thenRun(this::reportCacheSize);
      } else {
        options.observer().dekCacheHit(name);
      }
    }
    if (reader.isDone() && !reader.isCompletedExceptionally()) {
      try {
        return CompletableFuture.completedFuture(
            reader.join().open(envelope.body(), associatedData));
      } catch (TransformException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
    return reader.thenApply(
        r -> {
          try {
            return r.open(envelope.body(), associatedData);
          } catch (TransformException e) {
            throw new CompletionException(e);
          }
        });
  }

  /** Asks the plugin for the DEK behind {@code encryptedDek}. */
  private CompletableFuture<DekReader> readerFor(ByteString encryptedDek) {
    return client
        .decrypt(encryptedDek.toByteArray())
        .handle(
            (dek, error) -> {
              try {
                if (error != null) {
                  TransformException e = Stages.asTransformException(error);
                  throw new KmsPluginException(
                      "failed to decrypt DEK: " + e.getMessage(),
                      e instanceof KmsPluginException k ? k.code() : Status.Code.UNKNOWN,
                      e);
                }
                return DekReader.of(dek);
              } catch (TransformException e) {
                throw new CompletionException(e);
              }
            });
  }

  /** Caches the DEK a write just used, so reading the value back costs no Decrypt. */
  private void remember(ByteString encryptedDek, DekReader reader) {
    if (cache != null) {
      cache.put(encryptedDek, CompletableFuture.completedFuture(reader));
      reportCacheSize();
    }
  }

  private void reportCacheSize() {
    options.observer().dekCacheSize(name, dekCacheSize(), cacheSize);
  }

  /** Entries in the DEK cache (0 when it is disabled), after any eviction that is due. */
  public int dekCacheSize() {
    if (cache == null) {
      return 0;
    }
    cache.synchronous().cleanUp();
    return (int) cache.synchronous().estimatedSize();
  }

  /**
   * Encrypt("ping") then Decrypt of the answer, as kube-apiserver's KMS v1 health check; cached 20
   * s / 3 s.
   */
  @Override
  public KmsHealth health() {
    return health.get(this::ping);
  }

  @Override
  public KmsHealth lastHealth() {
    KmsHealth last = health.last();
    return last == null ? KmsHealth.failed("not checked yet") : last;
  }

  /** The ping, logging a change of health once. */
  private KmsHealth ping() {
    PingFailure failure = pingFailure();
    if (failure == null) {
      transitions.up();
      return KmsHealth.healthy();
    }
    transitions.down("its " + failure.call() + " failed: " + failure.error());
    return KmsHealth.failed(
        "failed to perform "
            + failure.call().toLowerCase(java.util.Locale.ROOT)
            + " section of the healthz check for KMS Provider "
            + name
            + ", error: "
            + failure.error());
  }

  /** Which plugin call of the ping failed ({@code Encrypt}, {@code Decrypt}), and why. */
  private record PingFailure(String call, String error) {}

  /** Null when the ping passes. */
  private PingFailure pingFailure() {
    byte[] cipher;
    try {
      cipher = Stages.join(client.encrypt(PING));
    } catch (TransformException e) {
      return new PingFailure("Encrypt", e.getMessage());
    }
    try {
      byte[] plain = Stages.join(client.decrypt(cipher));
      if (!Arrays.equals(plain, PING)) {
        return new PingFailure(
            "Decrypt", "the plugin's Decrypt did not return what its Encrypt was given");
      }
    } catch (TransformException e) {
      return new PingFailure("Decrypt", e.getMessage());
    }
    return null;
  }

  @Override
  public void close() {
    closed = true;
    client.close();
  }

  @Override
  public String toString() {
    return "KmsV1Transformer["
        + name
        + " at "
        + client.endpoint()
        + ", cachesize "
        + cacheSize
        + "]";
  }
}
