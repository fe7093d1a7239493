package io.etcdcrypt.kms;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.etcdcrypt.crypto.LocalTransformer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * The KMS v2 read cache: decrypted DEKs/seeds (as ready transformers) by {@link DekSourceCacheKey},
 * with kube-apiserver's rules: an entry lives {@code ttl} (24 h upstream) after it was last
 * written, there is no size bound (one entry per DEK/seed, which exist per API server and key id,
 * not per write), and the seed a provider writes with is written again on every write, so its own
 * values never cost a Decrypt.
 *
 * <p>A miss asks the loader (the plugin's Decrypt) once; concurrent misses for the same key share
 * that call. A failed load is not kept: the next read asks again.
 */
final class DekSourceCache {

  private final String provider;
  private final KmsObserver observer;
  private final AsyncCache<DekSourceCacheKey, LocalTransformer> cache;

  DekSourceCache(String provider, Clock clock, Duration ttl, KmsObserver observer) {
    this.provider = provider;
    this.observer = observer;
    this.cache =
        Caffeine.newBuilder()
            .expireAfterWrite(ttl)
            .ticker(() -> nanos(clock.instant()))
            .executor(Runnable::run) // its housekeeping is small: no pool of its own
            .buildAsync();
  }

  private static long nanos(Instant t) {
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  /**
   * The cached transformer for {@code key}, or the loader's, shared with every concurrent caller of
   * that key.
   */
  CompletableFuture<LocalTransformer> get(
      DekSourceCacheKey key, Supplier<CompletableFuture<LocalTransformer>> loader) {
    boolean[] loaded = {false};
    CompletableFuture<LocalTransformer> f =
        cache.get(
            key,
            (k, executor) -> {
              loaded[0] = true;
              return loader.get();
            });
    if (loaded[0]) {
      observer.dekCacheMiss(provider);
      f.thenRun(() -> observer.dekCacheSize(provider, size(), -1));
    } else {
      observer.dekCacheHit(provider);
    }
    return f;
  }

  /** Inserts or re-inserts an entry: its lifetime starts again. */
  void put(DekSourceCacheKey key, CompletableFuture<LocalTransformer> transformer) {
    cache.put(key, transformer);
  }

  int size() {
    return (int) cache.synchronous().estimatedSize();
  }
}
