package io.etcdcrypt.testing;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Waits for something that happens in the background (a reload, a reconnect, a watch being created)
 * by polling for the evidence, failing after a generous limit: a test never sleeps a fixed time and
 * hopes.
 */
public final class Await {

  private static final long POLL_MILLIS = 20;

  private Await() {}

  /**
   * Polls {@code condition} until it holds; fails naming {@code what} once {@code limit} has
   * passed.
   */
  public static void until(String what, Duration limit, BooleanSupplier condition) {
    if (!within(limit, condition, what)) {
      throw new AssertionError("timed out after " + limit.toSeconds() + " s waiting for: " + what);
    }
  }

  /**
   * Polls {@code condition} until it holds or {@code limit} passes, and says whether it held: for a
   * test whose own assertion, made next, says what went wrong.
   */
  public static boolean within(Duration limit, BooleanSupplier condition) {
    return within(limit, condition, "a condition");
  }

  /**
   * Polls {@code value} until it has stayed equal for {@code quiet} and returns it; fails naming
   * {@code what} once {@code limit} has passed. For what must stop: a flow that backpressure should
   * hold to a few messages has settled when nothing more arrives for a while, however slowly the
   * machine got there.
   */
  public static <T> T steady(String what, Duration quiet, Duration limit, Supplier<T> value) {
    long deadline = System.nanoTime() + limit.toNanos();
    T last = value.get();
    long since = System.nanoTime();
    while (System.nanoTime() - since < quiet.toNanos()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "timed out after "
                + limit.toSeconds()
                + " s waiting for "
                + what
                + " to stay the same for "
                + quiet.toMillis()
                + " ms; last: "
                + last);
      }
      pause(what);
      T now = value.get();
      if (!Objects.equals(now, last)) {
        last = now;
        since = System.nanoTime();
      }
    }
    return last;
  }

  /**
   * The result of {@code future}, as {@code join()} returns it (a failed future throws {@link
   * java.util.concurrent.CompletionException}), but failing naming {@code what} once {@code limit}
   * has passed.
   */
  public static <T> T join(String what, Duration limit, CompletableFuture<T> future) {
    try {
      return future.get(limit.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError("timed out after " + limit.toSeconds() + " s waiting for: " + what);
    } catch (ExecutionException e) {
      throw new CompletionException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted waiting for: " + what);
    }
  }

  private static boolean within(Duration limit, BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      pause(what);
    }
    return true;
  }

  private static void pause(String what) {
    try {
      Thread.sleep(POLL_MILLIS); // the polling interval, not a wait for the event itself
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted waiting for: " + what);
    }
  }
}
