package io.etcdcrypt.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class KmsEndpointTest {

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "unix:///var/run/kms.sock, /var/run/kms.sock, ''",
    "UNIX:///var/run/kms.sock, /var/run/kms.sock, ''",
    "unix:/var/run/kms.sock, /var/run/kms.sock, ''",
    "unix:///tmp/my%20kms.sock, /tmp/my kms.sock, ''",
    "unix:///tmp/kms.sock?x=1#frag, /tmp/kms.sock, ''",
    "unix://var/run/kms.sock, /run/kms.sock, var",
    "unix:///@kms-plugin, @kms-plugin, ''",
  })
  void socketPathIsTheUrlPath(String endpoint, String socket, String host) throws Exception {
    KmsEndpoint parsed = KmsEndpoint.parse(endpoint);
    assertEquals(socket, parsed.socketPath());
    assertEquals(host, parsed.host());
  }

  @Test
  void abstractSockets() throws Exception {
    assertTrue(KmsEndpoint.parse("unix:///@kms").isAbstract());
    assertFalse(KmsEndpoint.parse("unix:///kms").isAbstract());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "/var/run/kms.sock",
        "tcp://127.0.0.1:9000",
        "http://x/y",
        "unix:",
        "unix://",
        "unix://host",
        "unix:relative.sock",
        "unix:///@",
        "unix:///bad%zzescape",
        "unix:///a\nb",
        ":///x",
        "1unix:///x"
      })
  void rejects(String endpoint) {
    assertThrows(KmsEndpoint.InvalidEndpointException.class, () -> KmsEndpoint.parse(endpoint));
  }
}
