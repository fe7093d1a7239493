package io.etcdcrypt.observe;

import com.google.common.io.BaseEncoding;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * The {@code apiserver_id_hash} label of the KMS metrics. kube-apiserver derives its id from the
 * host name: {@code apiserver-} + lowercase unpadded base32 of the first 16 bytes of SHA-256 over
 * the length-prefixed (u16, big-endian) host name and component name; the label is {@code
 * sha256:<hex>} of that id. The proxy computes it the same way from its own host name.
 */
final class ApiServerId {

  private ApiServerId() {}

  /** The id kube-apiserver would have on {@code hostname}. */
  static String forHost(String hostname) {
    byte[] host = hostname.getBytes(StandardCharsets.UTF_8);
    byte[] component = MetricNames.APISERVER_ID_COMPONENT.getBytes(StandardCharsets.UTF_8);
    ByteBuffer input = ByteBuffer.allocate(4 + host.length + component.length);
    input.putShort((short) host.length).put(host).putShort((short) component.length).put(component);
    byte[] digest = sha256(input.array());
    return "apiserver-"
        + BaseEncoding.base32().lowerCase().omitPadding().encode(Arrays.copyOf(digest, 16));
  }

  /**
   * {@code sha256:<hex>} of {@code value}; empty for an empty value (the hash format of every id
   * label).
   */
  static String hash(String value) {
    return value.isEmpty()
        ? ""
        : "sha256:" + HexFormat.of().formatHex(sha256(value.getBytes(StandardCharsets.UTF_8)));
  }

  /**
   * The kernel's host name, as Go's os.Hostname reads it; the resolver's answer where /proc is
   * missing.
   */
  static String localHostname() {
    try {
      return Files.readString(Path.of("/proc/sys/kernel/hostname"), StandardCharsets.UTF_8).strip();
    } catch (IOException | RuntimeException e) {
      try {
        return InetAddress.getLocalHost().getHostName();
      } catch (IOException unknown) {
        return "localhost";
      }
    }
  }

  private static byte[] sha256(byte[] input) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(input);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
