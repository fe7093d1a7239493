package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.Client;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.etcd.etcdserverpb.ClusterGrpc;
import io.etcdcrypt.etcd.etcdserverpb.Member;
import io.etcdcrypt.etcd.etcdserverpb.MemberAddRequest;
import io.etcdcrypt.etcd.etcdserverpb.MemberAddResponse;
import io.etcdcrypt.etcd.etcdserverpb.MemberListRequest;
import io.etcdcrypt.etcd.etcdserverpb.MemberListResponse;
import io.etcdcrypt.etcd.etcdserverpb.MemberPromoteRequest;
import io.etcdcrypt.etcd.etcdserverpb.MemberPromoteResponse;
import io.etcdcrypt.etcd.etcdserverpb.MemberRemoveRequest;
import io.etcdcrypt.etcd.etcdserverpb.MemberRemoveResponse;
import io.etcdcrypt.etcd.etcdserverpb.MemberUpdateRequest;
import io.etcdcrypt.etcd.etcdserverpb.MemberUpdateResponse;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.Command;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.Etcdctl;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.Python;
import io.etcdcrypt.testing.RealComponents;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Member discovery through the proxy never leads a client to etcd: every client URL a Cluster
 * response hands out is a proxy's, for the Go client (etcdctl, whose {@code --cluster} takes its
 * endpoints from MemberList as clientv3's Sync does), jetcd and python-etcd3, while everything else
 * in the responses is etcd's.
 */
@RealComponents
class MemberDiscoveryTest {

  private static List<EtcdProcess> cluster;
  private static ProxyFixture proxy;
  private static ManagedChannel toProxy;
  private static ManagedChannel toEtcd;

  @BeforeAll
  static void start() {
    cluster = EtcdProcess.startCluster(3);
    proxy =
        ProxyFixture.start(
            ValueCodec.IDENTITY,
            cluster.stream().map(EtcdProcess::endpoint).collect(Collectors.toList()));
    toProxy = Channels.plaintext(proxy.endpoint());
    toEtcd = Channels.plaintext(cluster.get(0).endpoint());
  }

  @AfterAll
  static void stop() {
    if (toProxy != null) {
      toProxy.shutdownNow();
      toEtcd.shutdownNow();
    }
    if (proxy != null) {
      proxy.close();
    }
    if (cluster != null) {
      cluster.forEach(EtcdProcess::close);
    }
  }

  private static List<String> etcdClientUrls() {
    return cluster.stream().map(EtcdProcess::clientUrl).collect(Collectors.toList());
  }

  @Test
  void memberListHandsOutTheProxysUrlAndEtcdsEverythingElse() {
    MemberListResponse direct =
        ClusterGrpc.newBlockingStub(toEtcd).memberList(MemberListRequest.getDefaultInstance());
    MemberListResponse via =
        ClusterGrpc.newBlockingStub(toProxy).memberList(MemberListRequest.getDefaultInstance());

    assertEquals(3, via.getMembersCount());
    for (Member m : via.getMembersList()) {
      assertEquals(List.of(proxy.url()), m.getClientURLsList(), m.toString());
    }
    // Before: each member's own URL, which clients would have dialed past the proxy.
    assertEquals(
        etcdClientUrls().stream().sorted().collect(Collectors.toList()),
        direct.getMembersList().stream()
            .flatMap(m -> m.getClientURLsList().stream())
            .sorted()
            .collect(Collectors.toList()));
    // Everything else as etcd says it.
    assertEquals(direct.getHeader().getClusterId(), via.getHeader().getClusterId());
    assertEquals(
        withoutClientUrls(direct.getMembersList()), withoutClientUrls(via.getMembersList()));
  }

  @Test
  void etcdctlClusterEndpointsAreTheProxy() {
    Etcdctl ctl = new Etcdctl(proxy.endpoint());
    String members = ctl.run("member", "list").assertOk().stdout();
    assertEquals(3, members.trim().split("\n").length, members);
    assertTrue(members.contains(proxy.url()), members);
    for (String url : etcdClientUrls()) {
      assertFalse(
          members.contains(url), "etcd's own client URL " + url + " was handed out:\n" + members);
    }

    // --cluster: the Go client takes its endpoints from MemberList (as clientv3's Sync and
    // AutoSyncInterval do) and
    // talks to each of them: every one of them is the proxy.
    Command.Result health = ctl.run("endpoint", "health", "--cluster");
    String out = health.stdout() + health.stderr();
    assertEquals(0, health.exitCode(), out);
    List<String> lines =
        Arrays.stream(out.trim().split("\n"))
            .filter(l -> l.contains("healthy"))
            .collect(Collectors.toList());
    assertEquals(3, lines.size(), out);
    for (String line : lines) {
      assertTrue(line.startsWith(proxy.url() + " is healthy"), line);
    }
  }

  @Test
  void jetcdAndPythonSeeTheProxysUrl() throws Exception {
    try (Client jetcd = proxy.client()) {
      List<io.etcd.jetcd.cluster.Member> members =
          jetcd.getClusterClient().listMember().get(10, TimeUnit.SECONDS).getMembers();
      assertEquals(3, members.size());
      for (io.etcd.jetcd.cluster.Member m : members) {
        assertEquals(List.of(URI.create(proxy.url())), m.getClientURIs(), m.getName());
      }
    }

    Command.Result py =
        Python.run(
            String.join(
                "\n",
                "import sys, etcd3",
                "host, port = sys.argv[1].split(':')",
                "c = etcd3.client(host=host, port=int(port))",
                "for m in sorted(c.members, key=lambda m: m.name):",
                "    print(m.name, ','.join(m.client_urls))"),
            proxy.endpoint());
    assertEquals(0, py.exitCode(), py.stdout() + py.stderr());
    assertEquals(
        String.join("\n", "etcd0 " + proxy.url(), "etcd1 " + proxy.url(), "etcd2 " + proxy.url()),
        py.stdout().trim());
  }

  /**
   * A learner added, started, promoted, updated and removed through the proxy: each response lists
   * the members with the proxy's client URL, and the member not started yet with none, as etcd has
   * it.
   */
  @Test
  void membershipChangesHandOutTheProxysUrlToo() throws Exception {
    ClusterGrpc.ClusterBlockingStub via = ClusterGrpc.newBlockingStub(toProxy);
    EtcdProcess learner = EtcdProcess.toJoin("learner");
    try {
      // etcd refuses membership changes until its members have been connected for a while
      // ("unhealthy cluster").
      MemberAddResponse added =
          retried(
              "the learner to be added",
              () ->
                  via.memberAdd(
                      MemberAddRequest.newBuilder()
                          .addPeerURLs(learner.peerUrl())
                          .setIsLearner(true)
                          .build()));
      assertTrue(added.getMember().getIsLearner());
      assertEquals(
          List.of(),
          added.getMember().getClientURLsList(),
          "a member not started has no client URL");
      assertEquals(4, added.getMembersCount());
      assertClientUrlsAreTheProxys(added.getMembersList());
      assertEquals(withoutClientUrls(directMembers()), withoutClientUrls(added.getMembersList()));

      List<String> initial = new ArrayList<>();
      for (Member m : added.getMembersList()) {
        initial.add(
            (m.getID() == added.getMember().getID() ? "learner" : m.getName())
                + "="
                + m.getPeerURLs(0));
      }
      learner.join(String.join(",", initial));
      long id = added.getMember().getID();

      // Promotion works once the learner caught up; until then etcd refuses it, and the proxy
      // passes that on.
      // Promotion works once the learner caught up; until then etcd refuses it, and the proxy
      // passes that on.
      MemberPromoteResponse promoted =
          retried(
              "the learner to be promoted",
              () -> via.memberPromote(MemberPromoteRequest.newBuilder().setID(id).build()));
      assertEquals(4, promoted.getMembersCount());
      assertClientUrlsAreTheProxys(promoted.getMembersList());
      assertTrue(promoted.getMembersList().stream().noneMatch(Member::getIsLearner));

      MemberUpdateResponse updated =
          via.memberUpdate(
              MemberUpdateRequest.newBuilder().setID(id).addPeerURLs(learner.peerUrl()).build());
      assertClientUrlsAreTheProxys(updated.getMembersList());

      MemberRemoveResponse removed =
          via.memberRemove(MemberRemoveRequest.newBuilder().setID(id).build());
      assertEquals(3, removed.getMembersCount());
      assertClientUrlsAreTheProxys(removed.getMembersList());
      assertEquals(withoutClientUrls(directMembers()), withoutClientUrls(removed.getMembersList()));
    } finally {
      learner.close();
    }
  }

  /**
   * {@code call}'s answer once etcd stops refusing it as not possible yet (a cluster too young to
   * change, a learner not caught up: UNAVAILABLE or FAILED_PRECONDITION); polled, for at most 60 s.
   */
  private static <T> T retried(String what, java.util.function.Supplier<T> call) {
    return Await.join(
        what,
        Duration.ofSeconds(60),
        java.util.concurrent.CompletableFuture.supplyAsync(
            () -> {
              while (true) {
                try {
                  return call.get();
                } catch (StatusRuntimeException notYet) {
                  io.grpc.Status.Code code = notYet.getStatus().getCode();
                  if (code != io.grpc.Status.Code.UNAVAILABLE
                      && code != io.grpc.Status.Code.FAILED_PRECONDITION) {
                    throw notYet;
                  }
                  try {
                    Thread.sleep(100); // the interval of this bounded poll
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                  }
                }
              }
            }));
  }

  private static List<Member> directMembers() {
    return ClusterGrpc.newBlockingStub(toEtcd)
        .memberList(MemberListRequest.getDefaultInstance())
        .getMembersList();
  }

  private static void assertClientUrlsAreTheProxys(List<Member> members) {
    for (Member m : members) {
      if (m.getName().isEmpty()) {
        assertEquals(
            List.of(), m.getClientURLsList(), "a member not started yet has no client URL: " + m);
      } else {
        assertEquals(List.of(proxy.url()), m.getClientURLsList(), m.toString());
      }
    }
  }

  private static List<Member> withoutClientUrls(List<Member> members) {
    return members.stream()
        .map(m -> m.toBuilder().clearClientURLs().build())
        .sorted(java.util.Comparator.comparingLong(Member::getID))
        .collect(Collectors.toList());
  }

  @Test
  void configuredUrlsAreHandedOutAsGiven() {
    List<String> urls = List.of("https://proxy-a.example:23790", "https://proxy-b.example:23790");
    ProxyOptions options =
        ProxyOptions.plaintext(
                new Endpoint("127.0.0.1", 0), List.of(Endpoint.parse(cluster.get(1).endpoint())))
            .withAdvertiseClientUrls(urls);
    try (ProxyFixture p = ProxyFixture.start(ValueCodec.IDENTITY, options)) {
      ManagedChannel ch = Channels.plaintext(p.endpoint());
      try {
        for (Member m :
            ClusterGrpc.newBlockingStub(ch)
                .memberList(MemberListRequest.getDefaultInstance())
                .getMembersList()) {
          assertEquals(urls, m.getClientURLsList());
        }
      } finally {
        ch.shutdownNow();
      }
    }
  }

  @Test
  void aWildcardListenerHandsOutTheAddressEachClientReached() {
    ProxyOptions options =
        ProxyOptions.plaintext(
            new Endpoint("0.0.0.0", 0), List.of(Endpoint.parse(cluster.get(2).endpoint())));
    try (ProxyFixture p = ProxyFixture.start(ValueCodec.IDENTITY, options)) {
      ManagedChannel ch = Channels.plaintext(p.endpoint());
      try {
        for (Member m :
            ClusterGrpc.newBlockingStub(ch)
                .memberList(MemberListRequest.getDefaultInstance())
                .getMembersList()) {
          assertEquals(List.of("http://127.0.0.1:" + p.server().port()), m.getClientURLsList());
        }
      } finally {
        ch.shutdownNow();
      }
    }
  }

  @Test
  void clientUrlsAreCheckedAndGetTheListenersScheme() {
    assertEquals(
        "https://10.0.0.5:23790", ClientUrls.of(List.of("10.0.0.5:23790"), true).describe());
    assertEquals(
        "http://proxy.example:23790,https://[fd00::1]:23790",
        ClientUrls.of(List.of("http://proxy.example:23790", " https://[fd00::1]:23790"), false)
            .describe());
    for (String bad :
        List.of(
            "unix:///run/proxy.sock",
            "https://proxy.example",
            "http://0.0.0.0:23790",
            "https://proxy.example:23790/path",
            "not a url")) {
      IllegalArgumentException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              IllegalArgumentException.class, () -> ClientUrls.of(List.of(bad), true), bad);
      assertTrue(
          e.getMessage().startsWith("--advertise-client-urls: '" + bad + "'"), e.getMessage());
    }
    assertEquals(
        "https://localhost:2379",
        ClientUrls.ofListener(new Endpoint("localhost", 2379), true).describe());
    assertTrue(ClientUrls.ofListener(new Endpoint("0.0.0.0", 2379), false).fromEachConnection());
    assertFalse(ClientUrls.ofListener(new Endpoint("127.0.0.1", 2379), false).fromEachConnection());
  }
}
