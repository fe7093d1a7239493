package io.etcdcrypt.config;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The {@code endpoint} of a KMS provider, read the way kube-apiserver reads it (Go's {@code
 * url.Parse}, then the URL's path is the socket): the scheme must be {@code unix}
 * (case-insensitive); {@code unix:///var/run/kms.sock} names a filesystem socket, {@code
 * unix:///@name} a Linux abstract socket.
 *
 * <p>Like kube-apiserver, a host part is ignored: {@code unix://var/run/kms.sock} connects to
 * {@code /run/kms.sock}. The loader reports that as a warning rather than an error, because
 * kube-apiserver accepts it.
 *
 * <p>This is the one endpoint type: the loader validates with {@link #parse}, the KMS clients, the
 * bundled plugin and the tests connect or bind with what it says ({@code kms.UnixSocketTransport}
 * makes the socket address).
 *
 * @param url the endpoint as written in the configuration
 * @param socketPath the filesystem path, or {@code @name} for an abstract socket (the form Go's
 *     dialer understands)
 * @param host the ignored host part, empty if none
 */
public record KmsEndpoint(String url, String socketPath, String host) {

  /** Thrown with a message that may quote the (non-secret) endpoint. */
  public static final class InvalidEndpointException extends Exception {
    InvalidEndpointException(String message) {
      super(message);
    }
  }

  /** True if this is a Linux abstract-namespace socket ({@code unix:///@name}). */
  public boolean isAbstract() {
    return socketPath.startsWith("@");
  }

  /**
   * Parses an endpoint that was validated already (a loaded configuration, a test's own socket); an
   * invalid one is an IllegalArgumentException that says what is wrong and how a valid one looks.
   */
  public static KmsEndpoint of(String url) {
    try {
      return parse(url == null ? "" : url);
    } catch (InvalidEndpointException e) {
      throw new IllegalArgumentException("KMS " + e.getMessage(), e);
    }
  }

  /** The endpoint of a socket file at {@code path}. */
  public static KmsEndpoint ofFile(java.nio.file.Path path) {
    return of("unix://" + path.toAbsolutePath());
  }

  @Override
  public String toString() {
    return url;
  }

  public static KmsEndpoint parse(String endpoint) throws InvalidEndpointException {
    for (int i = 0; i < endpoint.length(); i++) {
      char c = endpoint.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        throw new InvalidEndpointException("endpoint contains a control character");
      }
    }
    String rest = endpoint;
    int hash = rest.indexOf('#');
    if (hash >= 0) {
      rest = rest.substring(0, hash);
    }
    String scheme = scheme(rest);
    if (scheme == null) {
      throw new InvalidEndpointException(
          "endpoint \"" + endpoint + "\" has no scheme; use unix:///path/to/kms.sock");
    }
    if (!scheme.toLowerCase(Locale.ROOT).equals("unix")) {
      throw new InvalidEndpointException(
          "unsupported scheme \""
              + scheme.toLowerCase(Locale.ROOT)
              + "\" for a KMS endpoint; only unix is supported,"
              + " e.g. unix:///path/to/kms.sock");
    }
    rest = rest.substring(scheme.length() + 1);
    int query = rest.indexOf('?');
    if (query >= 0) {
      rest = rest.substring(0, query);
    }
    String host = "";
    String path;
    if (!rest.startsWith("/")) {
      path = ""; // opaque form "unix:x": Go leaves the path empty
    } else if (rest.startsWith("//")) {
      int slash = rest.indexOf('/', 2);
      host = slash < 0 ? rest.substring(2) : rest.substring(2, slash);
      path = slash < 0 ? "" : rest.substring(slash);
    } else {
      path = rest;
    }
    path = unescape(path, endpoint);
    if (path.isEmpty() || path.equals("/") || path.equals("/@")) {
      throw new InvalidEndpointException(
          "endpoint \""
              + endpoint
              + "\" names no socket (after unix:// comes a host: write three slashes); use"
              + " unix:///absolute/path/to/kms.sock or unix:///@abstract-name");
    }
    String socket = path.startsWith("/@") ? path.substring(1) : path;
    return new KmsEndpoint(endpoint, socket, host);
  }

  /**
   * Go's getScheme: a letter, then letters, digits, '+', '-', '.', up to ':'. Null if there is
   * none.
   */
  private static String scheme(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean letter = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z';
      if (letter) {
        continue;
      }
      if ((c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') && i > 0) {
        continue;
      }
      if (c == ':' && i > 0) {
        return s.substring(0, i);
      }
      return null;
    }
    return null;
  }

  private static String unescape(String path, String endpoint) throws InvalidEndpointException {
    if (path.indexOf('%') < 0) {
      return path;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] in = path.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < in.length; i++) {
      if (in[i] != '%') {
        out.write(in[i]);
        continue;
      }
      if (i + 2 >= in.length
          || Character.digit(in[i + 1], 16) < 0
          || Character.digit(in[i + 2], 16) < 0) {
        throw new InvalidEndpointException("endpoint \"" + endpoint + "\" has an invalid %-escape");
      }
      out.write(Character.digit(in[i + 1], 16) * 16 + Character.digit(in[i + 2], 16));
      i += 2;
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
