package io.etcdcrypt.ops;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.values.GuardedPut;
import io.grpc.Channel;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Re-encrypts stale values the proxy happens to read ({@code serve --rewrite-stale-on-read}), in
 * the background.
 *
 * <p>The read path calls {@link #offer} with the key and mod revision of a value it found stale;
 * that never blocks: the key joins a bounded queue (once, however often it is offered while
 * waiting) or, when the queue is full, is dropped and counted. Worker threads take keys from the
 * queue, re-read each from etcd, and if the value there is still stale write it back re-encrypted
 * with {@code Txn(MOD == the revision read)}, so a client's update in between always wins.
 * Plaintext is never queued: workers read the value themselves.
 */
public final class StaleRewriter implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(StaleRewriter.class);

  /**
   * @param queueCapacity keys waiting at most; more are dropped (and counted)
   * @param workers threads rewriting; each does one read and at most one write at a time
   * @param callTimeout deadline of each etcd call
   */
  public record Options(int queueCapacity, int workers, Duration callTimeout) {

    public Options {
      if (queueCapacity < 1 || workers < 1) {
        throw new IllegalArgumentException("queue capacity and workers must be at least 1");
      }
    }

    public static Options defaults() {
      return new Options(10_000, 2, Duration.ofSeconds(10));
    }
  }

  private final Supplier<EncryptionCodec> codec;
  private final KVGrpc.KVBlockingStub kv;
  private final Options options;
  private final BlockingQueue<ByteString> queue;
  private final ConcurrentHashMap<ByteString, Boolean> waiting = new ConcurrentHashMap<>();
  private final List<Thread> threads = new ArrayList<>();
  private final AtomicLong staleSeen = new AtomicLong();
  private final AtomicLong dropped = new AtomicLong();
  private final AtomicLong rewritten = new AtomicLong();
  private final AtomicLong alreadyCurrent = new AtomicLong();
  private final AtomicLong conflicts = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();
  private volatile boolean closed;

  /**
   * @param codec the codec to open and seal with, asked once per key (a {@link SwappableCodec}'s
   *     {@code current} under automatic reload)
   * @param upstream the channel to etcd itself (the proxy's {@code Upstream.channel()}), not to the
   *     proxy
   */
  public StaleRewriter(Supplier<EncryptionCodec> codec, Channel upstream, Options options) {
    this.codec = codec;
    this.kv = KVGrpc.newBlockingStub(upstream);
    this.options = options;
    this.queue = new LinkedBlockingQueue<>(options.queueCapacity());
  }

  /** Starts the worker threads; keys offered before are kept and handled then. */
  public synchronized StaleRewriter start() {
    if (!threads.isEmpty() || closed) {
      return this;
    }
    for (int i = 0; i < options.workers(); i++) {
      Thread t = new Thread(this::work, "stale-rewriter-" + i);
      t.setDaemon(true);
      threads.add(t);
      t.start();
    }
    return this;
  }

  /**
   * Notes that the value read at {@code key} (last modified at {@code modRevision}) was stale, and
   * queues the key for a rewrite. Never blocks. Returns false when the key was already waiting or
   * the queue is full.
   */
  public boolean offer(ByteString key, long modRevision) {
    staleSeen.incrementAndGet();
    if (closed || waiting.putIfAbsent(key, Boolean.TRUE) != null) {
      return false;
    }
    if (!queue.offer(key)) {
      waiting.remove(key);
      dropped.incrementAndGet();
      return false;
    }
    return true;
  }

  /** Stale values the read path reported (the metric of stale values seen). */
  public long staleSeen() {
    return staleSeen.get();
  }

  /** Keys not queued because the queue was full. */
  public long dropped() {
    return dropped.get();
  }

  /** Values re-encrypted and written back. */
  public long rewritten() {
    return rewritten.get();
  }

  /** Keys whose value was current (or gone) by the time a worker read it. */
  public long alreadyCurrent() {
    return alreadyCurrent.get();
  }

  /** Rewrites not made because a client updated the value between the worker's read and write. */
  public long conflicts() {
    return conflicts.get();
  }

  /** Keys that could not be handled (etcd error, value unreadable, encryption refused). */
  public long failures() {
    return failures.get();
  }

  /** Keys waiting now. */
  public int queued() {
    return queue.size();
  }

  private void work() {
    while (!closed) {
      ByteString key;
      try {
        key = queue.take();
      } catch (InterruptedException e) {
        return;
      }
      waiting.remove(key);
      try {
        rewrite(key);
      } catch (StatusRuntimeException e) {
        if (closed) {
          return; // cancelled by close()
        }
        failures.incrementAndGet();
        log.warn(
            "could not rewrite the stale value of {}: etcd: {}",
            StoredAs.printable(key),
            RangeScanner.describe(e.getStatus()));
      } catch (RuntimeException e) {
        failures.incrementAndGet();
        log.warn(
            "could not rewrite the stale value of {}: {}", StoredAs.printable(key), e.toString());
      }
    }
  }

  private void rewrite(ByteString key) {
    EncryptionCodec c = codec.get();
    RangeResponse read = stub().range(RangeRequest.newBuilder().setKey(key).build());
    if (read.getKvsCount() == 0) {
      alreadyCurrent.incrementAndGet(); // deleted: nothing stale left
      return;
    }
    KeyValue stored = read.getKvs(0);
    Optional<EncryptionCodec.Inspection> found = Waits.inspect(c, key, stored.getValue());
    if (found.isEmpty() || found.get().error() != null) {
      failures.incrementAndGet();
      log.warn(
          "could not rewrite the stale value of {}: {}",
          StoredAs.printable(key),
          found.map(EncryptionCodec.Inspection::error).orElse("not an object key"));
      return;
    }
    if (!found.get().needsRewrite()) {
      alreadyCurrent.incrementAndGet();
      return;
    }
    Optional<String> unsafe = Unauthenticated.whyNotRewrite(found.get().detail(), false);
    if (unsafe.isPresent()) {
      // The read path does not offer these; a value that changed since it was offered may be one.
      failures.incrementAndGet();
      log.warn("not rewriting the stale value of {}: {}", StoredAs.printable(key), unsafe.get());
      return;
    }
    ByteString sealed;
    try {
      sealed =
          Waits.seal(c, key, UnsafeByteOperations.unsafeWrap(found.get().detail().plaintext()));
    } catch (TransformException e) {
      failures.incrementAndGet();
      log.warn(
          "could not re-encrypt the stale value of {}: {}",
          StoredAs.printable(key),
          e.getMessage());
      return;
    }
    TxnResponse written = stub().txn(GuardedPut.txn(key, stored.getModRevision(), sealed));
    if (written.getSucceeded()) {
      rewritten.incrementAndGet();
    } else {
      conflicts.incrementAndGet();
    }
  }

  private KVGrpc.KVBlockingStub stub() {
    return kv.withDeadlineAfter(options.callTimeout().toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Stops the workers; queued keys are dropped (they stay stale and are offered again when read).
   */
  @Override
  public void close() {
    List<Thread> running;
    synchronized (this) {
      closed = true;
      running = List.copyOf(threads);
    }
    running.forEach(Thread::interrupt);
    for (Thread t : running) {
      try {
        t.join(options.callTimeout().toMillis() * 2);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    queue.clear();
    waiting.clear();
  }
}
