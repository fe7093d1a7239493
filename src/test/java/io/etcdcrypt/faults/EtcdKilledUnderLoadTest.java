package io.etcdcrypt.faults;

import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * etcd killed (SIGKILL) and restarted on the same data and ports while clients write and read
 * secrets through the proxy (issue 19 item 12): a single member, the whole store gone and back; and
 * a 3-member cluster losing one member, then its quorum. Checked from outside the proxy: no
 * plaintext at rest (etcd's whole history), no ciphertext in any answer, no lost update (a write
 * that failed may have been applied, one that was acknowledged must stay), every failure a short
 * status, and calls succeed again once etcd is back ({@link Load}).
 */
@RealComponents
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class EtcdKilledUnderLoadTest {

  private static final int CLIENTS = 3;
  private static final int KEYS_PER_CLIENT = 5;
  private static final long SEED = 20261207L;
  private static final Duration READY = Duration.ofSeconds(60);

  @Test
  void aSingleMemberKilledAndRestartedTwice() throws Exception {
    try (EtcdProcess etcd = EtcdProcess.startSingle()) {
      underLoad(
          List.of(etcd),
          "single",
          load -> {
            for (int i = 0; i < 2; i++) {
              etcd.kill();
              load.awaitFailures("with etcd killed (" + i + ")", 5);
              etcd.relaunch();
              etcd.awaitReady(READY);
              load.awaitRecovery("after etcd's restart (" + i + ")", 50);
            }
          });
    }
  }

  @Test
  void aClusterLosingAMemberThenItsQuorum() throws Exception {
    List<EtcdProcess> members = EtcdProcess.startCluster(3);
    try {
      underLoad(
          members,
          "cluster",
          load -> {
            // One member, the leader or not: the others serve on.
            EtcdProcess first = members.get(0);
            first.kill();
            load.awaitCalls("with one member killed", 100);
            first.relaunch();
            first.awaitReady(READY);
            load.awaitRecovery("after the member's restart", 50);
            // Two of three: no quorum, nothing is served until one is back.
            List<EtcdProcess> majority = members.subList(1, 3);
            majority.forEach(EtcdProcess::kill);
            load.awaitFailures("without a quorum", 5);
            majority.forEach(EtcdProcess::relaunch);
            for (EtcdProcess m : majority) {
              m.awaitReady(READY);
            }
            load.awaitRecovery("after the quorum is back", 50);
          });
    } finally {
      members.forEach(EtcdProcess::close);
    }
  }

  /**
   * Runs {@link Load} through a proxy in front of {@code members} with {@code faults} injected once
   * it goes; then checks the promises.
   */
  private static void underLoad(List<EtcdProcess> members, String name, Load.Faults faults)
      throws Exception {
    String prefix = AtRest.PROTECTED + "faults-etcd-" + name + "/";
    try (ProxyFixture proxy =
        ProxyFixture.start(
            TestCodecs.secretsUnderAesGcm(),
            members.stream().map(EtcdProcess::endpoint).collect(Collectors.toList()))) {
      ManagedChannel channel = Channels.plaintext(proxy.endpoint());
      try {
        long from = AtRest.revision(members.get(0));
        Load.run(name, channel, prefix, CLIENTS, KEYS_PER_CLIENT, SEED, faults);
        AtRest.assertNoPlaintextSince(members.get(0), from);
      } finally {
        channel.shutdownNow();
      }
    }
  }
}
