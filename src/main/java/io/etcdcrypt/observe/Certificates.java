package io.etcdcrypt.observe;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;

/** Reads what the expiry metric needs from the certificate files the proxy loads. */
final class Certificates {

  private Certificates() {}

  /**
   * The notAfter of the first certificate in a PEM (or DER) file: the leaf, in the order TLS
   * libraries expect a chain file.
   */
  static Instant notAfter(Path certFile) throws IOException {
    try (InputStream in = Files.newInputStream(certFile)) {
      X509Certificate leaf =
          (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
      return leaf.getNotAfter().toInstant();
    } catch (CertificateException e) {
      throw new IOException(
          certFile + " holds no readable X.509 certificate: " + e.getMessage(), e);
    }
  }
}
