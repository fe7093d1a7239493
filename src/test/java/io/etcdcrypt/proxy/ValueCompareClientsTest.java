package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.bs;
import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.KV;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.PutOption;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyExtension;
import io.etcdcrypt.testing.Python;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Compare-and-swap on encrypted values, the way clients write it: python-etcd3's {@code replace()},
 * jetcd's {@code Cmp} on a value, and concurrent writers racing on one key, where a Txn the proxy
 * commits must be one that etcd would have committed on the plaintexts at that moment.
 */
@RealComponents
class ValueCompareClientsTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @RegisterExtension
  static final ProxyExtension proxy = new ProxyExtension(etcd, TestCodecs.secretsUnderAesGcm());

  @Test
  void pythonEtcd3Replace() {
    String script =
        String.join(
            "\n",
            "import sys, etcd3",
            "host, port = sys.argv[1].split(':')",
            "c = etcd3.client(host=host, port=int(port))",
            "k = '/registry/secrets/py/cas'",
            "c.put(k, 'one')",
            "print(c.replace(k, 'one', 'two'))",
            "print(c.replace(k, 'one', 'three'))",
            "print(c.get(k)[0].decode())");
    String out = Python.run(script, proxy.endpoint()).assertOk().stdout();
    assertTrue(out.trim().endsWith("True\nFalse\ntwo"), out);
    assertStoredEncrypted("/registry/secrets/py/cas");
  }

  @Test
  void jetcdCmpOnValue() throws Exception {
    KV kv = proxy.client().getKVClient();
    kv.put(bs("/registry/secrets/jetcd/cas"), bs("one")).get(10, TimeUnit.SECONDS);
    TxnResponse swapped =
        kv.txn()
            .If(
                new Cmp(
                    bs("/registry/secrets/jetcd/cas"), Cmp.Op.EQUAL, CmpTarget.value(bs("one"))))
            .Then(Op.put(bs("/registry/secrets/jetcd/cas"), bs("two"), PutOption.DEFAULT))
            .commit()
            .get(10, TimeUnit.SECONDS);
    assertTrue(swapped.isSucceeded());
    TxnResponse stale =
        kv.txn()
            .If(
                new Cmp(
                    bs("/registry/secrets/jetcd/cas"), Cmp.Op.GREATER, CmpTarget.value(bs("two"))))
            .Then(Op.put(bs("/registry/secrets/jetcd/cas"), bs("three"), PutOption.DEFAULT))
            .commit()
            .get(10, TimeUnit.SECONDS);
    assertFalse(stale.isSucceeded());
    assertEquals(
        "two",
        kv.get(bs("/registry/secrets/jetcd/cas"))
            .get(10, TimeUnit.SECONDS)
            .getKvs()
            .get(0)
            .getValue()
            .toString());
    assertStoredEncrypted("/registry/secrets/jetcd/cas");
  }

  /**
   * Writers increment one encrypted counter with compare-and-swap on its value while another
   * rewrites it with the same value (a new ciphertext and revision, the same plaintext). If the
   * proxy ever committed a swap whose compare no longer held, two writers would both succeed from
   * one value and the counter would end below their count.
   */
  @Test
  void concurrentCompareAndSwapLosesNoIncrement() throws Exception {
    String counter = "/registry/secrets/race/counter";
    put(counter, "0");
    int writers = 4;
    int incrementsEach = 40;
    AtomicInteger aborted = new AtomicInteger();
    AtomicInteger lostCompares = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(writers + 1);
    try {
      List<CompletableFuture<Void>> done = new ArrayList<>();
      for (int w = 0; w < writers; w++) {
        done.add(
            CompletableFuture.runAsync(
                () -> {
                  for (int n = 0; n < incrementsEach; ) {
                    int seen = Integer.parseInt(get(counter));
                    if (swap(
                        counter, Integer.toString(seen), Integer.toString(seen + 1), aborted)) {
                      n++;
                    } else {
                      lostCompares.incrementAndGet();
                    }
                  }
                },
                pool));
      }
      CompletableFuture<Void> writersDone =
          CompletableFuture.allOf(done.toArray(CompletableFuture[]::new));
      CompletableFuture<Integer> rewrites =
          CompletableFuture.supplyAsync(
              () -> {
                int count = 0;
                while (!writersDone.isDone()) {
                  String seen = get(counter);
                  if (swap(counter, seen, seen, aborted)) {
                    count++;
                  }
                }
                return count;
              },
              pool);
      writersDone.get(2, TimeUnit.MINUTES);
      int sameValueRewrites = rewrites.get(30, TimeUnit.SECONDS);
      System.out.printf(
          "CAS race: %d increments, %d failed compares, %d same-value rewrites, %d ABORTED%n",
          writers * incrementsEach, lostCompares.get(), sameValueRewrites, aborted.get());
      assertEquals(Integer.toString(writers * incrementsEach), get(counter));
      assertTrue(lostCompares.get() > 0, "the writers never raced; the test proved nothing");
      assertStoredEncrypted(counter);
    } finally {
      pool.shutdownNow();
    }
  }

  private static boolean swap(String key, String expected, String next, AtomicInteger aborted) {
    TxnRequest cas =
        TxnRequest.newBuilder()
            .addCompare(
                Compare.newBuilder()
                    .setKey(pb(key))
                    .setTarget(Compare.CompareTarget.VALUE)
                    .setResult(Compare.CompareResult.EQUAL)
                    .setValue(pb(expected)))
            .addSuccess(
                RequestOp.newBuilder()
                    .setRequestPut(PutRequest.newBuilder().setKey(pb(key)).setValue(pb(next))))
            .build();
    try {
      return KVGrpc.newBlockingStub(proxy.toProxy()).txn(cas).getSucceeded();
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.ABORTED) {
        throw e;
      }
      aborted.incrementAndGet(); // nothing was written: the caller reads and tries again
      return false;
    }
  }

  private static void put(String key, String value) {
    KVGrpc.newBlockingStub(proxy.toProxy())
        .put(PutRequest.newBuilder().setKey(pb(key)).setValue(pb(value)).build());
  }

  private static String get(String key) {
    return KVGrpc.newBlockingStub(proxy.toProxy())
        .range(RangeRequest.newBuilder().setKey(pb(key)).build())
        .getKvs(0)
        .getValue()
        .toStringUtf8();
  }

  private static void assertStoredEncrypted(String key) {
    var stored =
        KVGrpc.newBlockingStub(proxy.toEtcd())
            .range(RangeRequest.newBuilder().setKey(pb(key)).build())
            .getKvs(0)
            .getValue();
    assertTrue(
        stored.startsWith(pb("k8s:enc:aesgcm:v1:key1:")),
        key + " is stored as " + stored.toStringUtf8());
  }
}
