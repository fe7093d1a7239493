package io.etcdcrypt.faults;

import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.write;
import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.PrometheusText;
import io.etcdcrypt.testing.ProxyProcess;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.ShippedJvm;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Many clients listing large pages at once get every page from a proxy run as shipped: 16 clients
 * list pages of 500 Secrets of 10 KiB (5 MiB each) again and again. Their answers together are more
 * than the direct memory jvm.options gives the proxy (128 MiB, each answer held once as it arrives
 * and once as it leaves); before lists waited for room, a third of them failed with
 * RESOURCE_EXHAUSTED "could not hold etcd's answer (OutOfDirectMemoryError)", and every other call
 * on the connection to etcd with them. Now some wait, and the proxy says so in its metrics.
 */
@RealComponents
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ManyLargeListsAtOnceTest {

  private static final String PREFIX = "/registry/secrets/large/";
  private static final int SECRETS = 1000;
  private static final int PAGE = 500;
  private static final int CLIENTS = 16;
  private static final Duration LISTING = Duration.ofSeconds(20);

  @Test
  void sixteenClientsListingFiveMibPagesAtOnceAllGetThePlaintext(@TempDir Path dir)
      throws Exception {
    try (EtcdProcess etcd = EtcdProcess.startSingle();
        ProxyProcess proxy =
            ShippedJvm.startProxy(
                dir,
                etcd.endpoint(),
                write(dir.resolve("enc.yaml"), config("secrets", AESGCM_KEY1)))) {
      List<ManagedChannel> channels = new ArrayList<>();
      ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
      try {
        for (int c = 0; c < 4; c++) {
          channels.add(Channels.plaintext(proxy.endpoint(), 32 << 20));
        }
        seed(KVGrpc.newFutureStub(channels.get(0)));

        RangeRequest page =
            RangeRequest.newBuilder()
                .setKey(pb(PREFIX))
                .setRangeEnd(pb(PREFIX.substring(0, PREFIX.length() - 1) + "0"))
                .setLimit(PAGE)
                .build();
        Map<String, LongAdder> failures = new ConcurrentHashMap<>();
        LongAdder pages = new LongAdder();
        long deadline = System.nanoTime() + LISTING.toNanos();
        List<Future<?>> running = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
          KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channels.get(c % channels.size()));
          running.add(
              clients.submit(
                  () -> {
                    while (System.nanoTime() < deadline) {
                      try {
                        RangeResponse answer = kv.range(page);
                        assertEquals(PAGE, answer.getKvsCount(), "a full page");
                        for (KeyValue kv0 : List.of(answer.getKvs(0), answer.getKvs(PAGE - 1))) {
                          assertEquals(
                              valueOf(kv0.getKey().toStringUtf8()), kv0.getValue(), "plaintext");
                        }
                        pages.increment();
                      } catch (StatusRuntimeException e) {
                        String why = String.valueOf(e.getStatus().getDescription());
                        failures
                            .computeIfAbsent(
                                e.getStatus().getCode()
                                    + " "
                                    + why.substring(0, Math.min(90, why.length())),
                                k -> new LongAdder())
                            .increment();
                      }
                    }
                    return null;
                  }));
        }
        for (Future<?> client : running) {
          client.get(LISTING.toSeconds() + 90, TimeUnit.SECONDS);
        }
        PrometheusText.Exposition metrics = PrometheusText.parse(proxy.metrics());
        double waited = metrics.value("etcd_crypt_proxy_lists_waited_total");
        System.out.printf(
            "%d pages of 5 MiB listed by %d clients in %d s; %s failed; %.0f lists waited for"
                + " room; peak RSS %d MiB%n",
            pages.sum(),
            CLIENTS,
            LISTING.toSeconds(),
            failures,
            waited,
            proxy.peakResidentBytes() >> 20);
        assertEquals(Map.of(), failures, "every list succeeded");
        assertTrue(pages.sum() >= CLIENTS, "every client listed: " + pages.sum() + " pages");
        assertTrue(waited > 0, "16 answers of 5 MiB do not fit at once: some lists waited");
        assertEquals(0, metrics.value("etcd_crypt_proxy_lists_waiting"), "none waits any more");
      } finally {
        clients.shutdownNow();
        channels.forEach(ManagedChannel::shutdownNow);
      }
    }
  }

  private static void seed(KVGrpc.KVFutureStub kv) throws Exception {
    List<com.google.common.util.concurrent.ListenableFuture<?>> puts = new ArrayList<>();
    for (int i = 0; i < SECRETS; i++) {
      String key = String.format("%s%05d", PREFIX, i);
      puts.add(kv.put(PutRequest.newBuilder().setKey(pb(key)).setValue(valueOf(key)).build()));
      if (puts.size() == 64) {
        for (var put : puts) {
          put.get(30, TimeUnit.SECONDS);
        }
        puts.clear();
      }
    }
    for (var put : puts) {
      put.get(30, TimeUnit.SECONDS);
    }
  }

  /** 10 KiB that say which key they belong to. */
  private static ByteString valueOf(String key) {
    byte[] value = new byte[10 << 10];
    Arrays.fill(value, (byte) (key.hashCode() & 0x7f | 0x20));
    byte[] name = key.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    System.arraycopy(name, 0, value, 0, name.length);
    return ByteString.copyFrom(value);
  }
}
