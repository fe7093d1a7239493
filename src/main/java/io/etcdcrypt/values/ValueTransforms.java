package io.etcdcrypt.values;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.AlreadyEncryptedValueException;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.kms.KmsPluginException;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * Runs one message walk over the codec's transforms of its values, which are complete at once
 * unless a KMS plugin has to be asked. The walk runs against the transforms as they come; when
 * every one was complete (the common case) its message is the result and nothing else happens. When
 * some had to wait, the walk's first message is dropped and the walk runs again once they are all
 * complete, replaying every value's outcome in the same order: each value is transformed, and
 * counted in the metrics, exactly once.
 *
 * <p>A value that cannot be transformed fails the walk with {@code INTERNAL}, naming the key and
 * the reason; an already encrypted value the configuration cannot open, with {@code
 * FAILED_PRECONDITION}.
 */
final class ValueTransforms implements ValueSource {

  /** A walk over one message's values, building the message from what the source answers. */
  @FunctionalInterface
  interface Walk<M> {
    M over(ValueSource values) throws StatusException;
  }

  private final ValueCodec codec;
  private final ValueCodec.StaleListener stale;
  private List<CompletableFuture<ByteString>> outcomes; // in walk order, from the first value on
  private List<CompletableFuture<ByteString>> waiting;
  private int replayed = -1; // the next outcome to replay; -1 on the first walk

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
      return CompletableFuture.failedFuture(e);
    }
    if (values.waiting == null) {
      return CompletableFuture.completedFuture(first);
    }
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
        replayed >= 0 ? replay() : record(codec.toStorage(key, value));
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
   */
  private static Status statusOf(Throwable failure) {
    return failure instanceof KmsPluginException k && k.code() == Status.Code.RESOURCE_EXHAUSTED
        ? Status.RESOURCE_EXHAUSTED
        : Status.INTERNAL;
  }

  private CompletableFuture<ByteString> record(CompletionStage<ByteString> stage) {
    CompletableFuture<ByteString> f = stage.toCompletableFuture();
    if (outcomes == null) {
      outcomes = new ArrayList<>();
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
