package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.EtcdRelease;
import io.etcdcrypt.testing.GoClient;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.StoredWrites;
import io.etcdcrypt.testing.TestCodecs;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * etcd's Go client runs each scenario of {@code testenv/goclient} against a fresh etcd directly and
 * against another fresh etcd through the proxy, which encrypts Secrets ({@value #GOVERNED}) with
 * AES-GCM. The transcripts must be equal; every value the scenario stored under {@value #GOVERNED}
 * must be in etcd as aesgcm ciphertext, and every other value exactly as the client stored it
 * directly. Subclasses pick the client and etcd releases (and carry {@code @RealComponents}, which
 * is not inherited).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class GoClientScenarios {

  static final String GOVERNED = "/registry/secrets/";
  private static final String ENCRYPTED = "k8s:enc:aesgcm:v1:key1:";

  private final GoClient client;
  private final EtcdRelease release;
  private EtcdProcess directEtcd;
  private EtcdProcess proxiedEtcd;
  private ProxyFixture proxy;
  private StoredWrites storedDirectly;
  private StoredWrites storedThroughProxy;

  GoClientScenarios(GoClient client, EtcdRelease release) {
    this.client = client;
    this.release = release;
  }

  @BeforeAll
  void start() {
    directEtcd = EtcdProcess.startSingle(release);
    proxiedEtcd = EtcdProcess.startSingle(release);
    proxy = ProxyFixture.start(TestCodecs.secretsUnderAesGcm(), proxiedEtcd.endpoint());
    storedDirectly = StoredWrites.of(directEtcd);
    storedThroughProxy = StoredWrites.of(proxiedEtcd);
  }

  @AfterAll
  void stop() {
    for (AutoCloseable c :
        new AutoCloseable[] {storedDirectly, storedThroughProxy, proxy, directEtcd, proxiedEtcd}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
  }

  /**
   * Runs {@code scenario} directly and through the proxy, requires the same transcript and the
   * stored values described above, and returns the transcript.
   */
  String assertSameTranscript(String scenario) {
    storedDirectly.takeAll();
    storedThroughProxy.takeAll();
    String direct = client.run(directEtcd.endpoint(), scenario).assertOk().stdout();
    String proxied = client.run(proxy.endpoint(), scenario).assertOk().stdout();
    assertEquals(
        direct,
        proxied,
        client
            + " on "
            + release
            + ": scenario "
            + scenario
            + " differs through the proxy (expected: directly)");
    assertStored(storedDirectly.takeAll(), storedThroughProxy.takeAll());
    assertTrue(direct.lines().count() > 1, direct);
    return direct;
  }

  private static void assertStored(List<StoredWrites.Put> direct, List<StoredWrites.Put> proxied) {
    StoredWrites.assertAllStoredAs(proxied, GOVERNED, ENCRYPTED);
    assertEquals(
        ungoverned(direct), ungoverned(proxied), "values outside " + GOVERNED + " as stored");
  }

  /**
   * Every put outside the governed prefix as key=value, in order of key (concurrent scenarios
   * interleave).
   */
  private static List<String> ungoverned(List<StoredWrites.Put> puts) {
    return puts.stream()
        .filter(p -> !p.key().startsWith(GOVERNED))
        .map(p -> p.key() + "=" + p.valueText())
        .sorted()
        .collect(Collectors.toList());
  }

  static void assertContains(String transcript, String expected) {
    assertTrue(transcript.contains(expected), "no \"" + expected + "\" in:\n" + transcript);
  }

  @Test
  void keyValue() {
    String t = assertSameTranscript("kv");
    assertContains(t, "/registry/secrets/go-kv/a=\"alpha-2\" c=r+1 m=r+7 v=3");
    assertContains(t, "/registry/secrets/go-kv/d=\"\\x00\\xff binary \\x01\"");
  }

  @Test
  void transactions() {
    String t = assertSameTranscript("txn");
    assertContains(
        t,
        "txn succeeded=false rev=r+1 {get rev=r+1 count=1 more=false kvs=[/registry/secrets/go-txn/k=\"created\"");
    assertContains(t, "ERR InvalidArgument etcdserver: duplicate key given in txn request");
  }

  @Test
  void watchWithProgressNotify() {
    String t = assertSameTranscript("watch");
    assertContains(t, "progress=true");
    assertContains(
        t,
        "event DELETE /registry/secrets/go-watch/a=\"\" c=0 m=r+4 v=0 prev=/registry/secrets/go-watch/a=\"2\"");
  }

  @Test
  void watchOfValuesLargerThanARequest() {
    assertSameTranscript("watch-large");
  }

  @Test
  void compaction() {
    String t = assertSameTranscript("compaction");
    assertContains(t, "watch from a compacted revision: canceled=true compact=r+2");
  }

  @Test
  void leaseKeepAliveAndExpiry() {
    String t = assertSameTranscript("lease");
    assertContains(t, "keep-alive stream ttl=60 same lease=true");
    assertContains(t, "event DELETE /registry/secrets/go-lease/expiring");
  }

  @Test
  void mutex() {
    assertContains(assertSameTranscript("mutex"), "counter=40 writes without ownership=0");
  }

  @Test
  void election() {
    String t = assertSameTranscript("election");
    assertContains(t, "observed \"b-1\"");
    assertContains(t, "leader ERR election: no leader");
  }

  @Test
  void softwareTransactionalMemory() {
    String t = assertSameTranscript("stm");
    for (String level : List.of("serializable-snapshot", "serializable", "repeatable-reads")) {
      assertContains(t, level + ": transactions=40 sum=500");
    }
  }

  @Test
  void leasingKv() {
    String t = assertSameTranscript("leasing");
    assertContains(t, "lease keys after a leased read=1");
    assertContains(t, "/registry/secrets/go-leasing/k=\"v3\"");
  }

  @Test
  void namespaceKv() {
    assertContains(assertSameTranscript("namespace"), "lease keys=[\"leased\"]");
  }

  @Test
  void valueComparesAndSortsOnGovernedKeys() {
    String t = assertSameTranscript("value-compare");
    assertContains(
        t, "txn succeeded=true rev=r+5 {put prev=/registry/secrets/go-value-compare/a=\"pear\"");
  }
}
