package io.etcdcrypt.bench;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A throw-away PKI made with {@code openssl}: one CA and EC P-256 leaves for 127.0.0.1/localhost,
 * each good for server and client authentication, as etcd, the proxy and kube-apiserver take them
 * (PKCS#8 keys).
 */
final class KubePki {

  record Leaf(Path cert, Path key) {}

  private final Path dir;
  final Path caCert;
  private final Path caKey;

  KubePki(Path dir) throws IOException, InterruptedException {
    this.dir = Files.createDirectories(dir);
    this.caCert = dir.resolve("ca.crt");
    this.caKey = dir.resolve("ca.key");
    newKey(caKey, caCert, "/CN=bench-ca", "-x509", "-days", "90");
  }

  /** A leaf signed by the CA; {@code organization} (may be null) is kube-apiserver's group. */
  Leaf issue(String name, String organization) throws IOException, InterruptedException {
    Leaf leaf = new Leaf(dir.resolve(name + ".crt"), dir.resolve(name + ".key"));
    Path csr = dir.resolve(name + ".csr");
    Path ext = dir.resolve(name + ".ext");
    Files.writeString(
        ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
    String subject = (organization == null ? "" : "/O=" + organization) + "/CN=" + name;
    newKey(leaf.key(), csr, subject);
    openssl(
        "x509",
        "-req",
        "-in",
        csr.toString(),
        "-CA",
        caCert.toString(),
        "-CAkey",
        caKey.toString(),
        "-set_serial",
        "" + System.nanoTime(),
        "-days",
        "30",
        "-extfile",
        ext.toString(),
        "-out",
        leaf.cert().toString());
    return leaf;
  }

  /** A TLS context that presents {@code client} and trusts only the CA. */
  SSLContext clientContext(Leaf client) throws IOException, GeneralSecurityException {
    CertificateFactory x509 = CertificateFactory.getInstance("X.509");
    Certificate ca = x509.generateCertificate(new ByteArrayInputStream(Files.readAllBytes(caCert)));
    Certificate cert =
        x509.generateCertificate(new ByteArrayInputStream(Files.readAllBytes(client.cert())));
    PrivateKey key =
        KeyFactory.getInstance("EC")
            .generatePrivate(new PKCS8EncodedKeySpec(pemBody(client.key())));
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setKeyEntry("client", key, new char[0], new Certificate[] {cert});
    ks.setCertificateEntry("ca", ca);
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, new char[0]);
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", ca);
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return ctx;
  }

  private static byte[] pemBody(Path file) throws IOException {
    String pem = Files.readString(file);
    if (!pem.contains("-----BEGIN PRIVATE KEY-----")) {
      throw new IOException(file + " is not a PKCS#8 private key");
    }
    return Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
  }

  /**
   * {@code openssl req}: a new P-256 key into {@code key}, and a request (or with -x509 a
   * certificate).
   */
  private void newKey(Path key, Path out, String subject, String... more)
      throws IOException, InterruptedException {
    List<String> args =
        new ArrayList<>(
            List.of("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"));
    args.addAll(List.of("-keyout", key.toString(), "-out", out.toString(), "-subj", subject));
    args.addAll(List.of(more));
    openssl(args.toArray(String[]::new));
  }

  private void openssl(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IOException("openssl " + String.join(" ", args) + " failed:\n" + out);
    }
  }
}
