package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.MaintenanceGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.StatusRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchCreateRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchRequest;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.FreePorts;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.WatchEnd;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Which member a call goes to, and what a client sees when none can take it: with every member down
 * calls fail at once with UNAVAILABLE, as a client's calls to etcd would, and flow again when a
 * member is back; a member without a leader, or one that reports NOT_SERVING, gets no calls while
 * another member serves.
 */
@RealComponents
class MemberAvailabilityTest {

  private static final long DEADLINE_SECONDS = 30;

  private static void put(ManagedChannel ch, String key, String value) {
    KVGrpc.newBlockingStub(ch)
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS)
        .put(PutRequest.newBuilder().setKey(pb(key)).setValue(pb(value)).build());
  }

  private static long count(ManagedChannel ch, String key) {
    return KVGrpc.newBlockingStub(ch)
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS)
        .range(RangeRequest.newBuilder().setKey(pb(key)).setSerializable(true).build())
        .getCount();
  }

  private static boolean putSucceeds(ManagedChannel ch, String key) {
    try {
      put(ch, key, "v");
      return true;
    } catch (StatusRuntimeException notYet) {
      return false;
    }
  }

  private static List<String> endpoints(List<EtcdProcess> members) {
    return members.stream().map(EtcdProcess::endpoint).collect(Collectors.toList());
  }

  @Test
  void withEveryMemberDownCallsFailAtOnceAndFlowAgainWhenTheyAreBack() throws Exception {
    List<EtcdProcess> cluster = EtcdProcess.startCluster(3);
    try (ProxyFixture proxy = ProxyFixture.start(ValueCodec.IDENTITY, endpoints(cluster))) {
      ManagedChannel via = Channels.plaintext(proxy.endpoint());
      ManagedChannel direct = Channels.plaintext(cluster.get(0).endpoint());
      try {
        put(via, "/down/before", "v");
        cluster.forEach(EtcdProcess::kill);

        // What a client of etcd itself sees: its call fails at once, UNAVAILABLE.
        Status fromEtcd =
            assertThrows(StatusRuntimeException.class, () -> put(direct, "/down/k", "v"))
                .getStatus();
        assertEquals(Status.Code.UNAVAILABLE, fromEtcd.getCode());

        // Through the proxy: the same code, long before the call's deadline, naming every member.
        // (A call may
        // first meet a connection still closing; within a second the proxy knows all are down.)
        Await.until(
            "the proxy to see every member down",
            Duration.ofSeconds(10),
            () ->
                java.util.regex.Pattern.compile(", down\\)")
                        .matcher(proxy.server().upstream().memberStates())
                        .results()
                        .count()
                    == cluster.size());
        long start = System.nanoTime();
        Status viaProxy =
            assertThrows(StatusRuntimeException.class, () -> put(via, "/down/k", "v")).getStatus();
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertEquals(Status.Code.UNAVAILABLE, viaProxy.getCode(), viaProxy.toString());
        assertTrue(
            millis < TimeUnit.SECONDS.toMillis(DEADLINE_SECONDS) / 3,
            "the call waited " + millis + " ms instead of failing at once");
        for (EtcdProcess m : cluster) {
          assertTrue(viaProxy.getDescription().contains(m.endpoint()), viaProxy.getDescription());
        }
        // A watch too: its stream ends with UNAVAILABLE, and the client re-creates it.
        assertEquals(
            Status.Code.UNAVAILABLE,
            WatchEnd.of(
                    via,
                    WatchRequest.newBuilder()
                        .setCreateRequest(WatchCreateRequest.newBuilder().setKey(pb("/w")))
                        .build(),
                    Duration.ofSeconds(10))
                .getCode());

        // Two of three back: a quorum. Calls flow again as soon as a member serves, without a new
        // client.
        cluster.get(1).relaunch();
        cluster.get(2).relaunch();
        cluster.get(1).awaitReady(Duration.ofSeconds(60));
        Await.until(
            "calls through the proxy to succeed again",
            Duration.ofSeconds(10),
            () -> putSucceeds(via, "/down/after"));
        assertEquals(1, count(via, "/down/before"));
      } finally {
        via.shutdownNow();
        direct.shutdownNow();
      }
    } finally {
      cluster.forEach(EtcdProcess::close);
    }
  }

  /**
   * The survivor of a 3-member cluster that lost two members has no leader but serves its
   * connections; next to it a member with a leader (a cluster of its own, so the two can be told
   * apart). Writes through the proxy go to the one with a leader, none waits for the other; once
   * the survivor has a leader again it gets calls again.
   */
  @Test
  void aMemberWithoutALeaderGetsNoCallsUntilItHasOneAgain() throws Exception {
    List<EtcdProcess> quorumLost = EtcdProcess.startCluster(3);
    EtcdProcess healthy = EtcdProcess.startSingle();
    EtcdProcess survivor = quorumLost.get(0);
    ManagedChannel toSurvivor = Channels.plaintext(survivor.endpoint());
    ManagedChannel toHealthy = Channels.plaintext(healthy.endpoint());
    try {
      quorumLost.get(1).kill();
      quorumLost.get(2).kill();
      Await.until(
          "the survivor to lose its leader", Duration.ofSeconds(30), () -> leader(toSurvivor) == 0);

      try (ProxyFixture proxy =
          ProxyFixture.start(
              ValueCodec.IDENTITY, List.of(survivor.endpoint(), healthy.endpoint()))) {
        ManagedChannel via = Channels.plaintext(proxy.endpoint());
        try {
          Await.until(
              "the proxy to find a member that serves",
              Duration.ofSeconds(10),
              () -> proxy.server().upstream().whyNoMemberServes().isEmpty());
          for (int i = 0; i < 40; i++) {
            // Without the leader check half of these would wait on the survivor until their
            // deadline.
            KVGrpc.newBlockingStub(via)
                .withDeadlineAfter(5, TimeUnit.SECONDS)
                .put(
                    PutRequest.newBuilder()
                        .setKey(pb("/leaderless/" + i))
                        .setValue(pb("v"))
                        .build());
          }
          assertEquals(1, count(toHealthy, "/leaderless/39"));

          quorumLost.get(1).relaunch();
          quorumLost.get(2).relaunch();
          Await.until(
              "the survivor to have a leader again",
              Duration.ofSeconds(60),
              () -> leader(toSurvivor) != 0);
          // Round robin over both again: some write lands in the survivor's cluster.
          AtomicInteger n = new AtomicInteger();
          Await.until(
              "a write through the proxy to reach the survivor",
              Duration.ofSeconds(20),
              () -> {
                String key = "/again/" + n.incrementAndGet();
                put(via, key, "v");
                return count(toSurvivor, key) == 1;
              });
        } finally {
          via.shutdownNow();
        }
      }
    } finally {
      toSurvivor.shutdownNow();
      toHealthy.shutdownNow();
      quorumLost.forEach(EtcdProcess::close);
      healthy.close();
    }
  }

  private static long leader(ManagedChannel member) {
    try {
      return MaintenanceGrpc.newBlockingStub(member)
          .withDeadlineAfter(2, TimeUnit.SECONDS)
          .status(StatusRequest.getDefaultInstance())
          .getLeader();
    } catch (StatusRuntimeException e) {
      return -1;
    }
  }

  /**
   * A member that reports NOT_SERVING on etcd's gRPC health service (etcd does while it defragments
   * with {@code StopGRPCServiceOnDefrag}; played here by a stand-in, as a defragmentation is too
   * quick to catch) gets no calls; when it reports SERVING it gets its share again, and none once
   * it reports NOT_SERVING again.
   */
  @Test
  void aMemberReportingNotServingGetsNoCalls() throws Exception {
    AtomicInteger calledStandIn = new AtomicInteger();
    HealthStatusManager health = new HealthStatusManager();
    health.setStatus("", HealthCheckResponse.ServingStatus.NOT_SERVING);
    ServerCallHandler<InputStream, InputStream> refuse =
        (call, headers) -> {
          calledStandIn.incrementAndGet();
          call.close(
              Status.UNAVAILABLE.withDescription("the stand-in member was called"), new Metadata());
          return new ServerCall.Listener<>() {};
        };
    Server standIn =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", FreePorts.next()))
            .addService(health.getHealthService())
            .fallbackHandlerRegistry(
                new io.grpc.HandlerRegistry() {
                  @Override
                  public ServerMethodDefinition<?, ?> lookupMethod(
                      String method, String authority) {
                    return ServerMethodDefinition.create(
                        ProxiedMethod.rawDescriptor(
                            method, io.grpc.MethodDescriptor.MethodType.UNKNOWN),
                        refuse);
                  }
                })
            .build()
            .start();
    EtcdProcess etcd = EtcdProcess.startSingle();
    try (ProxyFixture proxy =
        ProxyFixture.start(
            ValueCodec.IDENTITY, List.of("127.0.0.1:" + standIn.getPort(), etcd.endpoint()))) {
      ManagedChannel via = Channels.plaintext(proxy.endpoint());
      try {
        Await.until(
            "the proxy to find a member that serves",
            Duration.ofSeconds(10),
            () -> proxy.server().upstream().whyNoMemberServes().isEmpty());
        Await.until(
            "the proxy to probe the stand-in",
            Duration.ofSeconds(10),
            () ->
                proxy.server().upstream().whyNoMemberServes().isEmpty()
                    && String.valueOf(probed(proxy)).contains("NOT_SERVING"));
        for (int i = 0; i < 40; i++) {
          put(via, "/ns/" + i, "v");
        }
        assertEquals(0, calledStandIn.get());

        health.setStatus("", HealthCheckResponse.ServingStatus.SERVING);
        Await.until(
            "calls to reach the stand-in once it serves",
            Duration.ofSeconds(10),
            () -> {
              putSucceeds(via, "/ns/serving");
              return calledStandIn.get() > 0;
            });

        health.setStatus("", HealthCheckResponse.ServingStatus.NOT_SERVING);
        Await.until(
            "the proxy to see the stand-in not serving",
            Duration.ofSeconds(10),
            () -> String.valueOf(probed(proxy)).contains("NOT_SERVING"));
        int before = calledStandIn.get();
        for (int i = 0; i < 40; i++) {
          put(via, "/ns/again/" + i, "v");
        }
        assertEquals(before, calledStandIn.get());
      } finally {
        via.shutdownNow();
      }
    } finally {
      standIn.shutdownNow();
      standIn.awaitTermination(5, TimeUnit.SECONDS);
      etcd.close();
    }
  }

  /**
   * What the proxy's probes say about its members, as its readiness check would (here: with the
   * etcd one down).
   */
  private static String probed(ProxyFixture proxy) {
    return proxy.server().upstream().memberStates();
  }
}
