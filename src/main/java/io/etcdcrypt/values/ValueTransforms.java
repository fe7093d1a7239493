package io.etcdcrypt.values;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.AlreadyEncryptedValueException;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.kms.KmsPluginException;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Runs one message walk over the codec's transforms of its values, which are complete at once
 * unless a KMS plugin has to be asked. The walk runs against the transforms as they come; when
 * every one was complete (the common case) its message is the result and nothing else happens. When
 * some had to wait, the walk's first message is dropped and the walk runs again once they are all
 * complete, replaying every value's outcome in the same order: each value is transformed, and
 * counted in the metrics, exactly once.
 *
 * <p>At most {@link #MAX_WAITING} of one message's transforms wait at once: a list page of 500 KMS
 * v1 values whose DEKs are not cached would otherwise ask the plugin 500 things at the same moment,
 * and be refused past {@code --kms-max-pending-calls} although the plugin is healthy. The values
 * after those wait their turn without asking anything; they start, in message order, as the waiting
 * ones complete.
 *
 * <p>A value that cannot be transformed fails the walk with {@code INTERNAL}, naming the key and
 * the reason; one the KMS plugin had no room for, with {@code RESOURCE_EXHAUSTED}; an already
 * encrypted value the configuration cannot open, with {@code FAILED_PRECONDITION}.
 */
final class ValueTransforms implements ValueSource {

  /** A walk over one message's values, building the message from what the source answers. */
  @FunctionalInterface
  interface Walk<M> {
    M over(ValueSource values) throws StatusException;
  }

  /**
   * Transforms of one message that may wait at once. Enough to keep a plugin on loopback busy (its
   * answers come back while the next calls are on their way), few enough that 32 messages doing the
   * same stay within the default {@code --kms-max-pending-calls} of 256.
   */
  static final int MAX_WAITING = 8;

  private final ValueCodec codec;
  private final ValueCodec.StaleListener stale;
  private List<CompletableFuture<ByteString>> outcomes; // in walk order, from the first value on
  private List<CompletableFuture<ByteString>> waiting;
  private int replayed = -1; // the next outcome to replay; -1 on the first walk

  /** Started transforms that have not completed yet. */
  private final AtomicInteger started = new AtomicInteger();

  /**
   * Transforms not started yet, in message order; null until the first one is held back. Once it
   * exists every later transform of the first walk queues behind it. Guarded by itself.
   */
  private volatile ArrayDeque<Held> held;

  /** A transform held back, its outcome, and the gRPC context of the request it is for. */
  private record Held(
      Supplier<CompletionStage<ByteString>> transform,
      CompletableFuture<ByteString> outcome,
      Context context) {}

  private ValueTransforms(ValueCodec codec, ValueCodec.StaleListener stale) {
    this.codec = codec;
    this.stale = stale;
  }

  /** The message {@code walk} builds, once every value it met is transformed. */
  static <M> CompletionStage<M> run(
      ValueCodec codec, ValueCodec.StaleListener stale, Walk<M> walk) {
    ValueTransforms values = new ValueTransforms(codec, stale);
    M first;
    try {
      first = walk.over(values);
    } catch (StatusException e) {
      values.dropHeld(); // the message fails: what it did not ask yet, it never asks
      return CompletableFuture.failedFuture(e);
    }
    if (values.waiting == null) {
      return CompletableFuture.completedFuture(first);
    }
    values.startHeld(); // those whose turn came while the walk was still queueing
    // Wait for every waiting transform, failed or not: the replay then fails on the first failure
    // in message order.
    CompletableFuture<?>[] all =
        values.waiting.stream()
            .map(f -> f.handle((r, e) -> null))
            .toArray(CompletableFuture[]::new);
    return CompletableFuture.allOf(all)
        .thenApply(
            done -> {
              values.replayed = 0;
              try {
                return walk.over(values);
              } catch (StatusException e) {
                throw new CompletionException(e);
              }
            });
  }

  @Override
  public ByteString seal(ByteString key, ByteString value) throws StatusException {
    CompletableFuture<ByteString> outcome =
        replayed >= 0 ? replay() : record(() -> codec.toStorage(key, value));
    try {
      return valueOf(outcome, value);
    } catch (CompletionException e) {
      if (Stages.cause(e) instanceof AlreadyEncryptedValueException refused) {
        throw Refusals.refuse(Status.FAILED_PRECONDITION, refused.getMessage());
      }
      throw Refusals.refuse(
          statusOf(Stages.cause(e)),
          "cannot encrypt the value for key "
              + Refusals.printable(key)
              + ", nothing was written: "
              + Stages.cause(e).getMessage());
    }
  }

  @Override
  public ByteString open(ByteString key, ByteString value, long modRevision, boolean current)
      throws StatusException {
    CompletableFuture<ByteString> outcome =
        replayed >= 0
            ? replay()
            : record(
                () ->
                    codec.fromStorage(
                        key, value, modRevision, current ? stale : ValueCodec.StaleListener.NONE));
    try {
      return valueOf(outcome, value);
    } catch (CompletionException e) {
      throw Refusals.refuse(
          statusOf(Stages.cause(e)),
          "cannot decrypt the value of key "
              + Refusals.printable(key)
              + ": "
              + Stages.cause(e).getMessage());
    }
  }

  /**
   * The status of a failed transform: RESOURCE_EXHAUSTED when the KMS plugin had too many calls
   * waiting (the client may retry later, as after etcd's own RESOURCE_EXHAUSTED), else INTERNAL.
   * Providers wrap the plugin's failure in their own words ("failed to decrypt DEK: ..."), so the
   * whole cause chain is looked at.
   */
  private static Status statusOf(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof KmsPluginException k && k.code() == Status.Code.RESOURCE_EXHAUSTED) {
        return Status.RESOURCE_EXHAUSTED;
      }
    }
    return Status.INTERNAL;
  }

  /**
   * Starts {@code transform} now, or queues it when {@link #MAX_WAITING} transforms already wait;
   * its outcome, in walk order.
   */
  private CompletableFuture<ByteString> record(Supplier<CompletionStage<ByteString>> transform) {
    if (outcomes == null) {
      outcomes = new ArrayList<>();
    }
    CompletableFuture<ByteString> f;
    if (held == null && started.get() < MAX_WAITING) {
      f = start(transform);
    } else {
      f = new CompletableFuture<>();
      if (held == null) {
        held = new ArrayDeque<>();
      }
      synchronized (held) {
        held.add(new Held(transform, f, Context.current()));
      }
    }
    outcomes.add(f);
    if (!f.isDone()) {
      if (waiting == null) {
        waiting = new ArrayList<>();
      }
      waiting.add(f);
    }
    return f;
  }

  /** Runs {@code transform}; one that waits holds a slot until it completes. */
  private CompletableFuture<ByteString> start(Supplier<CompletionStage<ByteString>> transform) {
    CompletableFuture<ByteString> f = transform.get().toCompletableFuture();
    if (!f.isDone()) {
      started.incrementAndGet();
      f.whenComplete((r, e) -> freeSlot());
    }
    return f;
  }

  private void freeSlot() {
    started.decrementAndGet();
    startHeld();
  }

  /** Starts held transforms, in order, while fewer than {@link #MAX_WAITING} wait. */
  private void startHeld() {
    ArrayDeque<Held> queue = held;
    if (queue == null) {
      return;
    }
    while (true) {
      Held next;
      synchronized (queue) {
        if (queue.isEmpty() || started.get() >= MAX_WAITING) {
          return;
        }
        next = queue.poll();
        started.incrementAndGet(); // its slot, until it proves not to wait
      }
      CompletableFuture<ByteString> f;
      try {
        f = next.context().call(() -> next.transform().get()).toCompletableFuture();
      } catch (Exception e) {
        f = CompletableFuture.failedFuture(e);
      }
      CompletableFuture<ByteString> outcome = next.outcome();
      f.whenComplete((r, e) -> Stages.settle(outcome, r, e));
      if (f.isDone()) {
        started.decrementAndGet(); // a cached DEK, say: the slot is free again at once
      } else {
        f.whenComplete((r, e) -> freeSlot());
      }
    }
  }

  private void dropHeld() {
    ArrayDeque<Held> queue = held;
    if (queue != null) {
      synchronized (queue) {
        queue.clear();
      }
    }
  }

  private CompletableFuture<ByteString> replay() {
    if (outcomes == null || replayed >= outcomes.size()) {
      throw new IllegalStateException(
          "a message walk met more values the second time than the first");
    }
    return outcomes.get(replayed++);
  }

  /**
   * The value to use: the outcome's, or {@code value} itself when the codec left it as it is. A
   * transform that is still waiting answers {@code value} too, as a stand-in: its walk runs again
   * when it completes.
   */
  private static ByteString valueOf(CompletableFuture<ByteString> outcome, ByteString value) {
    if (!outcome.isDone()) {
      return value;
    }
    return ValueCodec.valueOf(outcome.join(), value);
  }
}
