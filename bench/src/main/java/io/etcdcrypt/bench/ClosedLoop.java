package io.etcdcrypt.bench;

import io.grpc.stub.StreamObserver;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.HdrHistogram.Recorder;

/**
 * A closed loop of unary calls: {@code inFlight} slots, each sending its next request as soon as
 * the previous response arrived, until the slice's time is up. Latency is request sent to response
 * received, recorded per call.
 */
abstract class ClosedLoop<RespT> {

  private static final ScheduledExecutorService RETRY =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "loadgen-retry");
            t.setDaemon(true);
            return t;
          });

  private final Recorder recorder = new Recorder(3);
  private final AtomicLong ops = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicReference<String> firstError = new AtomicReference<>();
  private CountDownLatch slotsDone;
  private volatile long deadline;

  /** Sends slot {@code slot}'s next request; the response goes to {@code observer}. */
  abstract void send(int slot, StreamObserver<RespT> observer);

  /**
   * Slot state update from a response; returns false if the response counts as a failed operation.
   */
  boolean accept(int slot, RespT response) {
    return true;
  }

  /** Called before the first request of a slice (to reset per-slot state). */
  void beforeSlice(int inFlight) {}

  final SliceResult run(int inFlight, long millis) throws InterruptedException {
    beforeSlice(inFlight);
    slotsDone = new CountDownLatch(inFlight);
    recorder.reset();
    ops.set(0);
    errors.set(0);
    long start = System.nanoTime();
    deadline = start + TimeUnit.MILLISECONDS.toNanos(millis);
    for (int slot = 0; slot < inFlight; slot++) {
      next(slot);
    }
    if (!slotsDone.await(millis + 120_000, TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException("requests still in flight two minutes after the slice ended");
    }
    long nanos = System.nanoTime() - start;
    return new SliceResult(
        ops.get(), errors.get(), nanos, recorder.getIntervalHistogram(), firstError.get());
  }

  private void next(int slot) {
    if (System.nanoTime() >= deadline) {
      slotsDone.countDown();
      return;
    }
    long sent = System.nanoTime();
    send(
        slot,
        new StreamObserver<>() {
          private boolean ok;

          @Override
          public void onNext(RespT response) {
            long took = System.nanoTime() - sent;
            ok = accept(slot, response);
            if (ok) {
              recorder.recordValue(took);
              ops.incrementAndGet();
            } else {
              fail("the response reported failure");
            }
          }

          @Override
          public void onError(Throwable t) {
            fail(t.toString());
            // Back off a little so a failing target is not hammered (and a synchronous failure does
            // not recurse).
            RETRY.schedule(() -> next(slot), 1, TimeUnit.MILLISECONDS);
          }

          @Override
          public void onCompleted() {
            next(slot);
          }
        });
  }

  private void fail(String why) {
    errors.incrementAndGet();
    firstError.compareAndSet(null, why);
  }
}
