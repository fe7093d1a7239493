package io.etcdcrypt.kms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.AesGcm;
import io.etcdcrypt.crypto.Decrypted;
import io.etcdcrypt.crypto.Hkdf;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.proto.v2.EncryptedDEKSourceType;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.FormatVectors;
import io.etcdcrypt.testing.MockKmsPlugin;
import io.etcdcrypt.testing.MutableClock;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.Sync;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The KMS v2 provider against Kubernetes' base64 mock plugin on a real unix socket. */
@RealComponents
class KmsV2TransformerTest {

  private static final byte[] AAD = bytes("/registry/secrets/default/db");
  private static final byte[] PLAINTEXT =
      bytes("{\"kind\":\"Secret\",\"data\":{\"password\":\"c2VjcmV0\"}}");
  private static final Duration TIMEOUT = Duration.ofSeconds(3);

  @TempDir Path dir;
  private MockKmsPlugin plugin;
  private final List<KmsProvider> providers = new ArrayList<>();

  @BeforeEach
  void startPlugin() throws Exception {
    plugin = MockKmsPlugin.start(dir.resolve("kms.sock"));
  }

  @AfterEach
  void stopAll() {
    providers.forEach(KmsProvider::close);
    plugin.close();
  }

  private KmsV2Transformer provider(KmsProviderOptions options) {
    return provider(options, TIMEOUT);
  }

  private KmsV2Transformer provider(KmsProviderOptions options, Duration timeout) {
    KmsV2Transformer t = KmsV2Transformer.start("kms-a", plugin.endpoint(), timeout, options);
    providers.add(t);
    return t;
  }

  private KmsV2Transformer provider() {
    return provider(KmsProviderOptions.defaults());
  }

  @Test
  void writesTheKubernetesEnvelopeThatAnIndependentReaderOpens() throws Exception {
    KmsV2Transformer kms = provider();
    byte[] stored = Sync.encrypt(kms, PLAINTEXT, AAD);

    EncryptedObject o = EncryptedObject.parseFrom(stored);
    assertEquals("1", o.getKeyID());
    assertEquals(
        EncryptedDEKSourceType.HKDF_SHA256_XNONCE_AES_GCM_SEED, o.getEncryptedDEKSourceType());
    assertEquals(
        Map.of(MockKmsPlugin.ANNOTATION_KEY, MockKmsPlugin.ANNOTATION_VALUE),
        o.getAnnotationsMap());
    // The mock "encrypts" with base64, so the seed is in plain sight: open the data by hand, per
    // the format notes.
    byte[] seed = Base64.getDecoder().decode(o.getEncryptedDEKSource().toByteArray());
    assertEquals(32, seed.length);
    byte[] data = o.getEncryptedData().toByteArray();
    assertEquals(32 + 12 + PLAINTEXT.length + 16, data.length);
    byte[] info = Arrays.copyOf(data, 32);
    SecretKeySpec k = new SecretKeySpec(Hkdf.expandSha256(seed, info, 32), "AES");
    assertArrayEquals(PLAINTEXT, AesGcm.open(k, Arrays.copyOfRange(data, 32, data.length), AAD));
    // ...and with another etcd key as AAD it does not open: the value is bound to its key.
    assertThrows(
        TransformException.class,
        () ->
            AesGcm.open(
                k,
                Arrays.copyOfRange(data, 32, data.length),
                bytes("/registry/secrets/default/other")));
    assertThrows(
        TransformException.class,
        () -> Sync.decrypt(kms, stored, bytes("/registry/secrets/default/other")));

    Decrypted d = Sync.decrypt(kms, stored, AAD);
    assertArrayEquals(PLAINTEXT, d.plaintext());
    assertFalse(d.stale());
    assertTrue(
        plugin.authorities.contains("localhost"),
        "authority seen by the plugin: " + plugin.authorities);
    assertEquals(
        1, plugin.authorities.size(), "authority seen by the plugin: " + plugin.authorities);
  }

  @Test
  void readsMode0ValuesWrittenByKubernetes127() throws Exception {
    KmsV2Transformer kms = provider();
    byte[] dek = new byte[32];
    Arrays.fill(dek, (byte) 7);
    byte[] nonce = new byte[12];
    EncryptedObject o =
        EncryptedObject.newBuilder()
            .setKeyID("1")
            .setEncryptedDEKSource(ByteString.copyFromUtf8(Base64.getEncoder().encodeToString(dek)))
            .setEncryptedData(ByteString.copyFrom(AesGcm.forKey(dek).seal(nonce, PLAINTEXT, AAD)))
            .build(); // type 0 (AES_GCM_KEY) is the proto3 default: the field is absent, as in 1.27
    // data
    Decrypted d = Sync.decrypt(kms, o.toByteArray(), AAD);
    assertArrayEquals(PLAINTEXT, d.plaintext());
    assertTrue(d.stale(), "same key id but another source type than the current writer: stale");
  }

  @Test
  void aThousandWritesCostOneEncryptAndReadsOneDecryptPerDistinctSeed() throws Exception {
    KmsV2Transformer writer = provider();
    assertEquals(1, plugin.encryptCalls.get(), "the seed is encrypted once, at start-up");
    List<byte[]> stored = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      stored.add(Sync.encrypt(writer, bytes("value-" + i), bytes("/registry/secrets/ns/s" + i)));
    }
    assertEquals(1, plugin.encryptCalls.get(), "writes must not call the plugin");
    for (int i = 0; i < 1000; i++) {
      assertArrayEquals(
          bytes("value-" + i),
          Sync.decrypt(writer, stored.get(i), bytes("/registry/secrets/ns/s" + i)).plaintext());
    }
    assertEquals(0, plugin.decryptCalls.get(), "reading our own writes must not call Decrypt");

    CountingObserver counts = new CountingObserver();
    KmsV2Transformer reader = provider(KmsProviderOptions.defaults().withObserver(counts));
    for (int i = 0; i < 1000; i++) {
      assertArrayEquals(
          bytes("value-" + i),
          Sync.decrypt(reader, stored.get(i), bytes("/registry/secrets/ns/s" + i)).plaintext());
    }
    assertEquals(1, plugin.decryptCalls.get(), "a second server decrypts the writer's seed once");
    assertEquals(1, counts.misses.get());
    assertEquals(999, counts.hits.get());
  }

  @Test
  void concurrentMissesForOneSeedShareOneDecrypt() throws Exception {
    KmsV2Transformer writer = provider();
    int reads = 8;
    List<byte[]> stored = new ArrayList<>();
    for (int i = 0; i < reads; i++) {
      stored.add(Sync.encrypt(writer, bytes("v" + i), AAD));
    }
    KmsV2Transformer reader = provider();
    CountDownLatch gate = new CountDownLatch(1);
    plugin.decryptGate = gate;
    try {
      // Every read asks while the plugin holds the first Decrypt: none waits, each gets a stage of
      // its own.
      List<CompletableFuture<Decrypted>> results = new ArrayList<>();
      for (byte[] value : stored) {
        results.add(reader.decrypt(value, AAD).toCompletableFuture());
      }
      Await.until(
          "the first Decrypt to reach the plugin",
          Duration.ofSeconds(10),
          () -> plugin.decryptCalls.get() >= 1);
      assertTrue(
          results.stream().noneMatch(CompletableFuture::isDone),
          "no read can complete before the plugin");
      gate.countDown();
      for (int i = 0; i < reads; i++) {
        assertArrayEquals(bytes("v" + i), Sync.await(results.get(i)).plaintext());
      }
    } finally {
      gate.countDown();
    }
    assertEquals(
        1, plugin.decryptCalls.get(), "concurrent misses for the same seed must share one Decrypt");
  }

  @Test
  void aNewKeyIdRotatesTheSeedAndMarksOldDataStale() throws Exception {
    KmsV2Transformer kms = provider();
    byte[] old = Sync.encrypt(kms, PLAINTEXT, AAD);

    plugin.keyId = "2";
    assertTrue(kms.checkNow().ok());
    assertEquals("2", kms.currentKeyId());
    assertEquals(2, plugin.encryptCalls.get(), "one Encrypt for the new key id's seed");
    byte[] fresh = Sync.encrypt(kms, PLAINTEXT, AAD);
    assertEquals("2", EncryptedObject.parseFrom(fresh).getKeyID());

    Decrypted oldRead = Sync.decrypt(kms, old, AAD);
    assertArrayEquals(PLAINTEXT, oldRead.plaintext());
    assertTrue(oldRead.stale(), "written under key id 1, current is 2");
    assertFalse(Sync.decrypt(kms, fresh, AAD).stale());

    assertTrue(kms.checkNow().ok());
    assertEquals(2, plugin.encryptCalls.get(), "an unchanged key id never makes a new seed");
  }

  @Test
  void anEncryptAnswerWithAnotherKeyIdKeepsThePreviousSeed() throws Exception {
    KmsV2Transformer kms = provider();
    plugin.keyId = "2";
    plugin.encryptKeyIdOverride = "3";
    KmsHealth h = kms.checkNow();
    assertFalse(h.ok());
    assertTrue(h.error().contains("kmsv2 Provider kms-a is not healthy"), h.error());
    assertTrue(h.error().contains("must encrypt with the key its Status reports"), h.error());
    assertEquals("1", kms.currentKeyId());
    assertEquals("1", EncryptedObject.parseFrom(Sync.encrypt(kms, PLAINTEXT, AAD)).getKeyID());
  }

  @Test
  void pluginAnswersThatCannotBeStoredAreRefused() {
    plugin.annotationsOverride = Map.of("Not_A_Domain", ByteString.copyFromUtf8("x"));
    KmsV2Transformer kms = provider();
    assertFalse(kms.health().ok());
    assertTrue(
        kms.health().error().contains("annotation key 'Not_A_Domain'"), kms.health().error());
    assertNull(kms.currentKeyId());
  }

  @Test
  void unhealthyStatusesAreReported() {
    KmsV2Transformer kms = provider();
    plugin.healthz = "disk on fire";
    assertEquals(
        "kmsv2 Provider kms-a is not healthy, error: got unexpected healthz status: disk on fire",
        kms.checkNow().error());
    plugin.healthz = "ok";
    plugin.statusVersion = "v2beta1";
    assertTrue(kms.checkNow().error().contains("KMSv2 API version changed from v2 to v2beta1"));
    plugin.keyId = "";
    assertTrue(kms.checkNow().error().contains("keyID is empty"));
  }

  @Test
  void aSlowPluginHitsTheTimeout() throws Exception {
    KmsV2Transformer writer = provider();
    byte[] stored = Sync.encrypt(writer, PLAINTEXT, AAD);
    KmsV2Transformer reader = provider(KmsProviderOptions.defaults(), Duration.ofMillis(300));
    plugin.delay = Duration.ofSeconds(2);
    KmsPluginException e =
        assertThrows(KmsPluginException.class, () -> Sync.decrypt(reader, stored, AAD));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.code());
    assertTrue(e.getMessage().contains("failed to decrypt DEK"), e.getMessage());
    assertTrue(e.getMessage().contains("timeout of 300 ms"), e.getMessage());
    assertTrue(reader.checkNow().error().contains("DEADLINE_EXCEEDED"));
  }

  @Test
  void whileThePluginIsDownCachedSeedsStillReadAndWritesLastThreeMinutes() throws Exception {
    MutableClock clock = MutableClock.startingNow();
    KmsV2Transformer kms =
        provider(KmsProviderOptions.defaults().withClock(clock), Duration.ofMillis(500));
    byte[] own = Sync.encrypt(kms, PLAINTEXT, AAD);
    KmsV2Transformer other = provider();
    byte[] foreign = Sync.encrypt(other, PLAINTEXT, AAD);

    plugin.stop();
    assertFalse(kms.checkNow().ok());
    assertArrayEquals(
        PLAINTEXT, Sync.decrypt(kms, own, AAD).plaintext(), "the write seed is cached");
    TransformException miss =
        assertThrows(TransformException.class, () -> Sync.decrypt(kms, foreign, AAD));
    assertTrue(miss.getMessage().contains("failed to decrypt DEK"), miss.getMessage());

    clock.advance(Duration.ofMinutes(2));
    assertArrayEquals(
        PLAINTEXT,
        Sync.decrypt(kms, Sync.encrypt(kms, PLAINTEXT, AAD), AAD).plaintext(),
        "writes go on within 3 minutes of the last good Status");

    clock.advance(Duration.ofMinutes(1).plusSeconds(1));
    TransformException refused =
        assertThrows(TransformException.class, () -> Sync.encrypt(kms, PLAINTEXT, AAD));
    assertTrue(refused.getMessage().contains("refuses to write"), refused.getMessage());
    assertTrue(refused.getMessage().contains("expired at"), refused.getMessage());
    assertTrue(refused.getMessage().contains(plugin.endpoint().url()), refused.getMessage());
    assertArrayEquals(
        PLAINTEXT, Sync.decrypt(kms, own, AAD).plaintext(), "reads of cached seeds never expire");

    plugin.restart();
    assertTrue(kms.checkNow().ok());
    assertArrayEquals(
        PLAINTEXT, Sync.decrypt(kms, Sync.encrypt(kms, PLAINTEXT, AAD), AAD).plaintext());
    assertArrayEquals(PLAINTEXT, Sync.decrypt(kms, foreign, AAD).plaintext());
  }

  @Test
  void createdWhileThePluginIsDownItBecomesReadyWhenThePluginComesUp() throws Exception {
    plugin.stop();
    KmsV2Transformer kms =
        provider(
            KmsProviderOptions.defaults()
                .withStatusPollIntervals(Duration.ofSeconds(60), Duration.ofMillis(100)),
            Duration.ofMillis(300));
    assertFalse(kms.health().ok());
    TransformException notYet =
        assertThrows(TransformException.class, () -> Sync.encrypt(kms, PLAINTEXT, AAD));
    assertTrue(notYet.getMessage().contains("cannot write yet"), notYet.getMessage());

    plugin.restart();
    Await.until(
        "the provider to pick up the plugin",
        Duration.ofSeconds(20),
        () -> kms.currentKeyId() != null);
    assertArrayEquals(
        PLAINTEXT, Sync.decrypt(kms, Sync.encrypt(kms, PLAINTEXT, AAD), AAD).plaintext());
  }

  @Test
  void aRestartedPluginServesDecryptsAgain() throws Exception {
    KmsV2Transformer writer = provider();
    byte[] stored = Sync.encrypt(writer, PLAINTEXT, AAD);
    plugin.restart();
    KmsV2Transformer reader = provider();
    assertArrayEquals(PLAINTEXT, Sync.decrypt(reader, stored, AAD).plaintext());
    plugin.restart();
    assertTrue(writer.checkNow().ok(), writer.health().text());
  }

  @Test
  void theUpstreamVectorsOpenThroughTheMockPlugin() throws Exception {
    KmsV2Transformer kms = provider();
    List<FormatVectors.Vector> vectors =
        FormatVectors.load().stream().filter(v -> v.provider().equals("kms-v2")).toList();
    assertEquals(2, vectors.size());
    for (FormatVectors.Vector v : vectors) {
      byte[] prefix = bytes("k8s:enc:kms:v2:" + v.keyName() + ":");
      assertArrayEquals(prefix, Arrays.copyOf(v.stored(), prefix.length), v.id());
      byte[] afterPrefix = Arrays.copyOfRange(v.stored(), prefix.length, v.stored().length);
      Decrypted d = Sync.decrypt(kms, afterPrefix, v.associatedData());
      assertArrayEquals(v.plaintext(), d.plaintext(), v.id());
      assertTrue(d.stale(), v.id() + " was written under key id key-1, the mock's is 1");
    }
  }

  @Test
  void closedProvidersStopPolling() throws Exception {
    KmsV2Transformer kms =
        provider(
            KmsProviderOptions.defaults()
                .withStatusPollIntervals(Duration.ofMillis(50), Duration.ofMillis(50)));
    Await.until("a few polls", Duration.ofSeconds(10), () -> plugin.statusCalls.get() >= 3);
    kms.close(); // returns once a poll that was running has ended
    int after = plugin.statusCalls.get();
    // Six poll intervals without a call: the poller is gone, not merely between polls.
    assertEquals(
        after,
        Await.steady(
            "Status calls after close",
            Duration.ofMillis(300),
            Duration.ofSeconds(10),
            plugin.statusCalls::get),
        "no Status call after close");
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static final class CountingObserver implements KmsObserver {
    final AtomicInteger hits = new AtomicInteger();
    final AtomicInteger misses = new AtomicInteger();

    @Override
    public void dekCacheHit(String provider) {
      hits.incrementAndGet();
    }

    @Override
    public void dekCacheMiss(String provider) {
      misses.incrementAndGet();
    }
  }
}
