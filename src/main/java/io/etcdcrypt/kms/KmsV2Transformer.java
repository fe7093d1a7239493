package io.etcdcrypt.kms;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.crypto.AesGcmTransformer;
import io.etcdcrypt.crypto.Decrypted;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.crypto.Transformer;
import io.etcdcrypt.kms.KmsObserver.Direction;
import io.etcdcrypt.kms.proto.v2.EncryptedDEKSourceType;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

/**
 * A KMS v2 provider, byte-compatible with kube-apiserver: the bytes after {@code k8s:enc:kms:v2:<name>:} are a
 * protobuf {@link EncryptedObject}.
 *
 * <p>Writes use the seed kept by the {@link KmsV2StatusProbe} ({@code HKDF_SHA256_XNONCE_AES_GCM_SEED}; no plugin
 * call per write) and are refused once the seed's write window has passed, i.e. 3 minutes after the plugin last
 * answered Status well. Reads accept both source types; the decrypted DEK/seed is cached, so the plugin's Decrypt
 * is called once per distinct DEK/seed (concurrent misses share that call). A value is stale when it was written
 * under another key id, or with another source type, than the current seed.
 *
 * <p>Like kube-apiserver, nothing (not even a read) works before the first successful Status + Encrypt exchange;
 * the provider is nevertheless created while the plugin is down and becomes usable when it comes up.
 */
public final class KmsV2Transformer implements KmsProvider {

  private final String name;
  private final KmsV2Client client;
  private final KmsProviderOptions options;
  private volatile boolean closed;
  private final KmsV2StatusProbe probe;
  private final DekSourceCache cache;
  private final ThreadLocal<LastCacheKey> lastCacheKey = new ThreadLocal<>();

  private KmsV2Transformer(String name, KmsEndpoint endpoint, Duration timeout, KmsProviderOptions options) {
    this.name = name;
    this.options = options;
    this.client = new KmsV2Client(name, endpoint, timeout, options.observer());
    this.probe = new KmsV2StatusProbe(name, client, options);
    this.cache = new DekSourceCache(name, options.clock(), options.dekSourceCacheTtl(), options.observer());
  }

  /**
   * Creates the provider and runs its first Status check (waiting at most {@code timeout} for the plugin). A
   * plugin that is down does not make this fail: the provider reports unhealthy and retries in the background.
   */
  public static KmsV2Transformer start(String name, KmsEndpoint endpoint, Duration timeout, KmsProviderOptions options) {
    KmsV2Transformer t = new KmsV2Transformer(name, endpoint, timeout, options);
    t.probe.start();
    return t;
  }

  /** {@link #start} for a configured {@code kms} provider with {@code apiVersion: v2}. */
  public static KmsV2Transformer start(ProviderConfig.Kms config, KmsProviderOptions options) {
    if (!"v2".equals(config.apiVersion())) {
      throw new IllegalArgumentException("KMS provider " + config.name() + " has apiVersion " + config.apiVersion()
          + ", not v2");
    }
    return start(config.name(), KmsEndpoint.parse(config.endpoint()), config.timeout(), options);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String apiVersion() {
    return "v2";
  }

  @Override
  public byte[] encrypt(byte[] plaintext, byte[] associatedData) throws TransformException {
    checkOpen();
    KmsV2WriteState state = requireState("write");
    Instant now = options.clock().instant();
    if (now.isAfter(state.expiresAt())) {
      throw new TransformException("KMS v2 provider " + name + " refuses to write: encryptedDEKSource with keyID hash \""
          + KeyIds.hash(state.keyId()) + "\" expired at " + state.expiresAt() + " (current time is " + now
          + ") because the plugin at " + client.endpoint() + " has not answered Status successfully for "
          + options.writeWindow().toSeconds() + " s. Writes resume once the plugin is healthy again; last check: "
          + probe.lastHealth().text());
    }
    // Our own writes must never cost a Decrypt when read back.
    cache.putOrRefresh(state.cacheKey(), state.writer());
    byte[] data = state.writer().encrypt(plaintext, associatedData);
    options.observer().keyIdUsed(name, Direction.TO_STORAGE, state.keyId());
    return EncryptedObjects.encode(state.template().toBuilder().setEncryptedData(ByteString.copyFrom(data)).build());
  }

  @Override
  public Decrypted decrypt(byte[] stored, byte[] associatedData) throws TransformException {
    checkOpen();
    EncryptedObject o = EncryptedObjects.decode(stored);
    KmsV2WriteState state = requireState("read");
    EncryptedDEKSourceType type = o.getEncryptedDEKSourceType();
    DekSourceCacheKey key = cacheKeyOf(o);
    Transformer reader = cache.getOrLoad(key, () -> readerFor(o));
    options.observer().keyIdUsed(name, Direction.FROM_STORAGE, o.getKeyID());
    Decrypted d = reader.decrypt(o.getEncryptedData().toByteArray(), associatedData);
    boolean stale = !o.getKeyID().equals(state.keyId()) || type != state.template().getEncryptedDEKSourceType();
    return d.markStale(stale);
  }

  /**
   * The cache key of {@code o}'s DEK source. Values written under one seed all carry the same source, so the key
   * computed last on this thread (a SHA-256 over the source) is reused when the source is byte-for-byte the same.
   */
  private DekSourceCacheKey cacheKeyOf(EncryptedObject o) {
    LastCacheKey last = lastCacheKey.get();
    if (last != null && last.matches(o)) {
      return last.key();
    }
    DekSourceCacheKey key =
        DekSourceCacheKey.of(o.getEncryptedDEKSourceType(), o.getEncryptedDEKSource(), o.getKeyID(),
            o.getAnnotationsMap());
    lastCacheKey.set(new LastCacheKey(o.getEncryptedDEKSourceType(), o.getEncryptedDEKSource(), o.getKeyID(),
        o.getAnnotationsMap(), key));
    return key;
  }

  private record LastCacheKey(EncryptedDEKSourceType type, ByteString source, String keyId,
      Map<String, ByteString> annotations, DekSourceCacheKey key) {
    boolean matches(EncryptedObject o) {
      return type == o.getEncryptedDEKSourceType() && source.equals(o.getEncryptedDEKSource())
          && keyId.equals(o.getKeyID()) && annotations.equals(o.getAnnotationsMap());
    }
  }

  private Transformer readerFor(EncryptedObject o) throws TransformException {
    byte[] key;
    try {
      key = client.decrypt(o.getEncryptedDEKSource(), o.getKeyID(), o.getAnnotationsMap());
    } catch (KmsPluginException e) {
      throw new KmsPluginException("failed to decrypt DEK (key id hash " + KeyIds.hash(o.getKeyID()) + "): "
          + e.getMessage(), e.code(), e);
    }
    if (o.getEncryptedDEKSourceType() == EncryptedDEKSourceType.HKDF_SHA256_XNONCE_AES_GCM_SEED) {
      return new HkdfSeedTransformer(key);
    }
    try {
      return new AesGcmTransformer(key);
    } catch (IllegalArgumentException e) {
      throw new TransformException("the KMS plugin decrypted a DEK of " + key.length
          + " bytes, which is not an AES key size (16, 24 or 32)");
    }
  }

  private KmsV2WriteState requireState(String what) throws TransformException {
    KmsV2WriteState state = probe.state();
    if (state == null) {
      throw new TransformException("KMS v2 provider " + name + " cannot " + what + " yet: it has had no successful"
          + " Status and Encrypt exchange with its plugin at " + client.endpoint() + " since start-up; last check: "
          + probe.lastHealth().text());
    }
    return state;
  }

  @Override
  public KmsHealth health() {
    return probe.health();
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

  /** Runs a Status check now, ignoring the cached health result (operators' "refresh", and tests). */
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
