package io.etcdcrypt.kms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.config.KmsApiVersion;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.crypto.PrefixTransformers;
import io.etcdcrypt.crypto.ProviderChains;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.testing.MockKmsPlugin;
import io.etcdcrypt.testing.MutableClock;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.Sync;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@RealComponents
class KmsProvidersTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(3);
  private static final byte[] AAD = "/registry/secrets/ns/a".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;
  private MockKmsPlugin plugin;

  @BeforeEach
  void start() throws Exception {
    plugin = MockKmsPlugin.start(dir.resolve("kms.sock"));
  }

  @AfterEach
  void stop() {
    plugin.close();
  }

  private ProviderConfig.Kms config(KmsApiVersion version, String name) {
    return new ProviderConfig.Kms(
        version, name, plugin.endpoint().url(), version == KmsApiVersion.V1 ? 1000 : 0, TIMEOUT);
  }

  @Test
  void picksTheProviderByApiVersionAndClosesThemAll() throws Exception {
    KmsProviders kms = new KmsProviders();
    KmsProvider v2 = kms.create(config(KmsApiVersion.V2, "a"));
    KmsProvider v1 = kms.create(config(KmsApiVersion.V1, "b"));
    assertInstanceOf(KmsV2Transformer.class, v2);
    assertInstanceOf(KmsV1Transformer.class, v1);
    assertSame(v2, kms.create(config(KmsApiVersion.V2, "a")), "the same entry shares one provider");
    assertEquals(List.of(v2, v1), kms.providers());

    kms.close();
    int polls = plugin.statusCalls.get();
    assertThrows(TransformException.class, () -> kms.create(config(KmsApiVersion.V2, "c")));
    assertThrows(
        TransformException.class,
        () -> Sync.encrypt(v2, new byte[1], AAD),
        "a closed provider's channel is shut down");
    assertEquals(polls, plugin.statusCalls.get());
  }

  @Test
  void configurationErrorsAreTransformExceptions() {
    try (KmsProviders kms = new KmsProviders()) {
      TransformException badEndpoint =
          assertThrows(
              TransformException.class,
              () ->
                  kms.create(
                      new ProviderConfig.Kms(
                          KmsApiVersion.V2, "x", "unix://relative.sock", 0, TIMEOUT)));
      assertTrue(badEndpoint.getMessage().contains("three slashes"), badEndpoint.getMessage());
      assertThrows(
          TransformException.class,
          () ->
              kms.create(
                  new ProviderConfig.Kms(
                      KmsApiVersion.V1, "x", plugin.endpoint().url(), 0, TIMEOUT)));
    }
  }

  @Test
  void theCryptoChainAddsTheKmsPrefix() throws Exception {
    try (KmsProviders kms = new KmsProviders()) {
      PrefixTransformers chain =
          ProviderChains.forProviders(List.of(config(KmsApiVersion.V2, "my-kms")), kms);
      byte[] stored = Sync.encrypt(chain, "x".getBytes(StandardCharsets.UTF_8), AAD);
      assertTrue(
          new String(stored, StandardCharsets.ISO_8859_1).startsWith("k8s:enc:kms:v2:my-kms:\n"));
      assertArrayEquals(
          "x".getBytes(StandardCharsets.UTF_8), Sync.decrypt(chain, stored, AAD).plaintext());
    }
  }

  @Test
  void healthIsCachedTwentySecondsWhenOkAndThreeWhenFailing() throws Exception {
    MutableClock clock = MutableClock.startingNow();
    try (KmsProviders kms = new KmsProviders(KmsProviderOptions.defaults().withClock(clock))) {
      KmsProvider p = kms.create(config(KmsApiVersion.V2, "a"));
      int calls = plugin.statusCalls.get();
      assertTrue(p.health().ok());
      assertEquals(calls, plugin.statusCalls.get(), "the start-up check is reused");
      clock.advance(Duration.ofSeconds(19));
      p.health();
      assertEquals(calls, plugin.statusCalls.get());
      clock.advance(Duration.ofSeconds(2));
      plugin.failing = true;
      assertFalse(p.health().ok());
      assertEquals(calls + 1, plugin.statusCalls.get());
      plugin.failing = false;
      clock.advance(Duration.ofSeconds(2));
      assertFalse(p.health().ok(), "a failure is reused for 3 s");
      clock.advance(Duration.ofSeconds(2));
      assertTrue(p.health().ok());
      assertEquals(calls + 2, plugin.statusCalls.get());
    }
  }

  @Test
  void theObserverSeesPluginCallsCacheUseAndKeyIds() throws Exception {
    List<String> events = new CopyOnWriteArrayList<>();
    KmsObserver observer =
        new KmsObserver() {
          @Override
          public void pluginCall(String provider, String fullMethod, Status.Code code, long nanos) {
            events.add(provider + " " + fullMethod + " " + code);
          }

          @Override
          public void keyIdUsed(String provider, Direction direction, String keyId) {
            events.add(provider + " " + direction + " " + keyId);
          }

          @Override
          public void statusKeyId(String provider, String keyId) {
            events.add(provider + " status " + keyId);
          }
        };
    try (KmsProviders kms =
        new KmsProviders(KmsProviderOptions.defaults().withObserver(observer))) {
      KmsProvider p = kms.create(config(KmsApiVersion.V2, "a"));
      Sync.decrypt(p, Sync.encrypt(p, new byte[] {1}, AAD), AAD);
    }
    assertEquals(
        List.of(
            "a /v2.KeyManagementService/Status OK",
            "a status 1",
            "a /v2.KeyManagementService/Encrypt OK",
            "a TO_STORAGE 1",
            "a FROM_STORAGE 1"),
        events);
  }
}
