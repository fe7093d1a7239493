package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.bs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.common.exception.CompactedException;
import io.etcd.jetcd.common.exception.EtcdException;
import io.etcd.jetcd.kv.DeleteResponse;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.PutResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.lease.LeaseTimeToLiveResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.LeaseOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.Etcdctl;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import java.io.FileOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the same operations against one fresh etcd directly and against another fresh etcd through
 * the proxy (identity codec), and requires the same observable results: values, revisions, counts,
 * flags, events and error codes and messages. Both clusters see the same sequence of writes, so
 * even revisions must match.
 */
@RealComponents
class DifferentialTest {

  private static EtcdProcess directEtcd;
  private static EtcdProcess proxiedEtcd;
  private static ProxyFixture proxy;
  private static Client direct;
  private static Client proxied;

  @BeforeAll
  static void start() {
    directEtcd = EtcdProcess.startSingle();
    proxiedEtcd = EtcdProcess.startSingle();
    proxy = ProxyFixture.start(ValueCodec.IDENTITY, proxiedEtcd.endpoint());
    direct = Client.builder().endpoints(directEtcd.clientUrl()).build();
    proxied = proxy.client();
  }

  @AfterAll
  static void stop() {
    direct.close();
    proxied.close();
    proxy.close();
    directEtcd.close();
    proxiedEtcd.close();
  }

  /** One scenario, written once, run against both targets. */
  interface Scenario {
    void run(Client client, List<String> transcript) throws Exception;
  }

  private static List<String> assertSameOutcome(Scenario scenario) throws Exception {
    List<String> expected = new ArrayList<>();
    scenario.run(direct, expected);
    List<String> actual = new ArrayList<>();
    scenario.run(proxied, actual);
    assertEquals(String.join("\n", expected), String.join("\n", actual));
    assertFalse(expected.isEmpty());
    return expected;
  }

  @Test
  void getPutDeleteWithPrevKv() throws Exception {
    List<String> t =
        assertSameOutcome(
            (c, out) -> {
              KV kv = c.getKVClient();
              out.add(put(kv.put(bs("/diff/a/1"), bs("one"))));
              out.add(
                  put(
                      kv.put(
                          bs("/diff/a/1"), bs("uno"), PutOption.builder().withPrevKV().build())));
              out.add(put(kv.put(bs("/diff/a/2"), bs("two"))));
              out.add(get(kv.get(bs("/diff/a/1"))));
              out.add(get(kv.get(bs("/diff/a/missing"))));
              out.add(
                  del(kv.delete(bs("/diff/a/1"), DeleteOption.builder().withPrevKV(true).build())));
              out.add(
                  del(
                      kv.delete(
                          bs("/diff/a/"),
                          DeleteOption.builder().isPrefix(true).withPrevKV(true).build())));
              out.add(get(kv.get(bs("/diff/a/"), GetOption.builder().isPrefix(true).build())));
            });
    assertTrue(t.get(1).contains("prev=/diff/a/1=one"), t.get(1));
  }

  @Test
  void txnWithNestedTxnAndFailureBranch() throws Exception {
    List<String> t =
        assertSameOutcome(
            (c, out) -> {
              KV kv = c.getKVClient();
              kv.put(bs("/diff/txn/k"), bs("v0")).get(10, TimeUnit.SECONDS);
              // create-if-absent, as kube-apiserver does it: fails because the key exists
              out.add(
                  txn(
                      kv.txn()
                          .If(new Cmp(bs("/diff/txn/k"), Cmp.Op.EQUAL, CmpTarget.modRevision(0)))
                          .Then(Op.put(bs("/diff/txn/k"), bs("created"), PutOption.DEFAULT))
                          .Else(Op.get(bs("/diff/txn/k"), GetOption.DEFAULT))
                          .commit()));
              long rev =
                  kv.get(bs("/diff/txn/k"))
                      .get(10, TimeUnit.SECONDS)
                      .getKvs()
                      .get(0)
                      .getModRevision();
              // guarded update with a nested txn in the success branch
              out.add(
                  txn(
                      kv.txn()
                          .If(new Cmp(bs("/diff/txn/k"), Cmp.Op.EQUAL, CmpTarget.modRevision(rev)))
                          .Then(
                              Op.put(
                                  bs("/diff/txn/k"),
                                  bs("v1"),
                                  PutOption.builder().withPrevKV().build()),
                              Op.txn(
                                  new Cmp[] {
                                    new Cmp(
                                        bs("/diff/txn/other"), Cmp.Op.EQUAL, CmpTarget.version(0))
                                  },
                                  new Op[] {
                                    Op.put(bs("/diff/txn/other"), bs("nested"), PutOption.DEFAULT),
                                    Op.get(
                                        bs("/diff/txn/"),
                                        GetOption.builder().isPrefix(true).build())
                                  },
                                  new Op[] {}))
                          .Else(Op.get(bs("/diff/txn/k"), GetOption.DEFAULT))
                          .commit()));
              // value compare on an unprotected key, then a delete with prev_kv inside a txn
              out.add(
                  txn(
                      kv.txn()
                          .If(new Cmp(bs("/diff/txn/k"), Cmp.Op.EQUAL, CmpTarget.value(bs("v1"))))
                          .Then(
                              Op.delete(
                                  bs("/diff/txn/other"),
                                  DeleteOption.builder().withPrevKV(true).build()))
                          .commit()));
              // an invalid txn: the same key put twice; etcd's error must come through unchanged
              out.add(
                  txn(
                      kv.txn()
                          .Then(
                              Op.put(bs("/diff/txn/dup"), bs("1"), PutOption.DEFAULT),
                              Op.put(bs("/diff/txn/dup"), bs("2"), PutOption.DEFAULT))
                          .commit()));
            });
    assertTrue(t.get(0).startsWith("txn succeeded=false"), t.get(0));
    assertTrue(t.get(1).contains("/diff/txn/other=nested"), t.get(1));
    assertTrue(t.get(3).startsWith("ERR"), t.get(3));
  }

  @Test
  void rangesWithLimitSortKeysOnlyCountOnly() throws Exception {
    List<String> t =
        assertSameOutcome(
            (c, out) -> {
              KV kv = c.getKVClient();
              for (int i = 0; i < 7; i++) {
                kv.put(bs("/diff/range/" + i), bs("value-" + (7 - i))).get(10, TimeUnit.SECONDS);
              }
              ByteSequence p = bs("/diff/range/");
              out.add(get(kv.get(p, GetOption.builder().isPrefix(true).withLimit(3).build())));
              out.add(
                  get(
                      kv.get(
                          p,
                          GetOption.builder()
                              .isPrefix(true)
                              .withSortField(GetOption.SortTarget.VALUE)
                              .withSortOrder(GetOption.SortOrder.ASCEND)
                              .build())));
              out.add(
                  get(
                      kv.get(
                          p,
                          GetOption.builder()
                              .isPrefix(true)
                              .withSortField(GetOption.SortTarget.MOD)
                              .withSortOrder(GetOption.SortOrder.DESCEND)
                              .withLimit(2)
                              .build())));
              out.add(
                  get(kv.get(p, GetOption.builder().isPrefix(true).withKeysOnly(true).build())));
              out.add(
                  get(kv.get(p, GetOption.builder().isPrefix(true).withCountOnly(true).build())));
              out.add(
                  get(
                      kv.get(
                          bs("/diff/range/2"),
                          GetOption.builder().withRange(bs("/diff/range/5")).build())));
              long rev = kv.get(p).get(10, TimeUnit.SECONDS).getHeader().getRevision();
              out.add(
                  get(kv.get(p, GetOption.builder().isPrefix(true).withRevision(rev - 3).build())));
              out.add(
                  get(
                      kv.get(
                          p, GetOption.builder().isPrefix(true).withRevision(rev + 100).build())));
            });
    assertTrue(t.get(0).contains("count=7 more=true"), t.get(0));
    assertTrue(t.get(7).startsWith("ERR"), t.get(7)); // future revision
  }

  @Test
  void watchFromHistoryWithPrevKv() throws Exception {
    List<String> t =
        assertSameOutcome(
            (c, out) -> {
              KV kv = c.getKVClient();
              long start =
                  kv.put(bs("/diff/watch/a"), bs("1"))
                      .get(10, TimeUnit.SECONDS)
                      .getHeader()
                      .getRevision();
              kv.put(bs("/diff/watch/a"), bs("2")).get(10, TimeUnit.SECONDS);
              kv.put(bs("/diff/watch/b"), bs("3")).get(10, TimeUnit.SECONDS);
              kv.delete(bs("/diff/watch/a")).get(10, TimeUnit.SECONDS);
              LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();
              WatchOption opt =
                  WatchOption.builder().isPrefix(true).withPrevKV(true).withRevision(start).build();
              try (var w =
                  c.getWatchClient()
                      .watch(
                          bs("/diff/watch/"),
                          opt,
                          r -> {
                            for (WatchEvent e : r.getEvents()) {
                              events.add(
                                  e.getEventType()
                                      + " "
                                      + kv(e.getKeyValue())
                                      + " prev="
                                      + kv(e.getPrevKV()));
                            }
                          })) {
                for (int i = 0; i < 4; i++) {
                  out.add(events.poll(10, TimeUnit.SECONDS));
                }
                kv.put(bs("/diff/watch/c"), bs("live")).get(10, TimeUnit.SECONDS);
                out.add(events.poll(10, TimeUnit.SECONDS));
              }
            });
    assertTrue(t.get(3).startsWith("DELETE /diff/watch/a="), t.get(3));
    assertTrue(t.get(3).contains("prev=/diff/watch/a=2"), t.get(3));
    assertTrue(t.get(4).startsWith("PUT /diff/watch/c=live"), t.get(4));
  }

  @Test
  void errorsAfterCompaction() throws Exception {
    List<String> t =
        assertSameOutcome(
            (c, out) -> {
              KV kv = c.getKVClient();
              long old =
                  kv.put(bs("/diff/compact/k"), bs("1"))
                      .get(10, TimeUnit.SECONDS)
                      .getHeader()
                      .getRevision();
              long now =
                  kv.put(bs("/diff/compact/k"), bs("2"))
                      .get(10, TimeUnit.SECONDS)
                      .getHeader()
                      .getRevision();
              c.getKVClient().compact(now).get(10, TimeUnit.SECONDS);
              out.add(
                  get(
                      kv.get(
                          bs("/diff/compact/k"), GetOption.builder().withRevision(old).build())));
              CompletableFuture<String> watchError = new CompletableFuture<>();
              try (var w =
                  c.getWatchClient()
                      .watch(
                          bs("/diff/compact/k"),
                          WatchOption.builder().withRevision(old).build(),
                          r -> watchError.complete("events " + r.getEvents().size()),
                          e ->
                              watchError.complete(
                                  e instanceof CompactedException ce
                                      ? "ERR compacted at " + ce.getCompactedRevision()
                                      : "ERR " + e))) {
                out.add(watchError.get(10, TimeUnit.SECONDS));
              }
            });
    assertTrue(t.get(0).contains("required revision has been compacted"), t.get(0));
    assertTrue(t.get(1).startsWith("ERR compacted at"), t.get(1));
  }

  @Test
  void leaseGrantKeepAliveRevoke() throws Exception {
    List<String> t =
        assertSameOutcome(
            (c, out) -> {
              long id = c.getLeaseClient().grant(120).get(10, TimeUnit.SECONDS).getID();
              out.add(
                  "granted ttl="
                      + c.getLeaseClient().grant(120).get(10, TimeUnit.SECONDS).getTTL());
              c.getKVClient()
                  .put(bs("/diff/lease/k"), bs("v"), PutOption.builder().withLeaseId(id).build())
                  .get(10, TimeUnit.SECONDS);
              out.add(
                  "keepalive ttl="
                      + c.getLeaseClient().keepAliveOnce(id).get(10, TimeUnit.SECONDS).getTTL());
              LeaseTimeToLiveResponse ttl =
                  c.getLeaseClient()
                      .timeToLive(id, LeaseOption.builder().withAttachedKeys().build())
                      .get(10, TimeUnit.SECONDS);
              out.add("granted=" + ttl.getGrantedTTL() + " keys=" + ttl.getKeys());
              out.add(get(c.getKVClient().get(bs("/diff/lease/k"))));
              c.getLeaseClient().revoke(id).get(10, TimeUnit.SECONDS);
              out.add(get(c.getKVClient().get(bs("/diff/lease/k"))));
              out.add(
                  "after revoke ttl="
                      + c.getLeaseClient()
                          .timeToLive(id, LeaseOption.DEFAULT)
                          .get(10, TimeUnit.SECONDS)
                          .getTTL());
            });
    assertEquals("keepalive ttl=120", t.get(1));
    assertTrue(t.get(3).contains("leased"), t.get(3));
    assertTrue(t.get(4).contains("count=0"), t.get(4));
  }

  @Test
  void memberListStatusAndSnapshot(@TempDir Path dir) throws Exception {
    List<String> t =
        assertSameOutcome(
            (c, out) -> {
              var members =
                  c.getClusterClient().listMember().get(10, TimeUnit.SECONDS).getMembers();
              out.add(
                  "members "
                      + members.stream()
                          .map(m -> m.getName() + " learner=" + m.isLearner())
                          .collect(Collectors.toList()));
              String endpoint = c == direct ? directEtcd.clientUrl() : proxy.url();
              var status =
                  c.getMaintenanceClient().statusMember(endpoint).get(10, TimeUnit.SECONDS);
              out.add("version " + status.getVersion() + " dbSize>0 " + (status.getDbSize() > 0));
            });
    assertTrue(t.get(1).startsWith("version 3."), t.get(1));

    // A snapshot through the proxy is etcd's database, byte for byte as etcd streams it.
    Path viaProxy = dir.resolve("via-proxy.db");
    try (FileOutputStream os = new FileOutputStream(viaProxy.toFile())) {
      assertTrue(proxied.getMaintenanceClient().snapshot(os).get(30, TimeUnit.SECONDS) > 0);
    }
    Path directly = dir.resolve("direct.db");
    try (Client c = Client.builder().endpoints(proxiedEtcd.clientUrl()).build();
        FileOutputStream os = new FileOutputStream(directly.toFile())) {
      c.getMaintenanceClient().snapshot(os).get(30, TimeUnit.SECONDS);
    }
    String proxiedStatus = snapshotStatus(viaProxy);
    assertEquals(snapshotStatus(directly), proxiedStatus);
    assertTrue(Files.size(viaProxy) > 0);
  }

  /** "hash revision totalKeys totalSize" as etcdctl reads them from a snapshot file. */
  private static String snapshotStatus(Path file) {
    return new Etcdctl("127.0.0.1:1")
        .run("snapshot", "status", file.toString(), "-w", "simple")
        .assertOk()
        .stdout()
        .trim();
  }

  // ---- rendering, so transcripts compare whole observable results ----

  private static String kv(KeyValue kv) {
    if (kv == null || kv.getKey().isEmpty()) {
      return "-";
    }
    return kv.getKey()
        + "="
        + kv.getValue()
        + " c"
        + kv.getCreateRevision()
        + " m"
        + kv.getModRevision()
        + " v"
        + kv.getVersion()
        + (kv.getLease() != 0 ? " leased" : "");
  }

  private static String kvs(List<KeyValue> kvs) {
    return kvs.stream().map(DifferentialTest::kv).collect(Collectors.joining(", ", "[", "]"));
  }

  /** Waits for {@code f} and renders its result, or the error etcd (or the proxy) answered with. */
  private static <T> String await(
      CompletableFuture<T> f, java.util.function.Function<T, String> render)
      throws InterruptedException {
    try {
      return render.apply(f.get(10, TimeUnit.SECONDS));
    } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
      return error(e);
    }
  }

  private static String get(CompletableFuture<GetResponse> f) throws InterruptedException {
    return await(f, DifferentialTest::render);
  }

  private static String put(CompletableFuture<PutResponse> f) throws InterruptedException {
    return await(
        f,
        r ->
            "put rev="
                + r.getHeader().getRevision()
                + (r.hasPrevKv() ? " prev=" + kv(r.getPrevKv()) : ""));
  }

  private static String del(CompletableFuture<DeleteResponse> f) throws InterruptedException {
    return await(f, DifferentialTest::render);
  }

  private static String txn(CompletableFuture<TxnResponse> f) throws InterruptedException {
    return await(f, DifferentialTest::render);
  }

  private static String render(GetResponse r) {
    return "get rev="
        + r.getHeader().getRevision()
        + " count="
        + r.getCount()
        + " more="
        + r.isMore()
        + " kvs="
        + kvs(r.getKvs());
  }

  private static String render(DeleteResponse r) {
    return "delete rev="
        + r.getHeader().getRevision()
        + " deleted="
        + r.getDeleted()
        + " prev="
        + kvs(r.getPrevKvs());
  }

  private static String render(TxnResponse r) {
    StringBuilder sb =
        new StringBuilder(
            "txn succeeded=" + r.isSucceeded() + " rev=" + r.getHeader().getRevision());
    r.getGetResponses().forEach(g -> sb.append(" {").append(render(g)).append('}'));
    r.getPutResponses()
        .forEach(p -> sb.append(" {put prev=").append(kv(p.getPrevKv())).append('}'));
    r.getDeleteResponses().forEach(d -> sb.append(" {").append(render(d)).append('}'));
    r.getTxnResponses().forEach(n -> sb.append(" {").append(render(n)).append('}'));
    return sb.toString();
  }

  private static String error(Exception e) {
    Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
    if (cause instanceof EtcdException ee) {
      return "ERR " + ee.getErrorCode() + " " + ee.getMessage();
    }
    return "ERR " + cause;
  }
}
