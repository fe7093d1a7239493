package io.etcdcrypt.bench;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.PutResponse;
import io.etcdcrypt.etcd.etcdserverpb.WatchCreateRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchResponse;
import io.etcdcrypt.etcd.mvccpb.Event;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.HdrHistogram.Recorder;

/**
 * One writer, {@value Plan#WATCHERS} watchers: each watcher is its own Watch stream on the target's
 * watch prefix (as many kube-apiserver instances, or informers behind a proxy, would each hold
 * one). The writer keeps up to {@code window} events outstanding, an event being outstanding until
 * every watcher received it; each value carries the writer's send time and its window slot, so the
 * latency recorded per delivery is Put sent to event received. One operation is one event delivered
 * to all watchers.
 */
final class WatchFanOut {

  private final Target target;
  private final ByteString template;
  private final Recorder recorder = new Recorder(3);
  private final AtomicLong events = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicReference<String> firstError = new AtomicReference<>();
  private AtomicInteger[] remaining;
  private CountDownLatch slotsDone;
  private volatile long deadline;

  WatchFanOut(Target target, ByteString template) {
    this.target = target;
    this.template = template;
  }

  SliceResult run(int window, long millis) throws InterruptedException {
    List<ClientCallStreamObserver<WatchRequest>> streams = new ArrayList<>();
    CountDownLatch created = new CountDownLatch(Plan.WATCHERS);
    ByteString prefix = target.watchPrefix();
    WatchRequest create =
        WatchRequest.newBuilder()
            .setCreateRequest(
                WatchCreateRequest.newBuilder().setKey(prefix).setRangeEnd(Keys.rangeEnd(prefix)))
            .build();
    for (int w = 0; w < Plan.WATCHERS; w++) {
      AtomicReference<ClientCallStreamObserver<WatchRequest>> ref = new AtomicReference<>();
      target
          .conn
          .watch(w)
          .watch(
              new ClientResponseObserver<WatchRequest, WatchResponse>() {
                @Override
                public void beforeStart(ClientCallStreamObserver<WatchRequest> requestStream) {
                  ref.set(requestStream);
                }

                @Override
                public void onNext(WatchResponse r) {
                  if (r.getCreated()) {
                    created.countDown();
                  }
                  long now = System.nanoTime();
                  for (Event e : r.getEventsList()) {
                    delivered(e, now);
                  }
                }

                @Override
                public void onError(Throwable t) {
                  if (remaining != null && System.nanoTime() < deadline) {
                    fail(t.toString());
                  }
                }

                @Override
                public void onCompleted() {}
              });
      ref.get().onNext(create);
      streams.add(ref.get());
    }
    try {
      if (!created.await(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException(target + ": watches were not created within 60 s");
      }
      remaining = new AtomicInteger[window];
      for (int i = 0; i < window; i++) {
        remaining[i] = new AtomicInteger();
      }
      slotsDone = new CountDownLatch(window);
      long start = System.nanoTime();
      deadline = start + TimeUnit.MILLISECONDS.toNanos(millis);
      for (int slot = 0; slot < window; slot++) {
        write(slot);
      }
      if (!slotsDone.await(millis + 60_000, TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException(
            target + ": events still undelivered a minute after the slice ended");
      }
      long nanos = System.nanoTime() - start;
      return new SliceResult(
          events.get(), errors.get(), nanos, recorder.getIntervalHistogram(), firstError.get());
    } finally {
      for (ClientCallStreamObserver<WatchRequest> s : streams) {
        s.cancel("slice over", null);
      }
    }
  }

  private void write(int slot) {
    if (System.nanoTime() >= deadline) {
      slotsDone.countDown();
      return;
    }
    remaining[slot].set(Plan.WATCHERS);
    ByteBuffer stamp = ByteBuffer.allocate(12).putLong(System.nanoTime()).putInt(slot);
    stamp.flip();
    ByteString value = ByteString.copyFrom(stamp).concat(template.substring(12));
    PutRequest put =
        PutRequest.newBuilder()
            .setKey(target.watchPrefix().concat(Keys.of("k" + slot)))
            .setValue(value)
            .build();
    target
        .conn
        .kv(slot)
        .put(
            put,
            new StreamObserver<PutResponse>() {
              @Override
              public void onNext(PutResponse value) {}

              @Override
              public void onError(Throwable t) {
                fail(t.toString());
                slotsDone.countDown(); // this slot stops: its event will never arrive
              }

              @Override
              public void onCompleted() {}
            });
  }

  private void delivered(Event e, long now) {
    ByteBuffer v = e.getKv().getValue().asReadOnlyByteBuffer();
    if (v.remaining() < 12) {
      fail("an event value without the writer's stamp");
      return;
    }
    long sent = v.getLong();
    int slot = v.getInt();
    recorder.recordValue(Math.max(0, now - sent));
    if (slot < remaining.length && remaining[slot].decrementAndGet() == 0) {
      events.incrementAndGet();
      write(slot);
    }
  }

  private void fail(String why) {
    errors.incrementAndGet();
    firstError.compareAndSet(null, why);
  }
}
