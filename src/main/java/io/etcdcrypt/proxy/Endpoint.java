package io.etcdcrypt.proxy;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/**
 * One etcd member address as written in {@code --endpoints}: {@code host:port}, {@code
 * http://host:port} or {@code https://host:port}. The scheme only documents intent; whether TLS is
 * used follows the TLS flags, as with etcdctl.
 */
public record Endpoint(String host, int port) {

  public static Endpoint parse(String text) {
    String s = text.trim();
    if (s.isEmpty()) {
      throw new IllegalArgumentException("empty endpoint in the list");
    }
    if (!s.contains("://")) {
      s = "tcp://" + s;
    }
    URI uri;
    try {
      uri = URI.create(s);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "endpoint '" + text + "' is not host:port or http(s)://host:port", e);
    }
    String scheme = uri.getScheme();
    if (!List.of("tcp", "http", "https").contains(scheme)) {
      throw new IllegalArgumentException(
          "endpoint '"
              + text
              + "' has scheme '"
              + scheme
              + "'; use host:port, http:// or https://");
    }
    if (uri.getHost() == null || uri.getPort() < 0) {
      throw new IllegalArgumentException("endpoint '" + text + "' needs both a host and a port");
    }
    if (uri.getPath() != null && !uri.getPath().isEmpty() && !uri.getPath().equals("/")) {
      throw new IllegalArgumentException("endpoint '" + text + "' must not have a path");
    }
    return new Endpoint(uri.getHost(), uri.getPort());
  }

  /** Parses a comma-separated list, as {@code --endpoints} takes it. */
  public static List<Endpoint> parseList(String commaList) {
    List<Endpoint> out = new ArrayList<>();
    for (String part : commaList.split(",")) {
      if (!part.isBlank()) {
        out.add(parse(part));
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("--endpoints lists no etcd member");
    }
    return List.copyOf(out);
  }

  /** Parses a listen address {@code host:port}; the host may be an IPv6 literal in brackets. */
  public static Endpoint parseListen(String text) {
    return parse(text);
  }

  @Override
  public String toString() {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
