package io.etcdcrypt.values;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.crypto.ValueCodec;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * A codec that decrypts a stored value once for every Watch stream that receives it. Each client
 * Watch stream has an etcd stream of its own, so an event that N streams watch arrives N times; its
 * encrypted values are opened by the first stream to ask, and the others, asking at the same time
 * or within {@link Limits#ttl()}, get that same plaintext (or wait for the one decryption in
 * flight).
 *
 * <p>A value is shared under its key and mod revision, which name one stored value in etcd, and
 * only when the stored bytes are identical to those decrypted (a restore can bring another value
 * under the same revision): a plaintext is never answered for other ciphertext. A stream learns
 * nothing it could not decrypt itself, since it asks only with the bytes etcd sent it. A failed
 * decryption is not kept: its waiters fail with it, the next stream to ask decrypts again. Only
 * values with kube-apiserver's {@code k8s:enc:} prefix are shared; everything else goes to the
 * codec as before (resolving the key costs less than sharing it).
 *
 * <p>Decryptions belong to the generation of the codec that made them ({@link
 * ValueCodec#current()}): after a configuration reload every value is decrypted again by the new
 * configuration, and the old one's are dropped at the first request after it.
 *
 * <p>What is counted: a value opened from a shared decryption is not a transformation, so the
 * codec's observers (kube-apiserver's transformation metrics, the stale and plaintext value
 * counters) hear of each decryption once, as kube-apiserver's watch cache decrypts an event once
 * for all its watchers; a stale value is offered to the stale listener once per decryption, by the
 * first stream that reads it as a current value. {@link #shared()} and {@link #decrypted()} count
 * the rest.
 */
public final class SharedDecryptions implements ValueCodec {

  /**
   * @param maxEntries decryptions kept at most
   * @param maxBytes bytes kept at most, each decryption counted as twice its stored value (the
   *     stored bytes and a plaintext no longer than them) plus its key; a value over an eighth of
   *     this is decrypted but not kept
   * @param ttl how long a decryption is shared after it started
   */
  public record Limits(int maxEntries, long maxBytes, Duration ttl) {

    public Limits {
      if (maxEntries < 1 || maxBytes < 1 || ttl.isNegative() || ttl.isZero()) {
        throw new IllegalArgumentException(
            "limits must be positive: " + maxEntries + ", " + maxBytes + ", " + ttl);
      }
    }

    /**
     * 4,096 decryptions, 8 MiB, 2 s: the streams that watch one event receive it within
     * milliseconds of each other; a stream lagging further behind decrypts for itself.
     */
    public static Limits defaults() {
      return new Limits(4096, 8 << 20, Duration.ofSeconds(2));
    }
  }

  /** kube-apiserver's prefix of every encrypted value. */
  private static final ByteString ENCRYPTED = ByteString.copyFromUtf8("k8s:enc:");

  /** What an entry costs besides its bytes (the entry, its map node, its future). */
  private static final int ENTRY_OVERHEAD = 160;

  private final ValueCodec codec;
  private final Limits limits;
  private final long ttlNanos;
  private final LongSupplier nanoClock;
  private final LongAdder shared = new LongAdder();
  private final LongAdder decrypted = new LongAdder();
  private Generation generation; // guarded by this

  public SharedDecryptions(ValueCodec codec, Limits limits) {
    this(codec, limits, System::nanoTime);
  }

  SharedDecryptions(ValueCodec codec, Limits limits, LongSupplier nanoClock) {
    this.codec = codec;
    this.limits = limits;
    this.ttlNanos = limits.ttl().toNanos();
    this.nanoClock = nanoClock;
  }

  /** Encrypted values answered from a decryption another stream made or is making. */
  public long shared() {
    return shared.sum();
  }

  /** Encrypted values decrypted here (each one a transformation the codec counted). */
  public long decrypted() {
    return decrypted.sum();
  }

  @Override
  public boolean mayProtectRange(ByteString key, ByteString rangeEnd) {
    return codec.mayProtectRange(key, rangeEnd);
  }

  @Override
  public CompletionStage<ByteString> toStorage(ByteString key, ByteString value) {
    return codec.toStorage(key, value);
  }

  @Override
  public CompletionStage<ByteString> fromStorage(
      ByteString key, ByteString value, long modRevision, StaleListener listener) {
    if (!value.startsWith(ENCRYPTED)) {
      return codec.fromStorage(key, value, modRevision, listener);
    }
    ValueCodec current = codec.current();
    long weight = 2L * value.size() + key.size() + ENTRY_OVERHEAD;
    Entry entry;
    boolean first = false;
    synchronized (this) {
      if (generation == null || generation.codec != current) {
        generation = new Generation(current); // a reload: the old decryptions are dropped
      }
      long now = nanoClock.getAsLong();
      generation.expire(now - ttlNanos);
      Id id = new Id(key, modRevision);
      entry = generation.entries.get(id);
      if (entry == null && weight <= limits.maxBytes() / 8) {
        entry = new Entry(generation, id, value, weight, now);
        generation.add(entry);
        first = true;
      }
    }
    if (entry == null || !first && !sameBytes(entry.stored, value)) {
      decrypted.increment();
      return current.fromStorage(key, value, modRevision, listener);
    }
    if (first) {
      decrypted.increment();
      decrypt(current, entry, key, modRevision);
    } else {
      shared.increment();
    }
    return opened(entry, key, modRevision, listener);
  }

  /** Decrypts {@code entry}'s value into its future; a failure is forgotten, not kept. */
  private void decrypt(ValueCodec current, Entry entry, ByteString key, long modRevision) {
    CompletionStage<ByteString> stage;
    try {
      stage = current.fromStorage(key, entry.stored, modRevision, (k, r) -> entry.stale = true);
    } catch (RuntimeException e) {
      forget(entry);
      entry.opened.completeExceptionally(e);
      throw e;
    }
    stage.whenComplete(
        (plaintext, error) -> {
          if (error != null) {
            forget(entry);
          }
          Stages.settle(entry.opened, plaintext, error);
        });
  }

  /**
   * {@code entry}'s plaintext for one reader; a reader that reads it as a key's current value tells
   * {@code listener} of a stale value, once per decryption.
   */
  private static CompletionStage<ByteString> opened(
      Entry entry, ByteString key, long modRevision, StaleListener listener) {
    if (listener == StaleListener.NONE) {
      return entry.opened;
    }
    if (entry.opened.isDone()) {
      offerIfStale(entry, key, modRevision, listener);
      return entry.opened;
    }
    return entry.opened.thenApply(
        plaintext -> {
          offerIfStale(entry, key, modRevision, listener);
          return plaintext;
        });
  }

  private static void offerIfStale(
      Entry entry, ByteString key, long modRevision, StaleListener listener) {
    if (entry.stale && entry.offered.compareAndSet(false, true)) {
      listener.stale(key, modRevision);
    }
  }

  private synchronized void forget(Entry entry) {
    entry.generation.remove(entry);
  }

  /** Whether two values are the same bytes (a vectorized compare, unlike ByteString's). */
  private static boolean sameBytes(ByteString a, ByteString b) {
    return a == b
        || a.size() == b.size() && a.asReadOnlyByteBuffer().equals(b.asReadOnlyByteBuffer());
  }

  /** What names one stored value in etcd. */
  private record Id(ByteString key, long modRevision) {}

  /** One decryption, shared from when it started. */
  private static final class Entry {
    final Generation generation;
    final Id id;
    final ByteString stored;
    final long weight;
    final long started;
    final CompletableFuture<ByteString> opened = new CompletableFuture<>();
    final AtomicBoolean offered = new AtomicBoolean();
    volatile boolean stale; // set by the codec before it completes the decryption

    Entry(Generation generation, Id id, ByteString stored, long weight, long started) {
      this.generation = generation;
      this.id = id;
      this.stored = stored;
      this.weight = weight;
      this.started = started;
    }
  }

  /**
   * The decryptions of one codec generation, oldest first (the order they expire in). Guarded by
   * the enclosing instance.
   */
  private final class Generation {
    final ValueCodec codec;
    final LinkedHashMap<Id, Entry> entries = new LinkedHashMap<>();
    long bytes;

    Generation(ValueCodec codec) {
      this.codec = codec;
    }

    void add(Entry entry) {
      entries.put(entry.id, entry);
      bytes += entry.weight;
      Iterator<Entry> oldest = entries.values().iterator();
      while (entries.size() > limits.maxEntries() || bytes > limits.maxBytes()) {
        bytes -= oldest.next().weight;
        oldest.remove();
      }
    }

    /** Drops the entries started before {@code cutoff}. */
    void expire(long cutoff) {
      Iterator<Entry> oldest = entries.values().iterator();
      while (oldest.hasNext()) {
        Entry e = oldest.next();
        if (e.started - cutoff >= 0) {
          return;
        }
        bytes -= e.weight;
        oldest.remove();
      }
    }

    void remove(Entry entry) {
      if (entries.remove(entry.id, entry)) {
        bytes -= entry.weight;
      }
    }
  }
}
