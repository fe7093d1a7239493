package io.etcdcrypt.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throw-away certificate authority writing PEM files: a CA, and leaf certificates for
 * 127.0.0.1/localhost usable as server and client certificates, as etcd and kube-apiserver
 * deployments have them.
 */
public final class TestPki {

  private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

  /**
   * How long certificates are valid by default: past the 30 days {@code serve} warns about, so that
   * only the tests about expiry see that warning.
   */
  public static final Duration VALIDITY = Duration.ofDays(90);

  private final Path dir;
  private final String caName;
  private final KeyPair caKeys;
  private final X509Certificate caCert;

  /** The PEM files of one leaf. */
  public record Leaf(Path cert, Path key) {

    /** The certificate, read from {@link #cert()}. */
    public X509Certificate certificate() {
      try (InputStream in = Files.newInputStream(cert)) {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (CertificateException e) {
        throw new IllegalStateException(e);
      }
    }

    public BigInteger serial() {
      return certificate().getSerialNumber();
    }

    public Instant notAfter() {
      return certificate().getNotAfter().toInstant();
    }
  }

  public TestPki(Path dir, String caName) {
    this.dir = dir;
    this.caName = caName;
    try {
      caKeys = newKeyPair();
      X500Name name = new X500Name("CN=" + caName);
      Instant now = Instant.now();
      X509v3CertificateBuilder b =
          builder(
              name, name, caKeys.getPublic(), now.minus(Duration.ofHours(1)), now.plus(VALIDITY));
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
      caCert = sign(b, caKeys.getPrivate());
      write(dir.resolve(caName + ".crt"), caCert);
    } catch (Exception e) {
      throw new IllegalStateException("cannot create test CA", e);
    }
  }

  public Path caCert() {
    return dir.resolve(caName + ".crt");
  }

  /** A certificate for 127.0.0.1 and localhost, valid for both server and client authentication. */
  public Leaf issue(String commonName) {
    return issue(commonName, null);
  }

  /**
   * {@link #issue(String)} with an organisation in the subject: kube-apiserver reads it as the
   * user's group ({@code system:masters} is a cluster admin).
   */
  public Leaf issue(String commonName, String organization) {
    Instant now = Instant.now();
    return issue(
        commonName,
        organization,
        now.minus(Duration.ofHours(1)),
        now.plus(VALIDITY),
        "IP:127.0.0.1",
        "DNS:localhost");
  }

  /**
   * A certificate valid until {@code notAfter} (from an hour ago, or a day before {@code notAfter}
   * if that is earlier) for {@code subjectAltNames}, each {@code IP:address} or {@code DNS:name}.
   */
  public Leaf issue(String commonName, Instant notAfter, String... subjectAltNames) {
    Instant anHourAgo = Instant.now().minus(Duration.ofHours(1));
    Instant notBefore =
        notAfter.isAfter(anHourAgo) ? anHourAgo : notAfter.minus(Duration.ofDays(1));
    return issue(commonName, null, notBefore, notAfter, subjectAltNames);
  }

  private Leaf issue(
      String commonName,
      String organization,
      Instant notBefore,
      Instant notAfter,
      String... subjectAltNames) {
    try {
      KeyPair keys = newKeyPair();
      String subject = (organization == null ? "" : "O=" + organization + ",") + "CN=" + commonName;
      X509v3CertificateBuilder b =
          builder(
              new X500Name(caCert.getSubjectX500Principal().getName()),
              new X500Name(subject),
              keys.getPublic(),
              notBefore,
              notAfter);
      GeneralName[] names = new GeneralName[subjectAltNames.length];
      for (int i = 0; i < names.length; i++) {
        String san = subjectAltNames[i];
        names[i] =
            san.startsWith("IP:")
                ? new GeneralName(GeneralName.iPAddress, san.substring(3))
                : new GeneralName(GeneralName.dNSName, san.substring(san.indexOf(':') + 1));
      }
      b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names));
      b.addExtension(
          Extension.extendedKeyUsage,
          false,
          new ExtendedKeyUsage(
              new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
      X509Certificate cert = sign(b, caKeys.getPrivate());
      Leaf leaf = new Leaf(dir.resolve(commonName + ".crt"), dir.resolve(commonName + ".key"));
      write(leaf.cert(), cert);
      try (Writer w = Files.newBufferedWriter(leaf.key());
          JcaPEMWriter pem = new JcaPEMWriter(w)) {
        pem.writeObject(new JcaPKCS8Generator(keys.getPrivate(), null));
      }
      return leaf;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (Exception e) {
      throw new IllegalStateException("cannot issue test certificate", e);
    }
  }

  private static KeyPair newKeyPair() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(256);
    return g.generateKeyPair();
  }

  private static X509v3CertificateBuilder builder(
      X500Name issuer, X500Name subject, PublicKey key, Instant notBefore, Instant notAfter) {
    return new JcaX509v3CertificateBuilder(
        issuer,
        BigInteger.valueOf(SERIAL.incrementAndGet()),
        Date.from(notBefore),
        Date.from(notAfter),
        subject,
        key);
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key) throws Exception {
    ContentSigner signer = new JcaContentSignerBuilder("SHA256withECDSA").build(key);
    return new JcaX509CertificateConverter().getCertificate(b.build(signer));
  }

  private static void write(Path file, Object pemObject) throws IOException {
    try (Writer w = Files.newBufferedWriter(file);
        JcaPEMWriter pem = new JcaPEMWriter(w)) {
      pem.writeObject(pemObject);
    }
  }
}
