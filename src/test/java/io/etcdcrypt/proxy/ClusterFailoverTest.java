package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.bs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.etcd.etcdserverpb.MaintenanceGrpc;
import io.etcdcrypt.etcd.etcdserverpb.StatusRequest;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * With a 3-member cluster behind the proxy, losing a member does not fail the requests that follow.
 */
@RealComponents
class ClusterFailoverTest {

  @Test
  void killingAFollowerFailsNoFollowingRequest() throws Exception {
    runAfterKilling(false);
  }

  @Test
  void killingTheLeaderFailsNoRequestOnceANewLeaderIsElected() throws Exception {
    runAfterKilling(true);
  }

  private static void runAfterKilling(boolean leader) throws Exception {
    List<EtcdProcess> members = EtcdProcess.startCluster(3);
    try (ProxyFixture proxy =
            ProxyFixture.start(
                ValueCodec.IDENTITY,
                members.stream().map(EtcdProcess::endpoint).collect(Collectors.toList()));
        Client client = proxy.client()) {
      KV kv = client.getKVClient();
      for (int i = 0; i < 30; i++) {
        kv.put(bs("/failover/" + i), bs("before")).get(10, TimeUnit.SECONDS);
      }

      long leaderId = memberIdOfLeader(members.get(0));
      EtcdProcess victim =
          members.stream()
              .filter(m -> (memberId(m) == leaderId) == leader)
              .findFirst()
              .orElseThrow();
      victim.kill();
      List<EtcdProcess> survivors =
          members.stream().filter(EtcdProcess::isAlive).collect(Collectors.toList());
      assertEquals(2, survivors.size());
      if (leader) {
        awaitNewLeader(survivors.get(0), leaderId);
      }

      // A request that reaches the proxy before it has seen the member's connection drop is in
      // flight on that
      // connection and may fail (as it would between a client and etcd); allow a couple, then none.
      int inFlightFailures = 0;
      while (true) {
        try {
          kv.get(bs("/failover/0")).get(10, TimeUnit.SECONDS);
          break;
        } catch (java.util.concurrent.ExecutionException e) {
          assertTrue(
              ++inFlightFailures <= 2,
              "requests kept failing after the member died: " + e.getCause());
        }
      }
      for (int i = 0; i < 100; i++) {
        kv.put(bs("/failover/" + (i % 30)), bs("after-" + i)).get(10, TimeUnit.SECONDS);
        assertEquals(
            1, kv.get(bs("/failover/" + (i % 30))).get(10, TimeUnit.SECONDS).getKvs().size());
      }
      assertEquals(
          30,
          kv.get(bs("/failover/"), io.etcd.jetcd.options.GetOption.builder().isPrefix(true).build())
              .get(10, TimeUnit.SECONDS)
              .getCount());
    } finally {
      members.forEach(EtcdProcess::close);
    }
  }

  private static long memberId(EtcdProcess p) {
    return status(p).getHeader().getMemberId();
  }

  private static long memberIdOfLeader(EtcdProcess p) {
    return status(p).getLeader();
  }

  private static void awaitNewLeader(EtcdProcess survivor, long oldLeader) {
    boolean elected =
        Await.within(
            Duration.ofSeconds(10),
            () -> {
              try {
                long l = memberIdOfLeader(survivor);
                return l != 0 && l != oldLeader;
              } catch (RuntimeException notYet) {
                return false; // election in progress
              }
            });
    assertTrue(elected, "no new leader elected within 10 s");
  }

  private static io.etcdcrypt.etcd.etcdserverpb.StatusResponse status(EtcdProcess p) {
    ManagedChannel ch = Channels.plaintext(p.endpoint());
    try {
      return MaintenanceGrpc.newBlockingStub(ch)
          .withDeadlineAfter(2, TimeUnit.SECONDS)
          .status(StatusRequest.getDefaultInstance());
    } finally {
      ch.shutdownNow();
    }
  }
}
