package io.etcdcrypt.ops;

import com.google.common.util.concurrent.RateLimiter;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.etcdcrypt.crypto.DecryptedDetail;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.values.GuardedPut;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Re-encrypts every stale value of some key ranges with the first provider and key of its
 * resource's rule.
 *
 * <p>One thread scans the ranges page by page at a pinned revision and opens each value; a stale
 * one is sealed anew and written back with {@link GuardedPut} ({@code MOD == the revision read}),
 * asynchronously, with at most {@code maxInFlight} writes outstanding, so etcd batches them instead
 * of the scan waiting for every round trip. When a client updated the value in between, the compare
 * fails and the Txn's else branch returns the winner: if it is current (a client wrote through an
 * up-to-date proxy) nothing more is done, if it is still stale it is rewritten at its new revision,
 * if it was deleted it is gone. A client's write is never overwritten.
 *
 * <p>Progress is kept in key order per range: a range's saved position only advances over pages
 * whose every value has been handled, so a resumed run never skips a value that was still in flight
 * when the previous one stopped.
 *
 * <p>A Rewrapper runs once.
 */
public final class Rewrapper {

  private static final Logger log = LoggerFactory.getLogger(Rewrapper.class);
  private static final int MAX_SEND_TRIES = 5;

  /**
   * @param pageSize keys per Range request
   * @param maxInFlight writes outstanding at once
   * @param ratePerSecond at most this many rewrites per second; 0 for no limit
   * @param dryRun count what would be rewritten, write nothing
   * @param limit stop (resumably) after this many rewrites; 0 for no limit
   * @param maxAttempts how often one key is rewritten again after losing to concurrent updates
   *     before giving up
   * @param callTimeout deadline of every etcd call
   * @param rewriteUnauthenticated also rewrite stale values that only a format without integrity
   *     opened (aescbc, KMS v1's CBC fallback) when they read as Kubernetes objects; see {@link
   *     Unauthenticated}
   */
  public record Options(
      int pageSize,
      int maxInFlight,
      double ratePerSecond,
      boolean dryRun,
      long limit,
      int maxAttempts,
      Duration callTimeout,
      boolean rewriteUnauthenticated) {

    public Options {
      if (pageSize < 1 || maxInFlight < 1 || maxAttempts < 1) {
        throw new IllegalArgumentException(
            "page size, writes in flight and attempts must be at least 1");
      }
      if (ratePerSecond < 0 || limit < 0) {
        throw new IllegalArgumentException("--rate and --limit must not be negative");
      }
    }

    public static Options defaults() {
      return new Options(500, 64, 0, false, 0, 10, Duration.ofSeconds(30), false);
    }

    public Options withRate(double perSecond) {
      return new Options(
          pageSize,
          maxInFlight,
          perSecond,
          dryRun,
          limit,
          maxAttempts,
          callTimeout,
          rewriteUnauthenticated);
    }

    public Options withDryRun(boolean dry) {
      return new Options(
          pageSize,
          maxInFlight,
          ratePerSecond,
          dry,
          limit,
          maxAttempts,
          callTimeout,
          rewriteUnauthenticated);
    }

    public Options withLimit(long max) {
      return new Options(
          pageSize,
          maxInFlight,
          ratePerSecond,
          dryRun,
          max,
          maxAttempts,
          callTimeout,
          rewriteUnauthenticated);
    }

    public Options withPageSize(int size) {
      return new Options(
          size,
          maxInFlight,
          ratePerSecond,
          dryRun,
          limit,
          maxAttempts,
          callTimeout,
          rewriteUnauthenticated);
    }

    public Options withRewriteUnauthenticated(boolean allowed) {
      return new Options(
          pageSize, maxInFlight, ratePerSecond, dryRun, limit, maxAttempts, callTimeout, allowed);
    }

    public Options withMaxInFlight(int max) {
      return new Options(
          pageSize,
          max,
          ratePerSecond,
          dryRun,
          limit,
          maxAttempts,
          callTimeout,
          rewriteUnauthenticated);
    }
  }

  /** How {@link #run} ended. */
  public enum Outcome {
    /** Every range was scanned to its end. */
    FINISHED,
    /**
     * {@link #stop()} was called or the limit was reached; the saved progress tells where to
     * continue.
     */
    STOPPED
  }

  /**
   * The values of one page (or the end of a range) in scan order; done once every value of it is
   * handled.
   */
  private static final class Batch {
    final Scope scope;
    final boolean endOfRange;
    final AtomicInteger pending = new AtomicInteger(1); // 1 until sealed
    volatile ByteString lastKey;
    volatile boolean done;

    Batch(Scope scope, boolean endOfRange) {
      this.scope = scope;
      this.endOfRange = endOfRange;
    }
  }

  private final EncryptionCodec codec;
  private final Channel channel;
  private final Options options;
  private final RangeScanner scanner;
  private final RewrapStats stats = new RewrapStats();
  private final Semaphore inFlight;
  private final RateLimiter rate;
  private final AtomicLong submitted = new AtomicLong();
  private final ArrayDeque<Batch> batches = new ArrayDeque<>();
  private ScheduledExecutorService callbacks;
  private KVGrpc.KVStub kv;
  private RewrapState state;
  private volatile boolean stopRequested;

  public Rewrapper(EncryptionCodec codec, Channel channel, Options options) {
    this.codec = codec;
    this.channel = channel;
    this.options = options;
    this.scanner = new RangeScanner(channel, options.pageSize(), options.callTimeout());
    this.inFlight = new Semaphore(options.maxInFlight());
    this.rate = options.ratePerSecond() > 0 ? RateLimiter.create(options.ratePerSecond()) : null;
  }

  public RewrapStats stats() {
    return stats;
  }

  /** The revision the scan reads at. */
  public long revision() {
    return scanner.revision();
  }

  /**
   * Asks a running pass to stop: no new value is taken up, writes already sent complete. Any
   * thread.
   */
  public void stop() {
    stopRequested = true;
  }

  /**
   * Scans {@code scopes} and rewrites their stale values; returns when every write has completed.
   *
   * @param state saved progress to resume from and to advance, or null (dry runs, tests)
   * @throws EtcdAccessException when etcd cannot be read
   */
  public Outcome run(List<Scope> scopes, RewrapState state) throws InterruptedException {
    this.state = state;
    callbacks =
        Executors.newScheduledThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "rewrap-writes");
              t.setDaemon(true);
              return t;
            });
    kv = KVGrpc.newStub(channel).withExecutor(callbacks);
    try {
      if (scopes.isEmpty()) {
        return Outcome.FINISHED;
      }
      scanner.count(
          scopes.get(0).start(),
          scopes.get(0).end()); // pins the revision and learns the cluster id
      if (state != null) {
        state.bind(scanner.clusterId());
      }
      long total = 0;
      ByteString[] starts = new ByteString[scopes.size()];
      for (int i = 0; i < scopes.size(); i++) {
        Scope scope = scopes.get(i);
        if (isComplete(scope)) {
          log.info("{}: done in an earlier run, skipped", scope.name());
        } else {
          starts[i] = startOf(scope);
          total += scanner.count(starts[i], scope.end());
        }
      }
      stats.total.set(total);
      for (int i = 0; i < scopes.size(); i++) {
        Scope scope = scopes.get(i);
        if (starts[i] == null) {
          continue;
        }
        if (!scan(scope, starts[i])) {
          break;
        }
        Batch end = enqueue(scope, true);
        seal(end);
      }
    } finally {
      inFlight.acquireUninterruptibly(options.maxInFlight()); // every write has completed
      inFlight.release(options.maxInFlight());
      callbacks.shutdown();
    }
    return stopRequested ? Outcome.STOPPED : Outcome.FINISHED;
  }

  private boolean isComplete(Scope scope) {
    return state != null && state.isComplete(scope);
  }

  private ByteString startOf(Scope scope) {
    ByteString resume = state == null ? null : state.resumeAfter(scope);
    if (resume != null
        && ByteString.unsignedLexicographicalComparator().compare(resume, scope.start()) >= 0) {
      log.info(
          "{}: continuing after {}, where an earlier run stopped",
          scope.name(),
          StoredAs.printable(resume));
      return Scope.after(resume);
    }
    return scope.start();
  }

  /** Scans one range; false when stopped before its end. */
  private boolean scan(Scope scope, ByteString from) throws InterruptedException {
    scanner.scan(
        from,
        scope.end(),
        page -> {
          Batch batch = enqueue(scope, false);
          try {
            for (KeyValue kv : page) {
              if (stopRequested || !handle(kv, scope, batch)) {
                return false;
              }
              batch.lastKey = kv.getKey();
            }
          } finally {
            seal(batch);
          }
          return !stopRequested;
        });
    return !stopRequested;
  }

  /** Takes up one scanned value; false when it was left alone because the run stops here. */
  private boolean handle(KeyValue kv, Scope scope, Batch batch) {
    Optional<EncryptionCodec.Inspection> found = Waits.inspect(codec, kv.getKey(), kv.getValue());
    if (found.isEmpty() || !scope.selection().includes(found.get().resource())) {
      stats.passedOver.incrementAndGet();
      return resolved();
    }
    EncryptionCodec.Inspection i = found.get();
    if (i.error() != null) {
      undecryptable(kv.getKey(), i.error());
      return resolved();
    }
    if (!i.configured()) {
      stats.passedOver.incrementAndGet();
      return resolved();
    }
    if (!i.needsRewrite()) {
      stats.current.incrementAndGet();
      return resolved();
    }
    if (leftUnauthenticated(kv.getKey(), i.detail())) {
      return resolved();
    }
    if (options.limit() > 0 && submitted.get() >= options.limit()) {
      log.info("rewrote {} values, the --limit; stopping", submitted.get());
      stopRequested = true;
      return false;
    }
    stats.stale.incrementAndGet();
    if (options.dryRun()) {
      return resolved();
    }
    stats.examined.incrementAndGet();
    if (rate != null) {
      rate.acquire();
    }
    inFlight.acquireUninterruptibly();
    batch.pending.incrementAndGet();
    submitted.incrementAndGet();
    rewrite(kv.getKey(), kv.getModRevision(), i.detail().plaintext(), batch, 1);
    return true;
  }

  private boolean resolved() {
    stats.examined.incrementAndGet();
    stats.resolved.incrementAndGet();
    return true;
  }

  private void rewrite(
      ByteString key, long modRevision, byte[] plaintext, Batch batch, int attempt) {
    ByteString sealed;
    try {
      sealed = Waits.seal(codec, key, UnsafeByteOperations.unsafeWrap(plaintext));
    } catch (TransformException | RuntimeException e) {
      fail(key, "cannot encrypt it: " + e.getMessage(), batch);
      return;
    }
    send(GuardedPut.txn(key, modRevision, sealed), key, batch, attempt, 1);
  }

  private void send(TxnRequest txn, ByteString key, Batch batch, int attempt, int tries) {
    kv.withDeadlineAfter(options.callTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .txn(
            txn,
            new StreamObserver<>() {
              private TxnResponse response;

              @Override
              public void onNext(TxnResponse r) {
                response = r;
              }

              @Override
              public void onError(Throwable t) {
                Status s = Status.fromThrowable(t);
                boolean transientFailure =
                    s.getCode() == Status.Code.UNAVAILABLE
                        || s.getCode() == Status.Code.DEADLINE_EXCEEDED
                        || s.getCode() == Status.Code.RESOURCE_EXHAUSTED;
                if (transientFailure && tries < MAX_SEND_TRIES && !callbacks.isShutdown()) {
                  // Resending is safe: if the first Txn was applied, the compare now fails and the
                  // else branch shows
                  // our own, current value.
                  long backoff = 200L << (tries - 1);
                  callbacks.schedule(
                      () -> send(txn, key, batch, attempt, tries + 1),
                      backoff,
                      TimeUnit.MILLISECONDS);
                } else {
                  fail(key, "etcd did not take the write: " + RangeScanner.describe(s), batch);
                }
              }

              // The write counts as done only here, when the call is closed: once the last write is
              // done run() shuts the
              // callback executor down, and a close still to be delivered to it would be rejected
              // on the transport thread,
              // which tears down the connection the census that follows shares (it failed with
              // UNKNOWN).
              @Override
              public void onCompleted() {
                if (response == null) {
                  fail(key, "etcd closed the write without an answer", batch);
                  return;
                }
                try {
                  written(response, key, batch, attempt);
                } catch (RuntimeException e) {
                  fail(key, "unexpected error: " + e, batch);
                }
              }
            });
  }

  private void written(TxnResponse response, ByteString key, Batch batch, int attempt) {
    if (response.getSucceeded()) {
      stats.rewritten.incrementAndGet();
      finish(batch);
      return;
    }
    Optional<KeyValue> now = GuardedPut.current(response);
    if (now.isEmpty()) {
      stats.deletedConcurrently.incrementAndGet();
      finish(batch);
      return;
    }
    stats.conflicts.incrementAndGet();
    KeyValue kv = now.get();
    Optional<EncryptionCodec.Inspection> again = Waits.inspect(codec, kv.getKey(), kv.getValue());
    if (again.isEmpty() || again.get().error() != null) {
      undecryptable(
          key, again.map(EncryptionCodec.Inspection::error).orElse("no longer an object key"));
      finish(batch);
    } else if (!again.get().needsRewrite()) {
      stats.updatedConcurrently.incrementAndGet();
      finish(batch);
    } else if (leftUnauthenticated(key, again.get().detail())) {
      finish(batch);
    } else if (attempt >= options.maxAttempts()) {
      fail(
          key,
          "it changed "
              + attempt
              + " times while being rewritten (a busy writer, or one using an old"
              + " configuration); run rewrap again",
          batch);
    } else {
      rewrite(
          kv.getKey(), kv.getModRevision(), again.get().detail().plaintext(), batch, attempt + 1);
    }
  }

  private void undecryptable(ByteString key, String reason) {
    stats.undecryptable.incrementAndGet();
    KeyProblem p = new KeyProblem(StoredAs.printable(key), reason);
    stats.problem(p);
    log.warn("undecryptable, left as it is: {}", p);
  }

  /** True when {@code d} must not be re-encrypted (see {@link Unauthenticated}): it is listed. */
  private boolean leftUnauthenticated(ByteString key, DecryptedDetail d) {
    Optional<String> why = Unauthenticated.whyNotRewrite(d, options.rewriteUnauthenticated());
    if (why.isEmpty()) {
      return false;
    }
    KeyProblem p = new KeyProblem(StoredAs.printable(key), why.get());
    stats.leftUnauthenticated(p);
    log.warn("not rewritten: {}", p);
    return true;
  }

  private void fail(ByteString key, String reason, Batch batch) {
    stats.failed.incrementAndGet();
    KeyProblem p = new KeyProblem(StoredAs.printable(key), reason);
    stats.problem(p);
    log.warn("not rewritten: {}", p);
    finish(batch);
  }

  private void finish(Batch batch) {
    stats.resolved.incrementAndGet();
    if (batch.pending.decrementAndGet() == 0) {
      completed(batch);
    }
    // Only now: run() returns once every permit is back, and by then the progress must include this
    // write.
    inFlight.release();
  }

  private Batch enqueue(Scope scope, boolean endOfRange) {
    Batch b = new Batch(scope, endOfRange);
    synchronized (batches) {
      batches.addLast(b);
    }
    return b;
  }

  private void seal(Batch batch) {
    if (batch.pending.decrementAndGet() == 0) {
      completed(batch);
    }
  }

  /** Advances the saved progress over every leading batch that is done, in scan order. */
  private void completed(Batch batch) {
    batch.done = true;
    synchronized (batches) {
      while (!batches.isEmpty() && batches.peekFirst().done) {
        Batch b = batches.pollFirst();
        if (state == null) {
          continue;
        }
        if (b.endOfRange) {
          state.rangeComplete(b.scope);
        } else if (b.lastKey != null) {
          state.completedThrough(b.scope, b.lastKey);
        }
      }
    }
  }
}
