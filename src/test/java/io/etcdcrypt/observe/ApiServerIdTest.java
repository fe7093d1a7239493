package io.etcdcrypt.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ApiServerIdTest {

  /**
   * kube-apiserver's integration tests run with host name testAPIServerID and expect this
   * apiserver_id_hash.
   */
  @Test
  void matchesKubeApiServersIdForTheSameHostName() {
    String id = ApiServerId.forHost("testAPIServerID");
    assertEquals(
        "sha256:3c607df3b2bf22c9d9f01d5314b4bbf411c48ef43ff44ff29b1d55b41367c795",
        ApiServerId.hash(id));
    assertEquals(kubeApiServerId("testAPIServerID"), id);
  }

  @Test
  void hashesAsUpstreamLabelsThem() {
    assertEquals("", ApiServerId.hash(""));
    // sha256("1"), the key_id_hash upstream's tests expect for key id "1"
    assertEquals(
        "sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b",
        ApiServerId.hash("1"));
  }

  /**
   * An independent rendering of the formula: base32 (RFC 4648 alphabet, lowercase, no padding) by
   * hand.
   */
  static String kubeApiServerId(String host) {
    try {
      byte[] h = host.getBytes(StandardCharsets.UTF_8);
      byte[] c = "kube-apiserver".getBytes(StandardCharsets.UTF_8);
      ByteBuffer in = ByteBuffer.allocate(4 + h.length + c.length);
      in.putShort((short) h.length).put(h).putShort((short) c.length).put(c);
      byte[] first16 = Arrays.copyOf(MessageDigest.getInstance("SHA-256").digest(in.array()), 16);
      String alphabet = "abcdefghijklmnopqrstuvwxyz234567";
      StringBuilder out = new StringBuilder("apiserver-");
      int buffer = 0;
      int bits = 0;
      for (byte b : first16) {
        buffer = (buffer << 8) | (b & 0xff);
        bits += 8;
        while (bits >= 5) {
          out.append(alphabet.charAt((buffer >> (bits - 5)) & 31));
          bits -= 5;
        }
      }
      if (bits > 0) {
        out.append(alphabet.charAt((buffer << (5 - bits)) & 31));
      }
      return out.toString();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
