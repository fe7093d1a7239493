package io.etcdcrypt.kmsplugin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.KmsApiVersion;
import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.crypto.Decrypted;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.KmsObserver;
import io.etcdcrypt.kms.KmsPluginException;
import io.etcdcrypt.kms.KmsProvider;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.kms.KmsV1Client;
import io.etcdcrypt.kms.KmsV2Client;
import io.etcdcrypt.kms.KmsV2Transformer;
import io.etcdcrypt.kms.proto.v2.EncryptResponse;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import io.etcdcrypt.kms.proto.v2.StatusResponse;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.KmsPluginFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.Sync;
import io.grpc.Status;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bundled plugin, in-process on a real unix socket, driven by the project's own KMS clients and
 * providers.
 */
@RealComponents
class KmsPluginServerTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(3);
  private static final byte[] AAD = "/registry/secrets/default/db".getBytes(StandardCharsets.UTF_8);
  private static final byte[] SEED = new byte[32];

  @TempDir Path dir;
  private KmsPluginFixture plugin;
  private KmsV2Client v2;
  private KmsV1Client v1;

  @BeforeEach
  void start() throws Exception {
    plugin = KmsPluginFixture.start(dir);
    v2 = new KmsV2Client("bundled", plugin.endpoint(), TIMEOUT, KmsObserver.NONE);
    v1 = new KmsV1Client("bundled", plugin.endpoint(), TIMEOUT, KmsObserver.NONE);
  }

  @AfterEach
  void stop() {
    v1.close();
    v2.close();
    plugin.close();
  }

  @Test
  void statusReportsTheCurrentKekAfterARealRoundTrip() throws Exception {
    StatusResponse s = Stages.join(v2.status());
    assertEquals("v2", s.getVersion());
    assertEquals("ok", s.getHealthz());
    assertEquals("kek-1", s.getKeyId());
  }

  @Test
  void v2EncryptAndDecryptRoundTrip() throws Exception {
    EncryptResponse r = Stages.join(v2.encrypt(SEED));
    assertEquals("kek-1", r.getKeyId());
    assertTrue(r.getCiphertext().size() <= 1024);
    assertEquals(WrappedKey.VERSION, r.getCiphertext().byteAt(0));
    assertArrayEquals(SEED, Stages.join(v2.decrypt(r.getCiphertext(), r.getKeyId(), Map.of())));

    KmsPluginException wrongId =
        assertThrows(
            KmsPluginException.class,
            () -> Stages.join(v2.decrypt(r.getCiphertext(), "kek-9", Map.of())));
    assertEquals(Status.Code.INVALID_ARGUMENT, wrongId.code());

    byte[] tampered = r.getCiphertext().toByteArray();
    tampered[tampered.length - 1] ^= 1;
    KmsPluginException e =
        assertThrows(
            KmsPluginException.class,
            () -> Stages.join(v2.decrypt(ByteString.copyFrom(tampered), "kek-1", Map.of())));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
    assertTrue(e.getMessage().contains("message authentication failed"), e.getMessage());
  }

  @Test
  void v1IsServedOnTheSameSocket() throws Exception {
    byte[] cipher = Stages.join(v1.encrypt(SEED));
    assertArrayEquals(SEED, Stages.join(v1.decrypt(cipher)));
    assertArrayEquals(
        SEED,
        Stages.join(v2.decrypt(ByteString.copyFrom(cipher), "kek-1", Map.of())),
        "both APIs share the wrap format and KEKs");
  }

  @Test
  void addingAKekToTheFileRotatesWithoutARestart() throws Exception {
    EncryptResponse old = Stages.join(v2.encrypt(SEED));
    byte[] oldV1 = Stages.join(v1.encrypt(SEED));
    plugin.addKek("kek-2");
    Await.until(
        "the plugin to reload its key file",
        Duration.ofSeconds(10),
        () -> {
          try {
            return Stages.join(v2.status()).getKeyId().equals("kek-2");
          } catch (TransformException e) {
            return false;
          }
        });
    EncryptResponse fresh = Stages.join(v2.encrypt(SEED));
    assertEquals("kek-2", fresh.getKeyId());
    assertArrayEquals(
        SEED,
        Stages.join(v2.decrypt(old.getCiphertext(), "kek-1", Map.of())),
        "old KEKs still unwrap");
    assertArrayEquals(SEED, Stages.join(v1.decrypt(oldV1)));
  }

  @Test
  void aRemovedKekIsReportedAsSuch() throws Exception {
    EncryptResponse old = Stages.join(v2.encrypt(SEED));
    plugin.addKek("kek-2");
    String content = Files.readString(plugin.keyFile());
    Files.writeString(
        plugin.keyFile(),
        content.lines().filter(l -> !l.startsWith("kek-1:")).reduce("", (a, b) -> a + b + "\n"));
    Await.until(
        "the plugin to drop kek-1",
        Duration.ofSeconds(10),
        () -> plugin.currentKekId().equals("kek-2"));
    Await.until(
        "the ring to lose kek-1",
        Duration.ofSeconds(10),
        () -> {
          try {
            Stages.join(v2.decrypt(old.getCiphertext(), "kek-1", Map.of()));
            return false;
          } catch (TransformException e) {
            return e instanceof KmsPluginException k
                && k.code() == Status.Code.FAILED_PRECONDITION
                && e.getMessage().contains("KEK kek-1 is not in");
          }
        });
  }

  @Test
  void aBrokenKeyFileKeepsThePreviousKeks() throws Exception {
    Files.writeString(
        plugin.keyFile(), "kek-2: not-base64!\n", java.nio.file.StandardOpenOption.APPEND);
    Await.until(
        "the plugin to re-read the broken key file and reject it",
        Duration.ofSeconds(10),
        () -> plugin.failedReloads() > 0);
    StatusResponse s = Stages.join(v2.status());
    assertEquals("kek-1", s.getKeyId());
    assertEquals("ok", s.getHealthz());
  }

  @Test
  void kmsV2AndV1ProvidersWorkAgainstTheBundledPlugin() throws Exception {
    try (KmsProviders kms = new KmsProviders()) {
      KmsProvider p2 =
          kms.create(
              new ProviderConfig.Kms(
                  KmsApiVersion.V2, "bundled", plugin.endpoint().url(), 0, TIMEOUT));
      KmsProvider p1 =
          kms.create(
              new ProviderConfig.Kms(
                  KmsApiVersion.V1, "bundled-v1", plugin.endpoint().url(), 1000, TIMEOUT));
      assertTrue(p2.health().ok(), p2.health().text());
      assertTrue(p1.health().ok(), p1.health().text());
      byte[] plaintext = "secret".getBytes(StandardCharsets.UTF_8);
      byte[] s2 = Sync.encrypt(p2, plaintext, AAD);
      assertEquals("kek-1", EncryptedObject.parseFrom(s2).getKeyID());
      assertArrayEquals(plaintext, Sync.decrypt(p2, s2, AAD).plaintext());
      assertArrayEquals(
          plaintext, Sync.decrypt(p1, Sync.encrypt(p1, plaintext, AAD), AAD).plaintext());

      plugin.addKek("kek-2");
      Await.until(
          "the plugin to reload",
          Duration.ofSeconds(10),
          () -> plugin.currentKekId().equals("kek-2"));
      assertTrue(((KmsV2Transformer) p2).checkNow().ok());
      byte[] s2b = Sync.encrypt(p2, plaintext, AAD);
      assertEquals("kek-2", EncryptedObject.parseFrom(s2b).getKeyID());
      Decrypted old = Sync.decrypt(p2, s2, AAD);
      assertTrue(old.stale());
      assertFalse(Sync.decrypt(p2, s2b, AAD).stale());
    }
  }

  @Test
  void aSecondPluginOnASocketInUseIsRefusedAndTheFirstServesOn() throws Exception {
    Path other = Files.createDirectory(dir.resolve("second"));
    IOException e =
        assertThrows(IOException.class, () -> KmsPluginFixture.start(other, plugin.endpoint()));
    assertTrue(e.getMessage().contains("another process is serving on it"), e.getMessage());
    assertTrue(e.getMessage().contains(plugin.endpoint().socketPath()), e.getMessage());
    assertEquals("ok", Stages.join(v2.status()).getHealthz(), "the first plugin still answers");
    assertTrue(Files.exists(Path.of(plugin.endpoint().socketPath())));
  }

  @Test
  void connectionsLogNoUnknownChannelOption() throws Exception {
    // grpc-java sets TCP keep-alive on every channel: Netty warned once per unix-socket connection,
    // on both sides.
    ch.qos.logback.classic.Logger netty =
        (ch.qos.logback.classic.Logger)
            org.slf4j.LoggerFactory.getLogger("io.grpc.netty.shaded.io.netty.bootstrap");
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logged =
        new ch.qos.logback.core.read.ListAppender<>();
    logged.start();
    netty.addAppender(logged);
    try (KmsV2Client fresh =
        new KmsV2Client("fresh", plugin.endpoint(), TIMEOUT, KmsObserver.NONE)) {
      assertEquals("ok", Stages.join(fresh.status()).getHealthz());
    } finally {
      netty.detachAppender(logged);
    }
    assertTrue(
        logged.list.stream().noneMatch(e -> e.getFormattedMessage().contains("channel option")),
        () -> logged.list.toString());
  }

  @Test
  void aStaleSocketFileIsReplaced() throws Exception {
    Path socket = dir.resolve("stale.sock");
    // A socket nobody listens on any more: what a plugin that was killed leaves behind.
    try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      dead.bind(UnixDomainSocketAddress.of(socket));
    }
    assertTrue(Files.exists(socket));
    KmsEndpoint endpoint = KmsEndpoint.of("unix://" + socket);
    Path other = Files.createDirectory(dir.resolve("stale"));
    try (KmsPluginFixture p = KmsPluginFixture.start(other, endpoint);
        KmsV2Client client = new KmsV2Client("stale", endpoint, TIMEOUT, KmsObserver.NONE)) {
      assertEquals("ok", Stages.join(client.status()).getHealthz());
    }
  }

  @Test
  void theBundledPluginServesAbstractSockets() throws Exception {
    Path other = Files.createDirectory(dir.resolve("abstract"));
    KmsEndpoint endpoint = KmsEndpoint.of("unix:///@etcd-crypt-plugin-" + UUID.randomUUID());
    try (KmsPluginFixture p = KmsPluginFixture.start(other, endpoint);
        KmsV2Client client = new KmsV2Client("abstract", endpoint, TIMEOUT, KmsObserver.NONE)) {
      assertEquals("ok", Stages.join(client.status()).getHealthz());
    }
  }

  @Test
  void aProviderNeverSeesKeyMaterialInErrors() {
    TransformException e =
        assertThrows(
            TransformException.class,
            () ->
                Stages.join(
                    v2.decrypt(
                        ByteString.copyFrom(new byte[] {1, 5, 'k', 'e', 'k', '-', '1'}),
                        "kek-1",
                        Map.of())));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    String keyFile = assertDoesNotThrowRead(plugin.keyFile());
    String base64Key =
        keyFile
            .lines()
            .filter(l -> l.startsWith("kek-1:"))
            .findFirst()
            .orElseThrow()
            .substring("kek-1:".length())
            .strip();
    assertFalse(e.getMessage().contains(base64Key));
  }

  private static String assertDoesNotThrowRead(Path p) {
    try {
      return Files.readString(p);
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }
}
