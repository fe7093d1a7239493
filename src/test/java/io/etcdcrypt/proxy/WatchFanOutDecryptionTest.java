package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchCreateRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchGrpc;
import io.etcdcrypt.etcd.etcdserverpb.WatchRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchResponse;
import io.etcdcrypt.etcd.mvccpb.Event;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyExtension;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Many Watch streams on one prefix of encrypted values, as many informers behind the proxy hold
 * them: every stream gets every plaintext (and prev_kv), each from its own etcd stream, while each
 * stored value is decrypted (and counted in the transformation metrics) about once, not once per
 * stream.
 */
@RealComponents
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class WatchFanOutDecryptionTest {

  private static final int WATCHERS = 20;
  private static final int KEYS = 10;
  private static final String PREFIX = "/registry/secrets/fanout/";
  private static final String AESGCM = "k8s:enc:aesgcm:v1:";

  /** Decryptions the codec made: one provider-level sample each. */
  private static final AtomicLong decryptions = new AtomicLong();

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @RegisterExtension
  static final ProxyExtension proxy =
      new ProxyExtension(etcd, WatchFanOutDecryptionTest::countingCodec);

  private static EncryptionCodec countingCodec() {
    return TestCodecs.secretsUnderAesGcm(TestCodecs.countingDecryptions(AESGCM, decryptions));
  }

  /** One client Watch stream on the prefix, with prev_kv, collecting its events. */
  private static final class Watcher {
    final ConcurrentLinkedQueue<Event> events = new ConcurrentLinkedQueue<>();
    final CountDownLatch created = new CountDownLatch(1);
    final StreamObserver<WatchRequest> requests;

    Watcher() {
      requests =
          WatchGrpc.newStub(proxy.toProxy())
              .watch(
                  new StreamObserver<>() {
                    @Override
                    public void onNext(WatchResponse r) {
                      if (r.getCreated()) {
                        created.countDown();
                      }
                      events.addAll(r.getEventsList());
                    }

                    @Override
                    public void onError(Throwable t) {}

                    @Override
                    public void onCompleted() {}
                  });
      requests.onNext(
          WatchRequest.newBuilder()
              .setCreateRequest(
                  WatchCreateRequest.newBuilder()
                      .setKey(pb(PREFIX))
                      .setRangeEnd(pb(PREFIX.substring(0, PREFIX.length() - 1) + "0"))
                      .setPrevKv(true))
              .build());
    }
  }

  private static String plaintext(int key, int version) {
    return "{\"kind\":\"Secret\",\"metadata\":{\"name\":\"s" + key + "\"},\"v\":" + version + "}";
  }

  @Test
  void everyWatcherGetsEveryPlaintextAndEachValueIsDecryptedAboutOnce() throws Exception {
    List<Watcher> watchers = new ArrayList<>();
    for (int i = 0; i < WATCHERS; i++) {
      watchers.add(new Watcher());
    }
    for (Watcher w : watchers) {
      assertTrue(w.created.await(10, TimeUnit.SECONDS), "watch created");
    }
    long before = decryptions.get();
    ProxyServer server = proxy.fixture().server();
    long sharedBefore = server.watchValuesShared();
    long decryptedBefore = server.watchValuesDecrypted();

    // Each key created, then updated: the update's event carries the created value as prev_kv.
    KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(proxy.toProxy());
    for (int version = 1; version <= 2; version++) {
      for (int k = 0; k < KEYS; k++) {
        kv.put(
            PutRequest.newBuilder()
                .setKey(pb(PREFIX + "s" + k))
                .setValue(ByteString.copyFromUtf8(plaintext(k, version)))
                .build());
      }
    }
    // Stored encrypted.
    ByteString stored =
        KVGrpc.newBlockingStub(proxy.toEtcd())
            .range(RangeRequest.newBuilder().setKey(pb(PREFIX + "s0")).build())
            .getKvs(0)
            .getValue();
    assertTrue(stored.startsWith(ByteString.copyFromUtf8(AESGCM)), "stored encrypted");

    Await.until(
        "every watcher to receive all " + 2 * KEYS + " events",
        Duration.ofSeconds(30),
        () -> watchers.stream().allMatch(w -> w.events.size() >= 2 * KEYS));
    for (Watcher w : watchers) {
      List<Event> events = new ArrayList<>(w.events);
      assertEquals(2 * KEYS, events.size());
      for (int i = 0; i < events.size(); i++) {
        int key = i % KEYS;
        int version = i / KEYS + 1;
        Event e = events.get(i);
        assertEquals(PREFIX + "s" + key, e.getKv().getKey().toStringUtf8());
        assertEquals(plaintext(key, version), e.getKv().getValue().toStringUtf8());
        if (version == 2) {
          assertEquals(plaintext(key, 1), e.getPrevKv().getValue().toStringUtf8());
        } else {
          assertTrue(!e.hasPrevKv() || e.getPrevKv().getValue().isEmpty(), "a create's prev_kv");
        }
      }
      w.requests.onCompleted();
    }

    // 30 values were delivered to each of 20 streams (20 kv, 10 prev_kv): 600 openings. The 20
    // stored values are decrypted once each; a prev_kv may be decrypted once more when its
    // create's decryption was more than 2 s old on a slow machine.
    long decrypted = decryptions.get() - before;
    long shared = server.watchValuesShared() - sharedBefore;
    assertTrue(
        decrypted >= 2 * KEYS && decrypted <= 3 * KEYS,
        "decryptions: " + decrypted + " for " + 2 * KEYS + " stored values");
    assertEquals(WATCHERS * 3 * KEYS, decrypted + shared, "every opening shared or decrypted");
    assertEquals(
        decrypted, server.watchValuesDecrypted() - decryptedBefore, "counted as the codec counted");
  }
}
