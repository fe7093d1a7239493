package io.etcdcrypt.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waits for something that happens in the background (a reload, a reconnect), failing after a generous limit. */
public final class Await {

  private Await() {}

  public static void until(String what, Duration limit, BooleanSupplier condition) {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + limit.toSeconds() + " s waiting for: " + what);
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for: " + what);
      }
    }
  }
}
