package io.etcdcrypt.warmup;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.SecureRandoms;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.etcd.etcdserverpb.WatchCreateRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchGrpc;
import io.etcdcrypt.etcd.etcdserverpb.WatchRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * kube-apiserver's requests, sent to the warm-up proxy 16 at a time (closed loop, callbacks on the
 * channel's event loop, so the load itself costs little of the CPU the JIT needs): per object a
 * create (a Txn putting the key if it does not exist, else reading it), then guarded updates (a Txn
 * putting the key if its mod revision is the one last seen, else reading it), each followed by a
 * get, and pages of a list (a Range of the resource's prefix with a limit), over every warmed
 * resource, while a Watch with previous values per resource receives the events.
 */
final class WarmUpLoad implements AutoCloseable {

  private static final int SLOTS = 16;
  private static final int OBJECTS_PER_SLOT = 32;
  private static final int PAGE = 100;

  private final ManagedChannel channel;
  private final List<String> resources;
  private final ByteString value;
  private final AtomicLong requests = new AtomicLong();
  private final AtomicLong watchEvents = new AtomicLong();
  private final AtomicReference<String> firstError = new AtomicReference<>();
  private final List<StreamObserver<WatchRequest>> watches = new ArrayList<>();

  WarmUpLoad(int proxyPort, List<String> resources) {
    this.channel =
        NettyChannelBuilder.forAddress("127.0.0.1", proxyPort)
            .usePlaintext()
            .directExecutor()
            .maxInboundMessageSize(64 << 20)
            .build();
    this.resources = resources;
    // A Secret's size, kube-apiserver's protobuf encoding starts "k8s\0"; the rest is random.
    byte[] v = new byte[1024];
    SecureRandoms.SHARED.nextBytes(v);
    System.arraycopy(new byte[] {'k', '8', 's', 0}, 0, v, 0, 4);
    this.value = ByteString.copyFrom(v);
  }

  long requests() {
    return requests.get();
  }

  long watchEvents() {
    return watchEvents.get();
  }

  /** Why a worker stopped before the time was up, or null. */
  String firstError() {
    return firstError.get();
  }

  void run(Duration duration) throws InterruptedException {
    WatchGrpc.WatchStub watch = WatchGrpc.newStub(channel);
    for (String resource : resources) {
      StreamObserver<WatchRequest> stream =
          watch.watch(
              new StreamObserver<>() {
                @Override
                public void onNext(WatchResponse r) {
                  watchEvents.addAndGet(r.getEventsCount());
                }

                @Override
                public void onError(Throwable t) {}

                @Override
                public void onCompleted() {}
              });
      ByteString prefix = prefix(resource);
      stream.onNext(
          WatchRequest.newBuilder()
              .setCreateRequest(
                  WatchCreateRequest.newBuilder()
                      .setKey(prefix)
                      .setRangeEnd(rangeEnd(prefix))
                      .setPrevKv(true))
              .build());
      watches.add(stream);
    }
    long deadline = System.nanoTime() + duration.toNanos();
    CountDownLatch done = new CountDownLatch(SLOTS);
    KVGrpc.KVStub kv = KVGrpc.newStub(channel);
    for (int slot = 0; slot < SLOTS; slot++) {
      new Slot(kv, slot, deadline, done).next();
    }
    if (!done.await(duration.toMillis() + 30_000, TimeUnit.MILLISECONDS)) {
      firstError.compareAndSet(null, "requests still unanswered 30 s after the warm-up's end");
    }
  }

  /**
   * One request in flight at a time, the resources taking turns: per object of its own, a create or
   * guarded update and a get; after each pass over its objects of a resource, a page of that
   * resource's list.
   */
  private final class Slot {
    private final KVGrpc.KVStub kv;
    private final int slot;
    private final long deadline;
    private final CountDownLatch done;
    private final long[] modRevision = new long[OBJECTS_PER_SLOT * resources.size()];
    private int step;

    Slot(KVGrpc.KVStub kv, int slot, long deadline, CountDownLatch done) {
      this.kv = kv;
      this.slot = slot;
      this.deadline = deadline;
      this.done = done;
    }

    /** Sends the next request, or ends the slot when the time is up or a request failed. */
    void next() {
      if (System.nanoTime() >= deadline || firstError.get() != null) {
        done.countDown();
        return;
      }
      requests.incrementAndGet();
      // Resources take turns, so that a short warm-up still reaches each of them.
      int perResource = OBJECTS_PER_SLOT * 2 + 1;
      int r = step % resources.size();
      int inResource = (step / resources.size()) % perResource;
      step++;
      ByteString prefix = prefix(resources.get(r));
      if (inResource == perResource - 1) {
        kv.range(
            RangeRequest.newBuilder()
                .setKey(prefix)
                .setRangeEnd(rangeEnd(prefix))
                .setLimit(PAGE)
                .build(),
            then(response -> {}));
        return;
      }
      int object = inResource / 2;
      int index = r * OBJECTS_PER_SLOT + object;
      ByteString key = prefix.concat(ByteString.copyFromUtf8("s" + slot + "-" + object));
      if (inResource % 2 == 1) {
        kv.range(RangeRequest.newBuilder().setKey(key).build(), then(response -> {}));
        return;
      }
      kv.txn(
          createOrUpdate(key, modRevision[index]),
          then(
              (TxnResponse response) -> {
                if (response.getSucceeded()) {
                  modRevision[index] = response.getHeader().getRevision();
                } else {
                  var kvs = response.getResponses(0).getResponseRange().getKvsList();
                  modRevision[index] = kvs.isEmpty() ? 0 : kvs.get(0).getModRevision();
                }
              }));
    }

    private <T> StreamObserver<T> then(Consumer<T> onResponse) {
      return new StreamObserver<>() {
        @Override
        public void onNext(T response) {
          onResponse.accept(response);
        }

        @Override
        public void onError(Throwable t) {
          firstError.compareAndSet(null, t.toString());
          done.countDown();
        }

        @Override
        public void onCompleted() {
          next();
        }
      };
    }
  }

  /**
   * kube-apiserver's create (expected mod revision 0) or guarded update: put the key if its mod
   * revision is the expected one, else read it.
   */
  private TxnRequest createOrUpdate(ByteString key, long expected) {
    return TxnRequest.newBuilder()
        .addCompare(
            Compare.newBuilder()
                .setKey(key)
                .setTarget(Compare.CompareTarget.MOD)
                .setResult(Compare.CompareResult.EQUAL)
                .setModRevision(expected))
        .addSuccess(
            RequestOp.newBuilder()
                .setRequestPut(PutRequest.newBuilder().setKey(key).setValue(value)))
        .addFailure(RequestOp.newBuilder().setRequestRange(RangeRequest.newBuilder().setKey(key)))
        .build();
  }

  private static ByteString prefix(String resource) {
    return ByteString.copyFromUtf8("/registry/" + resource + "/warm-up/");
  }

  private static ByteString rangeEnd(ByteString prefix) {
    byte[] end = prefix.toByteArray();
    end[end.length - 1]++;
    return ByteString.copyFrom(end);
  }

  @Override
  public void close() {
    for (StreamObserver<WatchRequest> w : watches) {
      try {
        w.onCompleted();
      } catch (RuntimeException e) {
        // the channel is closing anyway
      }
    }
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
