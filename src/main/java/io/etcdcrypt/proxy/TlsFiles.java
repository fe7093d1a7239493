package io.etcdcrypt.proxy;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** PEM files for one side of the proxy; every field may be null. */
public record TlsFiles(Path certFile, Path keyFile, Path trustedCaFile) {

  public static final TlsFiles NONE = new TlsFiles(null, null, null);

  public boolean enabled() {
    return certFile != null || keyFile != null || trustedCaFile != null;
  }

  /**
   * Credentials for the client-facing listener. With a trusted CA, clients must present a
   * certificate signed by it, exactly as etcd does with {@code --client-cert-auth} and
   * kube-apiserver expects.
   */
  public ServerCredentials serverCredentials() {
    if (!enabled()) {
      return InsecureServerCredentials.create();
    }
    if (certFile == null && keyFile == null) {
      throw new IllegalArgumentException(
          "--trusted-ca-file needs --cert-file and --key-file: the listener serves TLS with its own"
              + " certificate and key, and the CA only checks the certificates clients present");
    }
    requirePair("--cert-file", "--key-file");
    try {
      TlsServerCredentials.Builder b =
          TlsServerCredentials.newBuilder().keyManager(certFile.toFile(), keyFile.toFile());
      if (trustedCaFile != null) {
        b.trustManager(readable(trustedCaFile, "--trusted-ca-file").toFile());
        b.clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
      }
      return b.build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot load the listener's TLS files: " + e.getMessage(), e);
    }
  }

  /** Credentials toward etcd: a CA to verify members, and optionally a client certificate. */
  public ChannelCredentials channelCredentials() {
    if (!enabled()) {
      return InsecureChannelCredentials.create();
    }
    try {
      TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder();
      if (trustedCaFile != null) {
        b.trustManager(readable(trustedCaFile, "--cacert").toFile());
      }
      if (certFile != null || keyFile != null) {
        requirePair("--cert", "--key");
        b.keyManager(certFile.toFile(), keyFile.toFile());
      }
      return b.build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot load the upstream TLS files: " + e.getMessage(), e);
    }
  }

  private void requirePair(String certFlag, String keyFlag) {
    if (certFile == null) {
      throw new IllegalArgumentException(
          keyFlag + " is given without " + certFlag + ": give the certificate of that key too");
    }
    if (keyFile == null) {
      throw new IllegalArgumentException(
          certFlag + " is given without " + keyFlag + ": give the certificate's private key too");
    }
    readable(certFile, certFlag);
    readable(keyFile, keyFlag);
  }

  private static Path readable(Path p, String flag) {
    if (!Files.isReadable(p)) {
      throw new IllegalArgumentException(flag + " " + p + " does not exist or is not readable");
    }
    return p;
  }
}
