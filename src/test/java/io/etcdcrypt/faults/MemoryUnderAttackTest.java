package io.etcdcrypt.faults;

import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.write;
import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.etcdcrypt.cli.ServeCommand;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.PutResponse;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.Command;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.Etcdctl;
import io.etcdcrypt.testing.ProxyProcess;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.ShippedJvm;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy's memory is bounded by its configuration, not by what clients send (issue 19 item 1):
 * the proxy runs as shipped (the image's JDK where the machine has it, {@code jvm.options}, serve's
 * defaults, secrets under aesgcm) while clients keep it busy with many concurrent large writes
 * (Txns just under etcd's request limit), writes over that limit, and writes far over the
 * transport's. Meanwhile another client lists 20 MiB of secrets again and again: every list must
 * succeed with the plaintext, and the proxy's peak resident memory must stay under the bound the
 * README documents. Once the attack is over, large writes are admitted again.
 */
@RealComponents
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class MemoryUnderAttackTest {

  private static final int MIB = 1 << 20;

  /** The README's worst case for jvm.options and serve's defaults ("Memory"). */
  private static final long DOCUMENTED_PEAK_RSS = 448L * MIB;

  private static final Duration ATTACK = Duration.ofSeconds(30);
  private static final String PREFIX = "/registry/secrets/victims/";
  private static final int SECRETS = 20;

  /** Starts the attackers' next calls, a little after their last ended. */
  private static final ScheduledExecutorService PACE =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "attack-pace");
            t.setDaemon(true);
            return t;
          });

  @Test
  void largeAndOversizeWritesNeitherGrowMemoryPastTheBoundNorStopAnotherClientsList(
      @TempDir Path dir) throws Exception {
    try (EtcdProcess etcd = EtcdProcess.startSingle();
        ProxyProcess proxy =
            ShippedJvm.startProxy(
                dir,
                etcd.endpoint(),
                write(dir.resolve("enc.yaml"), config("secrets", AESGCM_KEY1)),
                // serve's default, which the test proxies otherwise skip: as shipped
                "--warm-up-seconds",
                "" + ServeCommand.DEFAULT_WARM_UP_SECONDS)) {
      ManagedChannel writer = Channels.plaintext(proxy.endpoint());
      List<ManagedChannel> attackers = new ArrayList<>();
      try {
        KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(writer);
        byte[] secret = new byte[MIB];
        Arrays.fill(secret, (byte) 's');
        for (int i = 0; i < SECRETS; i++) {
          kv.put(
              PutRequest.newBuilder()
                  .setKey(pb(PREFIX + i))
                  .setValue(ByteString.copyFrom(secret))
                  .build());
        }

        AtomicBoolean attacking = new AtomicBoolean(true);
        Map<String, LongAdder> outcomes = new ConcurrentHashMap<>();
        // Txns of 1.4 MiB whose compare fails: each is read, encrypted and sent to etcd, which
        // writes
        // nothing. 8 connections with 8 in flight each: 90 MiB asked of the proxy at once.
        TxnRequest txn = failingTxn(1400 * 1024);
        for (int c = 0; c < 8; c++) {
          ManagedChannel ch = Channels.plaintext(proxy.endpoint());
          attackers.add(ch);
          for (int i = 0; i < 8; i++) {
            MemoryUnderAttackTest.<TxnResponse>repeat(
                attacking, outcomes, "txn", o -> KVGrpc.newStub(ch).txn(txn, o));
          }
        }
        // Puts over etcd's request limit (1.5 MiB) that the transport still reads (17 MiB): 8 at
        // once. And puts far over anything the proxy reads (120 MiB), one at a time. (Each costs
        // this test's JVM its whole size per call, so they pause a little between calls.)
        PutRequest oversize = put(17 * MIB);
        PutRequest huge = put(120 * MIB);
        for (int c = 0; c < 4; c++) {
          ManagedChannel ch = Channels.plaintext(proxy.endpoint());
          attackers.add(ch);
          for (int i = 0; i < 2; i++) {
            MemoryUnderAttackTest.<PutResponse>repeat(
                attacking, outcomes, "17MiB", o -> KVGrpc.newStub(ch).put(oversize, o));
          }
        }
        ManagedChannel hugeChannel = Channels.plaintext(proxy.endpoint());
        attackers.add(hugeChannel);
        MemoryUnderAttackTest.<PutResponse>repeat(
            attacking, outcomes, "120MiB", o -> KVGrpc.newStub(hugeChannel).put(huge, o));

        var sampler =
            PACE.scheduleAtFixedRate(
                () -> System.out.println(memoryMetrics(proxy).replace('\n', ' ')),
                1,
                3,
                TimeUnit.SECONDS);
        // The innocent client is etcdctl, a process of its own: the attackers above are this JVM's,
        // and what they cost it (each call's whole message in direct buffers) is not the proxy's.
        Etcdctl etcdctl = new Etcdctl(proxy.endpoint());
        String plaintext = new String(secret, StandardCharsets.US_ASCII);
        int lists = 0;
        long deadline = System.nanoTime() + ATTACK.toNanos();
        try {
          while (System.nanoTime() < deadline) {
            Command.Result all =
                etcdctl
                    .run(
                        "--command-timeout=55s",
                        "get",
                        "--prefix",
                        "--consistency=s",
                        "--print-value-only",
                        PREFIX)
                    .assertOk();
            List<String> values = all.stdout().lines().filter(l -> !l.isEmpty()).toList();
            assertEquals(SECRETS, values.size(), "values listed");
            assertTrue(
                values.stream().allMatch(plaintext::equals),
                "the innocent list's values are the plaintext");
            lists++;
          }
        } finally {
          attacking.set(false);
          sampler.cancel(false);
          System.out.printf(
              "memory under attack: %d lists of %d MiB succeeded; attackers' outcomes %s;"
                  + " peak RSS %d MiB%n%s%n",
              lists, SECRETS, outcomes, proxy.peakResidentBytes() / MIB, memoryMetrics(proxy));
          proxy
              .output()
              .lines()
              .filter(l -> !l.contains(" INFO ") && !l.startsWith("\tat "))
              .limit(60)
              .forEach(l -> System.out.println("proxy: " + l));
        }
        // Every list succeeded (one that failed threw above); under attack on a busy 2-core machine
        // one may take most of the attack's 30 s, since the attackers' connections share the
        // proxy's
        // event loops with it.
        assertTrue(lists >= 1, "the innocent client listed during the attack, got " + lists);
        assertTrue(
            proxy.peakResidentBytes() < DOCUMENTED_PEAK_RSS,
            "peak RSS "
                + proxy.peakResidentBytes() / MIB
                + " MiB is under the documented "
                + DOCUMENTED_PEAK_RSS / MIB
                + " MiB");
        assertTrue(
            outcomes.containsKey("17MiB RESOURCE_EXHAUSTED"),
            "oversize puts are refused: " + outcomes);
        // The client's own report of how each attack ended, for the record: RESOURCE_EXHAUSTED is
        // the
        // proxy's refusal; CANCELLED or UNKNOWN mean this JVM gave up on its own calls.
        assertTrue(
            outcomes.containsKey("120MiB RESOURCE_EXHAUSTED"),
            "huge puts are refused: " + outcomes);
        // The proxy serves on: once the attackers' last calls have ended, a large write (refused
        // during the attack only for want of room, never for good), a small one, and reads.
        attackers.forEach(ManagedChannel::shutdownNow);
        awaitNothingInFlight(proxy);
        System.out.println("after the attack: " + memoryMetrics(proxy).replace('\n', ' '));
        byte[] large = new byte[1400 * 1024];
        Arrays.fill(large, (byte) 'L');
        kv.put(
            PutRequest.newBuilder()
                .setKey(pb(PREFIX + "large-after"))
                .setValue(ByteString.copyFrom(large))
                .build());
        assertEquals(
            new String(large, StandardCharsets.US_ASCII),
            etcdctl
                .run("get", "--print-value-only", PREFIX + "large-after")
                .assertOk()
                .stdout()
                .strip());
        etcdctl.run("put", PREFIX + "after", "ok").assertOk();
        assertEquals(
            "ok",
            etcdctl.run("get", "--print-value-only", PREFIX + "after").assertOk().stdout().strip());
      } finally {
        attackers.forEach(ManagedChannel::shutdownNow);
        writer.shutdownNow();
      }
    }
  }

  /** Waits until the proxy holds no message: every call the attackers started has ended. */
  private static void awaitNothingInFlight(ProxyProcess proxy) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    String idle = "etcd_crypt_proxy_in_flight_bytes 0.0";
    while (proxy.metrics().lines().noneMatch(idle::equals)) {
      assertTrue(
          System.nanoTime() < deadline,
          "the proxy still holds messages 60 s after the attack:\n" + memoryMetrics(proxy));
      Thread.sleep(100);
    }
  }

  /** Starts {@code call} again each time it ends, while {@code on}; counts how each ended. */
  private static <T> void repeat(
      AtomicBoolean on,
      Map<String, LongAdder> outcomes,
      String name,
      java.util.function.Consumer<StreamObserver<T>> call) {
    if (!on.get()) {
      return;
    }
    call.accept(
        new StreamObserver<>() {
          @Override
          public void onNext(T value) {}

          @Override
          public void onError(Throwable t) {
            ended(Status.fromThrowable(t).getCode().name());
          }

          @Override
          public void onCompleted() {
            ended("OK");
          }

          private void ended(String how) {
            outcomes.computeIfAbsent(name + " " + how, k -> new LongAdder()).increment();
            PACE.schedule(() -> repeat(on, outcomes, name, call), 20, TimeUnit.MILLISECONDS);
          }
        });
  }

  private static TxnRequest failingTxn(int valueBytes) {
    String key = PREFIX + "never";
    return TxnRequest.newBuilder()
        .addCompare(
            Compare.newBuilder()
                .setKey(pb(key))
                .setTarget(Compare.CompareTarget.MOD)
                .setResult(Compare.CompareResult.EQUAL)
                .setModRevision(Long.MAX_VALUE))
        .addSuccess(
            RequestOp.newBuilder()
                .setRequestPut(
                    PutRequest.newBuilder().setKey(pb(key)).setValue(filled(valueBytes))))
        .build();
  }

  private static PutRequest put(int valueBytes) {
    return PutRequest.newBuilder()
        .setKey(pb(PREFIX + "oversize"))
        .setValue(filled(valueBytes))
        .build();
  }

  private static ByteString filled(int bytes) {
    byte[] b = new byte[bytes];
    Arrays.fill(b, (byte) 'x');
    return UnsafeByteOperations.unsafeWrap(b);
  }

  private static String memoryMetrics(ProxyProcess proxy) {
    StringBuilder sb = new StringBuilder();
    for (String line : proxy.metrics().split("\n")) {
      if (line.startsWith("etcd_crypt_proxy_in_flight")
          || line.startsWith("etcd_crypt_proxy_wire_buffers")
          || line.startsWith("jvm_buffer_memory_used_bytes")
          || line.startsWith("jvm_memory_used_bytes{area=\"heap\"")) {
        sb.append(line).append('\n');
      }
    }
    return sb.toString();
  }
}
