package io.etcdcrypt.ops;

import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY2_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.PREFIX_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.PREFIX_KEY2;
import static io.etcdcrypt.ops.OpsFixtures.bs;
import static io.etcdcrypt.ops.OpsFixtures.codec;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.get;
import static io.etcdcrypt.ops.OpsFixtures.key;
import static io.etcdcrypt.ops.OpsFixtures.putAll;
import static io.etcdcrypt.ops.OpsFixtures.secretKey;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.etcd.etcdserverpb.CompactionRequest;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.LeaseGrantRequest;
import io.etcdcrypt.etcd.etcdserverpb.LeaseGrpc;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.Sync;
import io.grpc.Channel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rewrap engine against a real etcd: conflicts, deletions, leases, unreadable values, stopping
 * and resuming.
 */
@RealComponents
class RewrapperTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
  @RegisterExtension static final OpsFixtures.RawEtcd raw = new OpsFixtures.RawEtcd(etcd);
  private static final String OLD = config("secrets", AESGCM_KEY1);
  private static final String NEW = config("secrets", AESGCM_KEY2_KEY1);

  @RegisterExtension
  static final OpsFixtures.OldAndNewProxies proxies =
      new OpsFixtures.OldAndNewProxies(etcd, OLD, NEW);

  private static final List<Scope> SECRETS =
      Scopes.select(ResourceResolver.withDefaultPrefix(), List.of("secrets"));

  @TempDir Path dir;

  @AfterEach
  void empty() {
    raw.clear();
  }

  private static void writeOld(int n) {
    putAll(proxies.oldClient(), n, OpsFixtures::secretKey, i -> "value-" + i);
  }

  private static Channel interceptFirstTxn(
      String key, Function<String, CompletableFuture<?>> beforeFirstTxn) {
    return OpsFixtures.interceptFirstTxn(raw.channel(), key, beforeFirstTxn);
  }

  private static Rewrapper.Options small() {
    return Rewrapper.Options.defaults().withPageSize(3).withMaxInFlight(4);
  }

  @Test
  void rewritesEveryStaleValueWithTheFirstKey() throws Exception {
    writeOld(20);
    assertEquals(20, raw.assertAllStoredWith("/registry/secrets/", PREFIX_KEY1));

    Rewrapper r = new Rewrapper(proxies.newCodec(), raw.channel(), small());
    assertEquals(Rewrapper.Outcome.FINISHED, r.run(SECRETS, null));

    assertEquals(20, r.stats().total());
    assertEquals(20, r.stats().done());
    assertEquals(20, r.stats().rewritten());
    assertEquals(0, r.stats().conflicts());
    assertEquals(20, raw.assertAllStoredWith("/registry/secrets/", PREFIX_KEY2));
    for (int i = 0; i < 20; i++) {
      assertEquals("value-" + i, get(proxies.newClient(), secretKey(i)));
    }
  }

  @Test
  void aClientUpdateBetweenReadAndWriteWins() throws Exception {
    writeOld(10);
    String contested = secretKey(4);
    Channel channel =
        interceptFirstTxn(
            contested, k -> proxies.newClient().getKVClient().put(bs(k), bs("client")));

    Rewrapper r = new Rewrapper(proxies.newCodec(), channel, small());
    r.run(SECRETS, null);

    assertEquals(
        "client", get(proxies.newClient(), contested), "the client's update is never overwritten");
    assertEquals(1, r.stats().conflicts());
    assertEquals(1, r.stats().updatedConcurrently(), "the winner was written with key2 already");
    assertEquals(9, r.stats().rewritten());
    assertEquals(10, raw.assertAllStoredWith("/registry/secrets/", PREFIX_KEY2));
  }

  @Test
  void aStaleUpdateBetweenReadAndWriteIsRewrittenAtItsNewRevision() throws Exception {
    writeOld(10);
    String contested = secretKey(7);
    // A writer still on the old configuration (another kube-apiserver behind an old proxy) updates
    // the value.
    Channel channel =
        interceptFirstTxn(
            contested, k -> proxies.oldClient().getKVClient().put(bs(k), bs("old writer")));

    Rewrapper r = new Rewrapper(proxies.newCodec(), channel, small());
    r.run(SECRETS, null);

    assertEquals("old writer", get(proxies.newClient(), contested), "its update is kept");
    assertEquals(1, r.stats().conflicts());
    assertEquals(10, r.stats().rewritten(), "and re-encrypted at its new revision");
    assertEquals(10, raw.assertAllStoredWith("/registry/secrets/", PREFIX_KEY2));
  }

  @Test
  void aValueDeletedBeforeTheWriteStaysDeleted() throws Exception {
    writeOld(6);
    String deleted = secretKey(2);
    Channel channel =
        interceptFirstTxn(deleted, k -> proxies.newClient().getKVClient().delete(bs(k)));

    Rewrapper r = new Rewrapper(proxies.newCodec(), channel, small());
    r.run(SECRETS, null);

    assertNull(raw.kv(deleted));
    assertEquals(1, r.stats().deletedConcurrently());
    assertEquals(5, r.stats().rewritten());
  }

  @Test
  void onlyTheStoredBytesChange() throws Exception {
    long lease =
        LeaseGrpc.newBlockingStub(raw.channel())
            .withInterceptors(Channels.DEFAULT_DEADLINE)
            .leaseGrant(LeaseGrantRequest.newBuilder().setTTL(600).build())
            .getID();
    EncryptionCodec old = codec(OLD);
    ByteString k = key("/registry/secrets/ns/leased");
    raw.put(
        "/registry/secrets/ns/leased",
        Sync.toStorage(old, k, ByteString.copyFromUtf8("with lease")),
        lease);
    KeyValue before = raw.kv("/registry/secrets/ns/leased");

    new Rewrapper(proxies.newCodec(), raw.channel(), small()).run(SECRETS, null);

    KeyValue after = raw.kv("/registry/secrets/ns/leased");
    assertEquals(lease, after.getLease(), "the lease is kept");
    assertEquals(before.getCreateRevision(), after.getCreateRevision());
    assertEquals(before.getVersion() + 1, after.getVersion());
    assertTrue(after.getValue().toStringUtf8().startsWith(PREFIX_KEY2));
    assertEquals("with lease", get(proxies.newClient(), "/registry/secrets/ns/leased"));
  }

  @Test
  void undecryptableValuesAreReportedAndLeftAlone() throws Exception {
    writeOld(3);
    raw.put("/registry/secrets/ns/lost", "k8s:enc:aesgcm:v1:gone:0123456789abcdef0123456789abcdef");
    raw.put("/registry/configmaps/ns/cm", "not covered");
    KeyValue before = raw.kv("/registry/secrets/ns/lost");

    Rewrapper r = new Rewrapper(proxies.newCodec(), raw.channel(), small());
    r.run(Scopes.select(ResourceResolver.withDefaultPrefix(), List.of()), null);

    assertEquals(before, raw.kv("/registry/secrets/ns/lost"));
    assertEquals(1, r.stats().undecryptable());
    assertEquals(
        List.of(
            new KeyProblem(
                "/registry/secrets/ns/lost",
                "no matching key was found for the provided AES transformer")),
        r.stats().problems());
    assertEquals(3, r.stats().rewritten());
    assertEquals(1, r.stats().passedOver(), "the configmap has no rule");
    assertEquals("not covered", raw.stored("/registry/configmaps/ns/cm"));
  }

  @Test
  void dryRunWritesNothing() throws Exception {
    writeOld(8);
    long revision = raw.revision();

    Rewrapper r = new Rewrapper(proxies.newCodec(), raw.channel(), small().withDryRun(true));
    r.run(SECRETS, null);

    assertEquals(8, r.stats().stale());
    assertEquals(0, r.stats().rewritten());
    assertEquals(revision, raw.revision());
  }

  @Test
  void aStoppedRunResumesWhereItStoppedWithoutRewritingAnythingTwice() throws Exception {
    writeOld(20);
    Path file = dir.resolve("state.json");
    List<String> targets = RewrapTargets.of(OpsFixtures.parse(NEW));

    RewrapState state = RewrapState.load(file, "/registry/", targets);
    Rewrapper first = new Rewrapper(proxies.newCodec(), raw.channel(), small().withLimit(7));
    assertEquals(Rewrapper.Outcome.STOPPED, first.run(SECRETS, state));
    state.save();
    assertEquals(7, first.stats().rewritten());
    Map<String, KeyValue> afterFirst = raw.all("/registry/secrets/");
    List<String> rewrittenFirst = new ArrayList<>();
    afterFirst.forEach(
        (k, kv) -> {
          if (kv.getValue().toStringUtf8().startsWith(PREFIX_KEY2)) {
            rewrittenFirst.add(k);
          }
        });
    assertEquals(7, rewrittenFirst.size());

    RewrapState resumed = RewrapState.load(file, "/registry/", targets);
    Rewrapper second = new Rewrapper(proxies.newCodec(), raw.channel(), small());
    assertEquals(Rewrapper.Outcome.FINISHED, second.run(SECRETS, resumed));
    resumed.save();

    assertEquals(13, second.stats().total(), "the keys done before are not even read again");
    assertEquals(13, second.stats().rewritten());
    assertEquals(20, raw.assertAllStoredWith("/registry/secrets/", PREFIX_KEY2));
    for (String k : rewrittenFirst) {
      assertEquals(
          afterFirst.get(k).getModRevision(), raw.kv(k).getModRevision(), k + " was written once");
    }

    Rewrapper third = new Rewrapper(proxies.newCodec(), raw.channel(), small());
    third.run(SECRETS, RewrapState.load(file, "/registry/", targets));
    assertEquals(0, third.stats().total(), "a finished range is skipped");
  }

  @Test
  void aScanWhoseRevisionIsCompactedContinuesAtTheCurrentOne() throws Exception {
    writeOld(10);
    RangeScanner scanner = new RangeScanner(raw.channel(), 3, Duration.ofSeconds(10));
    List<String> seen = new ArrayList<>();
    long[] pinned = new long[1];
    scanner.scan(
        key("/registry/secrets/"),
        io.etcdcrypt.config.EtcdKeys.prefixRangeEnd(key("/registry/secrets/")),
        page -> {
          if (seen.isEmpty()) {
            pinned[0] = scanner.revision();
            raw.put("/registry/configmaps/ns/bump", "x"); // outside the range
            KVGrpc.newBlockingStub(raw.channel())
                .withInterceptors(Channels.DEFAULT_DEADLINE)
                .compact(
                    CompactionRequest.newBuilder()
                        .setRevision(raw.revision())
                        .setPhysical(true)
                        .build());
          }
          page.forEach(kv -> seen.add(kv.getKey().toStringUtf8()));
          return true;
        });

    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      expected.add(secretKey(i));
    }
    expected.sort(null);
    assertEquals(expected, seen, "every key exactly once, in order");
    assertTrue(scanner.revision() > pinned[0], "re-pinned after the compaction");
    assertNotNull(raw.kv("/registry/configmaps/ns/bump"));
  }
}
