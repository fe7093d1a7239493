package io.etcdcrypt.observe;

import static io.etcdcrypt.observe.MetricNames.FROM_STORAGE;
import static io.etcdcrypt.observe.MetricNames.TO_STORAGE;

import io.etcdcrypt.kms.KmsObserver;
import io.etcdcrypt.observe.Instruments.Family;
import io.etcdcrypt.observe.Instruments.SettableGauge;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * kube-apiserver's envelope-encryption metrics (and the storage-level cache-miss and DEK-generation
 * ones), fed by the KMS providers, plus the proxy's per-provider DEK cache hits and misses.
 *
 * <p>Key ids only ever appear hashed. As upstream, the label sets of the three key-id metrics are
 * kept in an LRU of {@value MetricNames#KEY_ID_LABEL_SETS_KEPT}; a label set pushed out is deleted
 * from its metrics, so rotating keys cannot grow the exposition without bound.
 */
final class KmsMetrics implements KmsObserver {

  private final Clock clock;
  private final String apiServerIdHash;
  private final Family<Timer> operationsLatency;
  private final Family<Counter> droppedCalls;
  private final Counter cacheMisses;
  private final Family<Counter> providerCacheHits;
  private final Family<Counter> providerCacheMisses;
  private final SettableGauge cacheFill;
  private final Family<SettableGauge> sourceCacheSize;
  private final Timer keyGeneration;
  private final Counter keyGenerationFailures;
  private final Family<Counter> keyIdHashTotal;
  private final Family<SettableGauge> keyIdHashLast;
  private final Family<SettableGauge> keyIdHashStatusLast;
  private final Family<Counter> invalidStatusKeyIds;
  private final LabelSets keyIdUses;
  private final LabelSets statusKeyIds;
  private final Map<String, String> keyIdHashes = new ConcurrentHashMap<>();

  KmsMetrics(Instruments instruments, String apiServerIdHash, Clock clock) {
    this.clock = clock;
    this.apiServerIdHash = apiServerIdHash;
    operationsLatency =
        instruments.histogram(
            MetricNames.KMS_OPERATIONS_LATENCY,
            "Seconds taken by calls to KMS plugins, by provider, full gRPC method and gRPC status code.",
            MetricNames.kmsOperationBuckets(),
            MetricNames.PROVIDER_NAME,
            MetricNames.METHOD_NAME,
            MetricNames.GRPC_STATUS_CODE);
    droppedCalls =
        instruments.counter(
            MetricNames.KMS_CALLS_DROPPED,
            "KMS plugin calls not made or abandoned, by provider and reason: client_cancelled and"
                + " client_deadline (the client gave up before the plugin answered), queue_full (refused"
                + " with RESOURCE_EXHAUSTED: too many calls already waited on the plugin).",
            MetricNames.PROVIDER,
            MetricNames.REASON);
    cacheMisses =
        instruments
            .counter(
                MetricNames.ENVELOPE_CACHE_MISSES,
                "DEK/seed reads that a KMS provider's cache could not serve, so the plugin was asked to decrypt.")
            .labelValues();
    providerCacheHits =
        instruments.counter(
            MetricNames.DEK_CACHE_HITS,
            "DEK/seed reads served from a KMS provider's cache, by provider.",
            MetricNames.PROVIDER);
    providerCacheMisses =
        instruments.counter(
            MetricNames.DEK_CACHE_MISSES,
            "DEK/seed reads that asked the KMS plugin, by provider.",
            MetricNames.PROVIDER);
    cacheFill =
        instruments
            .gauge(
                MetricNames.DEK_CACHE_FILL_PERCENT,
                "Share (0 to 1) of the KMS v1 DEK cache slots in use, for the provider that last changed it.")
            .labelValues();
    sourceCacheSize =
        instruments.gauge(
            MetricNames.DEK_SOURCE_CACHE_SIZE,
            "Entries in a KMS v2 provider's DEK/seed cache: after a restart, about the number of Decrypt calls the"
                + " provider will make.",
            MetricNames.PROVIDER_NAME);
    keyGeneration =
        instruments
            .histogram(
                MetricNames.DATA_KEY_GENERATION_DURATION,
                "Seconds taken to draw a fresh DEK or seed.",
                MetricNames.dataKeyGenerationBuckets())
            .labelValues();
    keyGenerationFailures =
        instruments
            .counter(
                MetricNames.DATA_KEY_GENERATION_FAILURES, "Failures to draw a fresh DEK or seed.")
            .labelValues();
    keyIdHashTotal =
        instruments.counter(
            MetricNames.KEY_ID_HASH_TOTAL,
            "KMS v2 values written or read under a key id (hashed), by provider and server identity.",
            MetricNames.TRANSFORMATION_TYPE,
            MetricNames.PROVIDER_NAME,
            MetricNames.KEY_ID_HASH,
            MetricNames.APISERVER_ID_HASH);
    keyIdHashLast =
        instruments.gauge(
            MetricNames.KEY_ID_HASH_LAST_TIMESTAMP,
            "Unix time a key id (hashed) was last used to write or read a KMS v2 value.",
            MetricNames.TRANSFORMATION_TYPE,
            MetricNames.PROVIDER_NAME,
            MetricNames.KEY_ID_HASH,
            MetricNames.APISERVER_ID_HASH);
    keyIdHashStatusLast =
        instruments.gauge(
            MetricNames.KEY_ID_HASH_STATUS_LAST_TIMESTAMP,
            "Unix time a KMS v2 plugin's Status last reported a key id (hashed).",
            MetricNames.PROVIDER_NAME,
            MetricNames.KEY_ID_HASH,
            MetricNames.APISERVER_ID_HASH);
    invalidStatusKeyIds =
        instruments.counter(
            MetricNames.INVALID_KEY_ID_FROM_STATUS,
            "KMS v2 Status answers with an unusable key id, by provider and error (empty, too_long).",
            MetricNames.PROVIDER_NAME,
            MetricNames.ERROR);
    keyIdUses =
        new LabelSets(
            MetricNames.KEY_ID_LABEL_SETS_KEPT,
            evicted -> {
              String[] labels = evicted.toArray(String[]::new);
              keyIdHashTotal.remove(labels);
              keyIdHashLast.remove(labels);
            });
    statusKeyIds =
        new LabelSets(
            MetricNames.KEY_ID_LABEL_SETS_KEPT,
            evicted -> keyIdHashStatusLast.remove(evicted.toArray(String[]::new)));
  }

  @Override
  public void pluginCall(String provider, String fullMethod, Status.Code code, long nanos) {
    operationsLatency
        .labelValues(provider, fullMethod, MetricNames.grpcCodeName(code))
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void pluginCallDropped(String provider, String fullMethod, DropReason reason) {
    droppedCalls.labelValues(provider, reason.label()).increment();
  }

  @Override
  public void dekCacheHit(String provider) {
    providerCacheHits.labelValues(provider).increment();
  }

  @Override
  public void dekCacheMiss(String provider) {
    cacheMisses.increment();
    providerCacheMisses.labelValues(provider).increment();
    // The hits series exists from the first miss, so the hit ratio reads 0 (not nothing) before
    // any hit.
    providerCacheHits.labelValues(provider);
  }

  @Override
  public void dekCacheSize(String provider, int size, int capacity) {
    if (capacity > 0) {
      cacheFill.set((double) size / capacity); // KMS v1's bounded cache
    } else {
      sourceCacheSize.labelValues(provider).set(size); // KMS v2's DEK/seed cache
    }
  }

  @Override
  public void dataKeyGenerated(long nanos, boolean ok) {
    if (ok) {
      keyGeneration.record(nanos, TimeUnit.NANOSECONDS);
    } else {
      keyGenerationFailures.increment();
    }
  }

  @Override
  public void keyIdUsed(String provider, Direction direction, String keyId) {
    String type = direction == Direction.TO_STORAGE ? TO_STORAGE : FROM_STORAGE;
    String[] labels = {type, provider, keyIdHash(keyId), apiServerIdHash};
    double now = nowSeconds();
    keyIdUses.touch(
        List.of(labels),
        () -> {
          keyIdHashTotal.labelValues(labels).increment();
          keyIdHashLast.labelValues(labels).set(now);
        });
  }

  @Override
  public void statusKeyId(String provider, String keyId) {
    String[] labels = {provider, keyIdHash(keyId), apiServerIdHash};
    double now = nowSeconds();
    statusKeyIds.touch(List.of(labels), () -> keyIdHashStatusLast.labelValues(labels).set(now));
  }

  @Override
  public void invalidStatusKeyId(String provider, String reason) {
    invalidStatusKeyIds.labelValues(provider, reason).increment();
  }

  private double nowSeconds() {
    return clock.millis() / 1000.0;
  }

  /** Key ids are few and used on every KMS v2 read and write: hash each once. */
  private String keyIdHash(String keyId) {
    String hash = keyIdHashes.get(keyId);
    if (hash == null) {
      if (keyIdHashes.size() >= 4 * MetricNames.KEY_ID_LABEL_SETS_KEPT) {
        keyIdHashes.clear();
      }
      hash = ApiServerId.hash(keyId);
      keyIdHashes.put(keyId, hash);
    }
    return hash;
  }

  /**
   * An LRU set of label sets; updates of a label set and evictions happen under one lock, as
   * upstream's.
   */
  private static final class LabelSets {
    private final Map<List<String>, Boolean> recent;
    private final Consumer<List<String>> onEvict;

    LabelSets(int capacity, Consumer<List<String>> onEvict) {
      this.onEvict = onEvict;
      this.recent =
          new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<List<String>, Boolean> eldest) {
              if (size() > capacity) {
                LabelSets.this.onEvict.accept(eldest.getKey());
                return true;
              }
              return false;
            }
          };
    }

    synchronized void touch(List<String> labels, Runnable update) {
      recent.put(labels, Boolean.TRUE);
      update.run();
    }
  }
}
