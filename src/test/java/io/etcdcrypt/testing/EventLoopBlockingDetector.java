package io.etcdcrypt.testing;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import reactor.blockhound.BlockHound;
import reactor.blockhound.BlockingOperationError;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * Makes every test of the suite prove that the proxy's event loops never block. BlockHound
 * (installed for the whole run by {@code blockhound-junit-platform}) takes this integration from
 * {@code META-INF/services}: on a thread of the proxy's event-loop group, every call that would
 * park, sleep or wait (a future's {@code get}, a lock under contention, blocking I/O) is recorded
 * and fails where it happens. Netty or grpc may swallow that failure inside a callback, so the
 * record is what counts: as a JUnit extension (auto-detected, see {@code
 * junit-platform.properties}) this class fails the test class during which anything was recorded.
 */
public final class EventLoopBlockingDetector implements BlockHoundIntegration, AfterAllCallback {

  /** The proxy's event-loop threads ({@code EventLoops.THREAD_NAME}). */
  private static final String EVENT_LOOP_THREADS = "proxy-event-loop";

  private static final List<String> VIOLATIONS = new CopyOnWriteArrayList<>();

  @Override
  public void applyTo(BlockHound.Builder builder) {
    builder
        .nonBlockingThreadPredicate(p -> p.or(t -> t.getName().startsWith(EVENT_LOOP_THREADS)))
        // Scheduling a task takes the queue's lock for a few instructions (grpc-java schedules the
        // release of its shared executor when a channel terminates on an event loop); Reactor's
        // own BlockHound integration allows the same.
        .allowBlockingCallsInside(
            "java.util.concurrent.ScheduledThreadPoolExecutor$DelayedWorkQueue", "offer")
        .blockingMethodCallback(
            method -> {
              // Other libraries mark their own event loops too (Vert.x, under the jetcd test
              // client); what a test does
              // on those is the test's business.
              if (Thread.currentThread().getName().startsWith(EVENT_LOOP_THREADS)) {
                VIOLATIONS.add(
                    Thread.currentThread().getName()
                        + " blocked in "
                        + method
                        + "\n"
                        + stack(new Throwable()));
                throw new BlockingOperationError(method);
              }
            });
  }

  private static String stack(Throwable t) {
    StringBuilder b = new StringBuilder();
    for (StackTraceElement e : t.getStackTrace()) {
      b.append("    at ").append(e).append('\n');
    }
    return b.toString();
  }

  /** What was recorded so far (for a test that checks it mid-way). */
  public static List<String> violations() {
    return List.copyOf(VIOLATIONS);
  }

  /**
   * Takes what was recorded, so that a test that blocks on purpose (to check the detector) can
   * clear it.
   */
  static List<String> drain() {
    List<String> seen = List.copyOf(VIOLATIONS);
    VIOLATIONS.removeAll(seen);
    return seen;
  }

  @Override
  public void afterAll(ExtensionContext context) {
    List<String> seen = drain();
    if (!seen.isEmpty()) {
      throw new AssertionError(
          "a proxy event loop blocked during "
              + context.getDisplayName()
              + ":\n"
              + String.join("\n", seen));
    }
  }
}
