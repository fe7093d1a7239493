package io.etcdcrypt.kms;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.testing.MockKmsPlugin;
import io.etcdcrypt.testing.RealComponents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@RealComponents
class KmsEndpointTest {

  @TempDir Path dir;

  @Test
  void parsesKubernetesEndpoints() {
    KmsEndpoint file = KmsEndpoint.of("unix:///var/run/kms/plugin.sock");
    assertEquals("/var/run/kms/plugin.sock", file.socketPath());
    assertEquals("/var/run/kms/plugin.sock", UnixSocketTransport.address(file).path());
    assertFalse(file.isAbstract());
    KmsEndpoint abstractSocket = KmsEndpoint.of("unix:///@kms-plugin");
    assertEquals("@kms-plugin", abstractSocket.socketPath());
    assertTrue(abstractSocket.isAbstract());
    assertEquals("\0kms-plugin", UnixSocketTransport.address(abstractSocket).path());
  }

  @Test
  void rejectsWhatKubernetesRejects() {
    for (String bad :
        new String[] {
          "", "tcp://127.0.0.1:80", "unix://plugin.sock", "unix:///", "/var/run/x.sock", "unix:///@"
        }) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> KmsEndpoint.of(bad), bad);
      assertTrue(e.getMessage().contains("unix://"), e.getMessage());
    }
  }

  @Test
  void abstractSocketsWork() throws Exception {
    KmsEndpoint endpoint = KmsEndpoint.of("unix:///@etcd-crypt-test-" + UUID.randomUUID());
    try (MockKmsPlugin plugin = MockKmsPlugin.startAt(endpoint);
        KmsV2Client client =
            new KmsV2Client("abstract", endpoint, Duration.ofSeconds(3), KmsObserver.NONE)) {
      assertEquals("1", client.status().join().getKeyId());
      assertEquals(1, plugin.statusCalls.get());
    }
  }

  @Test
  void aStaleSocketFileIsReplacedButOtherFilesAreNot() throws Exception {
    Path socket = dir.resolve("kms.sock");
    MockKmsPlugin first = MockKmsPlugin.start(socket);
    first.close();
    java.nio.file.Files.createFile(socket); // a regular file where the socket would go
    assertThrows(java.io.IOException.class, () -> MockKmsPlugin.start(socket));
  }
}
