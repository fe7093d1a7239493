package io.etcdcrypt.kms;

import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;

/**
 * The {@code endpoint} of a KMS provider: a {@code unix://} URL whose path is the plugin's socket, as
 * kube-apiserver reads it. {@code unix:///var/run/kms.sock} is the file {@code /var/run/kms.sock};
 * {@code unix:///@name} is the Linux abstract socket {@code name} (no file; reachable within the network
 * namespace). Note the three slashes: in {@code unix://kms.sock} the name is a host, and the path is empty.
 */
public record KmsEndpoint(String url, String path, boolean abstractNamespace) {

  /** Parses {@code url}; the message of the exception says what is wrong and how a valid one looks. */
  public static KmsEndpoint parse(String url) {
    if (url == null || url.isBlank()) {
      throw new IllegalArgumentException("KMS endpoint is empty; expected unix:///path/to/plugin.sock");
    }
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(
          "KMS endpoint '" + url + "' is not a valid URL (" + e.getReason() + "); expected unix:///path/to/plugin.sock");
    }
    if (!"unix".equals(uri.getScheme())) {
      throw new IllegalArgumentException(
          "KMS endpoint '" + url + "' must use the unix scheme, e.g. unix:///var/run/kms-plugin.sock");
    }
    String path = uri.getPath();
    if (path == null || path.isEmpty() || path.equals("/")) {
      throw new IllegalArgumentException(
          "KMS endpoint '" + url + "' has no socket path; write three slashes: unix:///path/to/plugin.sock");
    }
    if (path.startsWith("/@")) {
      if (path.length() == 2) {
        throw new IllegalArgumentException("KMS endpoint '" + url + "' names an empty abstract socket");
      }
      return new KmsEndpoint(url, path.substring(2), true);
    }
    return new KmsEndpoint(url, path, false);
  }

  /** The netty address to connect or bind to; an abstract name is passed with its leading NUL byte. */
  public DomainSocketAddress socketAddress() {
    return new DomainSocketAddress(abstractNamespace ? "\0" + path : path);
  }

  @Override
  public String toString() {
    return url;
  }
}
