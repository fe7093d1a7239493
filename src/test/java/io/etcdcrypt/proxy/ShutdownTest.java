package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.etcd.etcdserverpb.LeaseGrantRequest;
import io.etcdcrypt.etcd.etcdserverpb.LeaseGrpc;
import io.etcdcrypt.etcd.etcdserverpb.LeaseRevokeRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchCreateRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchGrpc;
import io.etcdcrypt.etcd.etcdserverpb.WatchRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchResponse;
import io.etcdcrypt.etcd.v3lockpb.LockGrpc;
import io.etcdcrypt.etcd.v3lockpb.LockRequest;
import io.etcdcrypt.etcd.v3lockpb.LockResponse;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Shutdown ends the calls that never end by themselves (a watch) at once with UNAVAILABLE, which
 * etcd clients answer by reconnecting, while a call that will finish (a Lock waiting for its
 * holder) keeps the grace.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
@RealComponents
class ShutdownTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @Test
  void watchesEndAtOnceWhileFiniteCallsGetTheGrace() throws Exception {
    ProxyFixture proxy = ProxyFixture.start(ValueCodec.IDENTITY, etcd.endpoint());
    ManagedChannel toProxy = NettyChannelBuilder.forTarget(proxy.endpoint()).usePlaintext().build();
    ManagedChannel toEtcd = Channels.plaintext(etcd.endpoint());
    try {
      // A lock held straight on etcd, and a Lock call through the proxy that waits for it.
      long lease =
          LeaseGrpc.newBlockingStub(toEtcd)
              .leaseGrant(LeaseGrantRequest.newBuilder().setTTL(60).build())
              .getID();
      LockGrpc.newBlockingStub(toEtcd)
          .lock(LockRequest.newBuilder().setName(pb("/shutdown/lock")).setLease(lease).build());
      long waiterLease =
          LeaseGrpc.newBlockingStub(toEtcd)
              .leaseGrant(LeaseGrantRequest.newBuilder().setTTL(60).build())
              .getID();
      CompletableFuture<LockResponse> waiter = new CompletableFuture<>();
      LockGrpc.newStub(toProxy)
          .lock(
              LockRequest.newBuilder().setName(pb("/shutdown/lock")).setLease(waiterLease).build(),
              observer(waiter));

      BlockingQueue<Object> watch = new LinkedBlockingQueue<>();
      StreamObserver<WatchRequest> requests =
          WatchGrpc.newStub(toProxy)
              .watch(
                  new StreamObserver<>() {
                    @Override
                    public void onNext(WatchResponse r) {
                      watch.add(r);
                    }

                    @Override
                    public void onError(Throwable t) {
                      watch.add(Status.fromThrowable(t));
                    }

                    @Override
                    public void onCompleted() {
                      watch.add("completed");
                    }
                  });
      requests.onNext(
          WatchRequest.newBuilder()
              .setCreateRequest(WatchCreateRequest.newBuilder().setKey(pb("/shutdown/w")))
              .build());
      assertTrue(((WatchResponse) watch.poll(30, TimeUnit.SECONDS)).getCreated());

      CompletableFuture<Void> shutdown =
          CompletableFuture.runAsync(() -> proxy.server().shutdown(60, TimeUnit.SECONDS));

      Object end = watch.poll(30, TimeUnit.SECONDS);
      assertNotNull(end, "the watch did not end");
      Status status = (Status) end;
      assertEquals(Status.Code.UNAVAILABLE, status.getCode());
      assertTrue(status.getDescription().contains("shutting down"), status.toString());
      // The watch ended while the Lock call is still running: it did not wait for the grace.
      assertFalse(waiter.isDone(), "the lock call ended before the watch: " + waiter);
      assertFalse(shutdown.isDone());

      // The holder goes away; the waiting Lock call completes within the grace, and shutdown
      // returns.
      LeaseGrpc.newBlockingStub(toEtcd)
          .leaseRevoke(LeaseRevokeRequest.newBuilder().setID(lease).build());
      assertTrue(
          waiter.get(30, TimeUnit.SECONDS).getKey().toStringUtf8().startsWith("/shutdown/lock/"));
      shutdown.get(30, TimeUnit.SECONDS);
    } finally {
      toProxy.shutdownNow();
      toEtcd.shutdownNow();
      proxy.close();
    }
  }

  private static <T> StreamObserver<T> observer(CompletableFuture<T> result) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        result.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    };
  }
}
