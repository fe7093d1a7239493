package io.etcdcrypt.kms;

import io.etcdcrypt.crypto.NonBlockingThreads;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.crypto.Transformer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;

/**
 * The KMS v2 read cache: decrypted DEKs/seeds (as ready transformers) by {@link DekSourceCacheKey}.
 *
 * <p>A hit is served locally. A miss asks the loader (the plugin's Decrypt) once; concurrent misses for the same
 * key wait for that one call instead of each calling the plugin. Entries live {@code ttl} (24 h upstream) after
 * their last insert or refresh, but an expired entry is still served: the TTL only bounds growth, and expired
 * entries are dropped when something new is inserted. There is no size bound (one entry per DEK/seed, which
 * exist per server and key id, not per write).
 *
 * <p>On a thread that must not wait (an event loop) a miss throws {@link io.etcdcrypt.crypto.WouldBlockException}
 * instead, so the proxy can load it from a thread that may.
 */
final class DekSourceCache {

  /** Produces the transformer for a key that is not cached, typically by asking the plugin. */
  interface Loader {
    Transformer load() throws TransformException;
  }

  private record Entry(Transformer transformer, Instant expiresAt) {}

  private final String provider;
  private final Clock clock;
  private final Duration ttl;
  private final KmsObserver observer;
  private final ConcurrentHashMap<DekSourceCacheKey, Entry> entries = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<DekSourceCacheKey, CompletableFuture<Transformer>> inFlight =
      new ConcurrentHashMap<>();

  DekSourceCache(String provider, Clock clock, Duration ttl, KmsObserver observer) {
    this.provider = provider;
    this.clock = clock;
    this.ttl = ttl;
    this.observer = observer;
  }

  /** The cached transformer, or the loader's, shared with every concurrent caller asking for the same key. */
  Transformer getOrLoad(DekSourceCacheKey key, Loader loader) throws TransformException {
    Entry hit = entries.get(key);
    if (hit != null) {
      observer.dekCacheHit(provider);
      return hit.transformer();
    }
    // Loading, or waiting for another caller's load, waits on the plugin.
    NonBlockingThreads.checkMayWait("the KMS plugin to decrypt a DEK that is not cached");
    CompletableFuture<Transformer> mine = new CompletableFuture<>();
    CompletableFuture<Transformer> running = inFlight.putIfAbsent(key, mine);
    if (running != null) {
      return await(running);
    }
    try {
      // A loader that finished between our miss and our putIfAbsent has already filled the cache.
      Entry late = entries.get(key);
      if (late != null) {
        observer.dekCacheHit(provider);
        mine.complete(late.transformer());
        return late.transformer();
      }
      observer.dekCacheMiss(provider);
      Transformer loaded = loader.load();
      put(key, loaded);
      mine.complete(loaded);
      return loaded;
    } catch (TransformException | RuntimeException e) {
      mine.completeExceptionally(e);
      throw e;
    } finally {
      inFlight.remove(key, mine);
    }
  }

  /** Inserts or refreshes an entry, dropping entries whose TTL has passed. */
  void put(DekSourceCacheKey key, Transformer transformer) {
    Instant now = clock.instant();
    if (entries.put(key, new Entry(transformer, now.plus(ttl))) == null) {
      entries.entrySet().removeIf(e -> !e.getKey().equals(key) && e.getValue().expiresAt().isBefore(now));
      observer.dekCacheSize(provider, entries.size(), -1);
    }
  }

  /** Inserts {@code transformer} unless the key is cached already (then only its TTL is refreshed). */
  void putOrRefresh(DekSourceCacheKey key, Transformer transformer) {
    Entry e = entries.get(key);
    Instant expiresAt = clock.instant().plus(ttl);
    if (e == null) {
      put(key, transformer);
    } else if (e.expiresAt().isBefore(expiresAt.minus(ttl.dividedBy(2)))) {
      entries.replace(key, e, new Entry(e.transformer(), expiresAt)); // refresh rarely: not on every write
    }
  }

  int size() {
    return entries.size();
  }

  private static Transformer await(CompletableFuture<Transformer> running) throws TransformException {
    try {
      return running.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TransformException("interrupted while waiting for the KMS plugin to decrypt a DEK");
    } catch (ExecutionException | CompletionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof TransformException te) {
        throw te;
      }
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      throw new TransformException("KMS DEK decryption failed: " + cause, cause);
    }
  }
}
