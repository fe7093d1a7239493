package io.etcdcrypt.kmsplugin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.KmsObserver;
import io.etcdcrypt.kms.KmsProviderOptions;
import io.etcdcrypt.kms.KmsV1Client;
import io.etcdcrypt.kms.KmsV2Client;
import io.etcdcrypt.kms.KmsV2Transformer;
import io.etcdcrypt.kms.proto.v2.EncryptResponse;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import io.etcdcrypt.kms.proto.v2.StatusResponse;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.JavaProcess;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.SoftHsm;
import io.etcdcrypt.testing.Sync;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bundled plugin with its KEKs on a SoftHSM2 token, run as {@code kms-plugin} in a child JVM
 * (SoftHSM takes its configuration from the environment). Skipped, loudly, only when SoftHSM2 is
 * not installed.
 */
@RealComponents
class Pkcs11KmsPluginTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(5);
  private static final byte[] AAD = "/registry/secrets/default/db".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;

  private String generateKey(SoftHsm hsm, String label) throws Exception {
    Path log = dir.resolve("generate-" + label + ".log");
    try (JavaProcess p =
        JavaProcess.start(
            log,
            hsm.environment(),
            "kms-plugin",
            "generate-key",
            "--pkcs11-config",
            hsm.pkcs11Config().toString(),
            "--pkcs11-pin-file",
            hsm.pinFile().toString(),
            "--pkcs11-key-label-prefix",
            "kek-",
            "--id",
            label)) {
      assertEquals(0, p.waitFor(), p.output());
      assertTrue(p.output().lines().anyMatch(l -> l.strip().equals(label)), p.output());
    }
    return label;
  }

  @Test
  void keksOnATokenWrapUnwrapAndRotate() throws Exception {
    SoftHsm hsm = SoftHsm.create(Files.createDirectory(dir.resolve("hsm")));
    generateKey(hsm, "kek-1");

    Path socket = dir.resolve("plugin.sock");
    KmsEndpoint endpoint = KmsEndpoint.of("unix://" + socket);
    try (JavaProcess plugin =
            JavaProcess.start(
                dir.resolve("plugin.log"),
                hsm.environment(),
                "kms-plugin",
                "--listen",
                endpoint.url(),
                "--pkcs11-config",
                hsm.pkcs11Config().toString(),
                "--pkcs11-pin-file",
                hsm.pinFile().toString(),
                "--pkcs11-key-label-prefix",
                "kek-",
                "--reload-interval",
                "200ms");
        KmsV2Client v2 = new KmsV2Client("hsm", endpoint, TIMEOUT, KmsObserver.NONE);
        KmsV1Client v1 = new KmsV1Client("hsm", endpoint, TIMEOUT, KmsObserver.NONE)) {
      Await.until(
          "the plugin to listen (log: " + dir.resolve("plugin.log") + ")",
          Duration.ofSeconds(60),
          () -> Files.exists(socket) || !plugin.isAlive());
      assertTrue(plugin.isAlive(), plugin.output());

      StatusResponse status = Stages.join(v2.status());
      assertEquals("ok", status.getHealthz(), "a real wrap/unwrap on the token must succeed");
      assertEquals("v2", status.getVersion());
      assertEquals("kek-1", status.getKeyId());

      byte[] seed = new byte[32];
      java.util.Arrays.fill(seed, (byte) 9);
      EncryptResponse wrapped = Stages.join(v2.encrypt(seed));
      assertEquals("kek-1", wrapped.getKeyId());
      assertArrayEquals(seed, Stages.join(v2.decrypt(wrapped.getCiphertext(), "kek-1", Map.of())));
      byte[] v1Cipher = Stages.join(v1.encrypt(seed));
      assertArrayEquals(seed, Stages.join(v1.decrypt(v1Cipher)));

      KmsV2Transformer provider =
          KmsV2Transformer.start("hsm", endpoint, TIMEOUT, KmsProviderOptions.defaults());
      try {
        byte[] stored = Sync.encrypt(provider, "secret".getBytes(StandardCharsets.UTF_8), AAD);
        assertEquals("kek-1", EncryptedObject.parseFrom(stored).getKeyID());

        // Rotation: a second key on the token becomes current at the plugin's next reload.
        generateKey(hsm, "kek-2");
        Await.until(
            "the plugin to see kek-2",
            Duration.ofSeconds(30),
            () -> {
              try {
                return Stages.join(v2.status()).getKeyId().equals("kek-2");
              } catch (TransformException e) {
                return false;
              }
            });
        assertTrue(provider.checkNow().ok(), provider.health().text());
        byte[] fresh = Sync.encrypt(provider, "secret".getBytes(StandardCharsets.UTF_8), AAD);
        assertEquals("kek-2", EncryptedObject.parseFrom(fresh).getKeyID());
        assertTrue(Sync.decrypt(provider, stored, AAD).stale());
        assertArrayEquals(
            seed,
            Stages.join(v2.decrypt(wrapped.getCiphertext(), "kek-1", Map.of())),
            "kek-1 still unwraps");
        assertArrayEquals(seed, Stages.join(v1.decrypt(v1Cipher)));
        assertNotEquals(wrapped.getCiphertext(), Stages.join(v2.encrypt(seed)).getCiphertext());
      } finally {
        provider.close();
      }
      // A supervisor's SIGTERM stops it cleanly, with status 0, and it removes its socket.
      assertEquals(0, plugin.terminate(), plugin.output());
      assertFalse(Files.exists(socket), "the plugin removed the socket it created");
    }
  }
}
