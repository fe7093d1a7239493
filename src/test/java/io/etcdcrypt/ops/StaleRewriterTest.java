package io.etcdcrypt.ops;

import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY2_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.PREFIX_KEY2;
import static io.etcdcrypt.ops.OpsFixtures.bs;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.get;
import static io.etcdcrypt.ops.OpsFixtures.key;
import static io.etcdcrypt.ops.OpsFixtures.putAll;
import static io.etcdcrypt.ops.OpsFixtures.secretKey;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.RealComponents;
import io.grpc.Channel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@RealComponents
class StaleRewriterTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
  @RegisterExtension static final OpsFixtures.RawEtcd raw = new OpsFixtures.RawEtcd(etcd);

  @RegisterExtension
  static final OpsFixtures.OldAndNewProxies proxies =
      new OpsFixtures.OldAndNewProxies(
          etcd, config("secrets", AESGCM_KEY1), config("secrets", AESGCM_KEY2_KEY1));

  private static final Duration WAIT = Duration.ofSeconds(20);

  private static StaleRewriter rewriter(Channel channel, int capacity) {
    return new StaleRewriter(
        proxies::newCodec, channel, new StaleRewriter.Options(capacity, 2, Duration.ofSeconds(10)));
  }

  private static void offer(StaleRewriter r, String k) {
    r.offer(key(k), raw.kv(k).getModRevision());
  }

  @Test
  void offeredStaleValuesAreReEncryptedInTheBackground() throws Exception {
    putAll(proxies.oldClient(), 5, OpsFixtures::secretKey, i -> "v" + i);
    try (StaleRewriter r = rewriter(raw.channel(), 100).start()) {
      for (int i = 0; i < 5; i++) {
        offer(r, secretKey(i));
      }
      Await.until("5 rewrites", WAIT, () -> r.rewritten() == 5);
      assertEquals(5, r.staleSeen());
      assertEquals(0, r.failures());
    }
    assertEquals(5, raw.assertAllStoredWith("/registry/secrets/", PREFIX_KEY2));
    for (int i = 0; i < 5; i++) {
      assertEquals("v" + i, get(proxies.newClient(), secretKey(i)));
    }
  }

  @Test
  void offerNeverBlocksKeepsEachKeyOnceAndDropsWhenFull() throws Exception {
    putAll(proxies.oldClient(), 3, OpsFixtures::secretKey, i -> "v" + i);
    try (StaleRewriter r = rewriter(raw.channel(), 2)) {
      offer(r, secretKey(0));
      assertFalse(r.offer(key(secretKey(0)), 1), "already waiting");
      offer(r, secretKey(1));
      assertFalse(r.offer(key(secretKey(2)), 1), "the queue is full");
      assertEquals(4, r.staleSeen());
      assertEquals(1, r.dropped());
      assertEquals(2, r.queued());

      r.start();
      Await.until("2 rewrites", WAIT, () -> r.rewritten() == 2);
    }
    assertTrue(raw.stored(secretKey(0)).startsWith(PREFIX_KEY2));
    assertTrue(raw.stored(secretKey(1)).startsWith(PREFIX_KEY2));
    assertFalse(
        raw.stored(secretKey(2)).startsWith(PREFIX_KEY2),
        "the dropped key waits for its next read");
  }

  @Test
  void aValueUpdatedSinceItWasReadIsLeftAsItIs() throws Exception {
    putAll(proxies.oldClient(), 1, OpsFixtures::secretKey, i -> "old");
    String k = secretKey(0);
    try (StaleRewriter r = rewriter(raw.channel(), 10)) {
      offer(r, k);
      proxies.newClient().getKVClient().put(bs(k), bs("new")).get(10, TimeUnit.SECONDS);
      KeyValue updated = raw.kv(k);
      r.start();
      Await.until("the key is handled", WAIT, () -> r.alreadyCurrent() == 1);
      assertEquals(0, r.rewritten());
      assertEquals(updated, raw.kv(k), "not written again");
    }
    assertEquals("new", get(proxies.newClient(), k));
  }

  @Test
  void aClientWriteBetweenTheWorkersReadAndWriteWins() throws Exception {
    putAll(proxies.oldClient(), 1, OpsFixtures::secretKey, i -> "old");
    String k = secretKey(0);
    Channel channel =
        OpsFixtures.interceptFirstTxn(
            raw.channel(), k, key -> proxies.oldClient().getKVClient().put(bs(key), bs("client")));
    try (StaleRewriter r = rewriter(channel, 10).start()) {
      offer(r, k);
      Await.until("the conflict", WAIT, () -> r.conflicts() == 1);
      assertEquals(0, r.rewritten());
    }
    assertEquals("client", get(proxies.newClient(), k));
  }
}
