package io.etcdcrypt.kms;

import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;

/**
 * The {@code endpoint} of a KMS provider: a {@code unix://} URL whose path is the plugin's socket, as
 * kube-apiserver reads it. {@code unix:///var/run/kms.sock} is the file {@code /var/run/kms.sock};
 * {@code unix:///@name} is the Linux abstract socket {@code name} (no file; reachable within the network
 * namespace). Note the three slashes: in {@code unix://kms.sock} the name is a host, and the path is empty.
 */
public record KmsEndpoint(String url, String path, boolean abstractNamespace) {

  /**
   * Parses {@code url} exactly as the configuration loader validated it ({@link
   * io.etcdcrypt.config.KmsEndpoint}); the exception says what is wrong and how a valid one looks.
   */
  public static KmsEndpoint parse(String url) {
    io.etcdcrypt.config.KmsEndpoint parsed;
    try {
      parsed = io.etcdcrypt.config.KmsEndpoint.parse(url == null ? "" : url);
    } catch (io.etcdcrypt.config.KmsEndpoint.InvalidEndpointException e) {
      throw new IllegalArgumentException("KMS " + e.getMessage(), e);
    }
    return parsed.isAbstract()
        ? new KmsEndpoint(url, parsed.socketPath().substring(1), true)
        : new KmsEndpoint(url, parsed.socketPath(), false);
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
