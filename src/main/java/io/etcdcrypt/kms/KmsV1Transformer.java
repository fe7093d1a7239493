package io.etcdcrypt.kms;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.crypto.AesCbcTransformer;
import io.etcdcrypt.crypto.AesGcmTransformer;
import io.etcdcrypt.crypto.Decrypted;
import io.etcdcrypt.crypto.NonBlockingThreads;
import io.etcdcrypt.crypto.TransformException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A KMS v1 provider (deprecated upstream since 1.28, off by default since 1.29), byte-compatible with
 * kube-apiserver: after {@code k8s:enc:kms:v1:<name>:} comes {@code u16BE(len encDEK) || encDEK || body}.
 *
 * <p>Every write draws a fresh 32-byte DEK and costs one plugin Encrypt; the body is AES-256-GCM with the etcd key
 * as associated data. Reads look the encrypted DEK up in an LRU cache of {@code cachesize} entries (negative:
 * no cache, every read calls Decrypt) and try AES-GCM first, then the AES-CBC that Kubernetes ≤ 1.24 wrote; a
 * CBC value is stale.
 */
public final class KmsV1Transformer implements KmsProvider {

  private static final int DEK_SIZE = 32;
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final byte[] PING = "ping".getBytes(StandardCharsets.US_ASCII);

  private final String name;
  private final KmsV1Client client;
  private final KmsProviderOptions options;
  private volatile boolean closed;
  private final int cacheSize;
  private final Map<ByteString, DekReader> cache;
  private final CachedHealth health;

  /** Opens v1 bodies with one DEK: GCM as written since 1.25, then CBC as written before. */
  private record DekReader(AesGcmTransformer gcm, AesCbcTransformer cbc) {
    static DekReader of(byte[] dek) throws TransformException {
      try {
        return new DekReader(new AesGcmTransformer(dek), new AesCbcTransformer(dek));
      } catch (IllegalArgumentException e) {
        throw new TransformException("the KMS plugin decrypted a DEK of " + dek.length
            + " bytes, which is not an AES key size (16, 24 or 32)");
      }
    }

    Decrypted open(byte[] body, byte[] associatedData) throws TransformException {
      TransformException gcmFailure;
      try {
        return gcm.decrypt(body, associatedData);
      } catch (TransformException e) {
        gcmFailure = e;
      }
      try {
        return cbc.decrypt(body, associatedData).markStale(true);
      } catch (TransformException cbcFailure) {
        throw new TransformException("[" + gcmFailure.getMessage() + ", " + cbcFailure.getMessage() + "]");
      }
    }

    @Override
    public String toString() {
      return "DekReader[key redacted]";
    }
  }

  private KmsV1Transformer(String name, KmsEndpoint endpoint, Duration timeout, int cacheSize,
      KmsProviderOptions options) {
    if (cacheSize == 0) {
      throw new IllegalArgumentException("KMS provider " + name + ": cachesize 0 is invalid; use a positive size,"
          + " or a negative one to disable the cache");
    }
    this.name = name;
    this.options = options;
    this.cacheSize = cacheSize;
    this.client = new KmsV1Client(name, endpoint, timeout, options.observer());
    this.health = new CachedHealth(options.clock(), options.healthyResultTtl(), options.failedResultTtl());
    this.cache = cacheSize < 0 ? null : new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<ByteString, DekReader> eldest) {
        return size() > KmsV1Transformer.this.cacheSize;
      }
    };
  }

  /** Creates the provider; the plugin is contacted on first use (Version handshake, then Encrypt/Decrypt). */
  public static KmsV1Transformer create(String name, KmsEndpoint endpoint, Duration timeout, int cacheSize,
      KmsProviderOptions options) {
    return new KmsV1Transformer(name, endpoint, timeout, cacheSize, options);
  }

  /** {@link #create} for a configured {@code kms} provider with {@code apiVersion: v1}. */
  public static KmsV1Transformer create(ProviderConfig.Kms config, KmsProviderOptions options) {
    if (!"v1".equals(config.apiVersion())) {
      throw new IllegalArgumentException("KMS provider " + config.name() + " has apiVersion " + config.apiVersion()
          + ", not v1");
    }
    return create(config.name(), KmsEndpoint.parse(config.endpoint()), config.timeout(), config.cacheSize(), options);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String apiVersion() {
    return "v1";
  }

  @Override
  public byte[] encrypt(byte[] plaintext, byte[] associatedData) throws TransformException {
    checkOpen();
    NonBlockingThreads.checkMayWait("the KMS v1 plugin to encrypt a new DEK");
    long start = System.nanoTime();
    byte[] dek = new byte[DEK_SIZE];
    RANDOM.nextBytes(dek);
    options.observer().dataKeyGenerated(System.nanoTime() - start, true);
    byte[] encryptedDek = client.encrypt(dek);
    DekReader reader = DekReader.of(dek);
    Arrays.fill(dek, (byte) 0);
    byte[] body = reader.gcm().encrypt(plaintext, associatedData);
    remember(ByteString.copyFrom(encryptedDek), reader);
    byte[] out = new byte[2 + encryptedDek.length + body.length];
    out[0] = (byte) (encryptedDek.length >>> 8);
    out[1] = (byte) encryptedDek.length;
    System.arraycopy(encryptedDek, 0, out, 2, encryptedDek.length);
    System.arraycopy(body, 0, out, 2 + encryptedDek.length, body.length);
    return out;
  }

  @Override
  public Decrypted decrypt(byte[] stored, byte[] associatedData) throws TransformException {
    checkOpen();
    if (stored.length < 2) {
      throw lengthPrefixError();
    }
    int length = ((stored[0] & 0xff) << 8) | (stored[1] & 0xff);
    if (stored.length < 2 + length) {
      throw lengthPrefixError();
    }
    ByteString encryptedDek = ByteString.copyFrom(stored, 2, length);
    byte[] body = Arrays.copyOfRange(stored, 2 + length, stored.length);
    DekReader reader = cached(encryptedDek);
    if (reader == null) {
      NonBlockingThreads.checkMayWait("the KMS v1 plugin to decrypt a DEK that is not cached");
      if (cache != null) {
        options.observer().dekCacheMiss(name);
      }
      byte[] dek;
      try {
        dek = client.decrypt(encryptedDek.toByteArray());
      } catch (KmsPluginException e) {
        throw new KmsPluginException("failed to decrypt DEK: " + e.getMessage(), e.code(), e);
      }
      reader = DekReader.of(dek);
      Arrays.fill(dek, (byte) 0);
      remember(encryptedDek, reader);
    } else {
      options.observer().dekCacheHit(name);
    }
    return reader.open(body, associatedData);
  }

  private static TransformException lengthPrefixError() {
    return new TransformException(
        "invalid data encountered by envelope transformer: failed to read uint16 length prefixed data");
  }

  private DekReader cached(ByteString encryptedDek) {
    if (cache == null) {
      return null;
    }
    synchronized (cache) {
      return cache.get(encryptedDek);
    }
  }

  private void remember(ByteString encryptedDek, DekReader reader) {
    if (cache == null) {
      return;
    }
    int size;
    synchronized (cache) {
      cache.put(encryptedDek, reader);
      size = cache.size();
    }
    options.observer().dekCacheSize(name, size, cacheSize);
  }

  /** Entries in the DEK cache (0 when it is disabled). */
  public int dekCacheSize() {
    if (cache == null) {
      return 0;
    }
    synchronized (cache) {
      return cache.size();
    }
  }

  /** Encrypt("ping") then Decrypt of the answer, as kube-apiserver's KMS v1 health check; cached 20 s / 3 s. */
  @Override
  public KmsHealth health() {
    return health.get(this::ping);
  }

  private KmsHealth ping() {
    byte[] cipher;
    try {
      cipher = client.encrypt(PING);
    } catch (KmsPluginException e) {
      return KmsHealth.failed("failed to perform encrypt section of the healthz check for KMS Provider " + name
          + ", error: " + e.getMessage());
    }
    try {
      byte[] plain = client.decrypt(cipher);
      if (!Arrays.equals(plain, PING)) {
        return KmsHealth.failed("failed to perform decrypt section of the healthz check for KMS Provider " + name
            + ", error: the plugin's Decrypt did not return what its Encrypt was given");
      }
    } catch (KmsPluginException e) {
      return KmsHealth.failed("failed to perform decrypt section of the healthz check for KMS Provider " + name
          + ", error: " + e.getMessage());
    }
    return KmsHealth.healthy();
  }

  private void checkOpen() throws TransformException {
    if (closed) {
      throw KmsProvider.closedError(name);
    }
  }

  @Override
  public void close() {
    closed = true;
    client.close();
  }

  @Override
  public String toString() {
    return "KmsV1Transformer[" + name + " at " + client.endpoint() + ", cachesize " + cacheSize + "]";
  }
}
