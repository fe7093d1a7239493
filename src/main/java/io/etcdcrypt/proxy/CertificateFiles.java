package io.etcdcrypt.proxy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.DERNull;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.pkcs.RSAPrivateKey;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;

/**
 * Reads and checks the PEM files of a TLS identity (a certificate chain and its private key) and of
 * a CA bundle, so that a mistake is refused with the flag's name instead of failing every handshake
 * later. Messages name files, subjects and serial numbers, never key material.
 */
public final class CertificateFiles {

  /** Certificates that expire sooner than this are warned about. */
  public static final Duration EXPIRY_WARNING = Duration.ofDays(30);

  private static final Pattern PEM =
      Pattern.compile(
          "-----BEGIN ([A-Z0-9 ]+)-----\\R((?:[^-].*\\R)*?)-----END \\1-----", Pattern.MULTILINE);

  private CertificateFiles() {}

  /** A certificate chain (leaf first) and the private key of its leaf. */
  public record Identity(X509Certificate[] chain, PrivateKey key) {
    public X509Certificate leaf() {
      return chain[0];
    }

    /** Subject, serial and validity end of the leaf, to name it in messages. */
    public String describe() {
      return describe(leaf());
    }

    static String describe(X509Certificate c) {
      return c.getSubjectX500Principal().getName()
          + ", serial "
          + c.getSerialNumber().toString(16)
          + ", valid until "
          + c.getNotAfter().toInstant();
    }
  }

  /** The file's bytes; an unreadable file is a mistake in {@code flag}. */
  static byte[] read(Path file, String flag) {
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          flag + " " + file + " does not exist or is not readable", e);
    }
  }

  /** Every certificate of a PEM bundle; at least one. */
  static X509Certificate[] certificates(byte[] pem, Path file, String flag) {
    String why = "";
    try {
      Collection<? extends java.security.cert.Certificate> certs =
          CertificateFactory.getInstance("X.509")
              .generateCertificates(new ByteArrayInputStream(pem));
      if (!certs.isEmpty()) {
        return certs.toArray(new X509Certificate[0]);
      }
    } catch (CertificateException e) {
      why = " (" + e.getMessage() + ")";
    }
    throw new IllegalArgumentException(
        flag
            + " "
            + file
            + " holds no certificate"
            + why
            + ": give the PEM certificate file (-----BEGIN CERTIFICATE-----)");
  }

  /**
   * The private key of a PEM file: PKCS#8 ({@code PRIVATE KEY}), PKCS#1 ({@code RSA PRIVATE KEY})
   * or SEC 1 ({@code EC PRIVATE KEY}), unencrypted, as etcd and kube-apiserver read them.
   */
  static PrivateKey privateKey(byte[] pem, Path file, String flag) {
    Matcher m = PEM.matcher(new String(pem, StandardCharsets.US_ASCII));
    while (m.find()) {
      String type = m.group(1);
      if (type.equals("ENCRYPTED PRIVATE KEY") || m.group(2).contains("Proc-Type: 4,ENCRYPTED")) {
        throw new IllegalArgumentException(
            flag
                + " "
                + file
                + " is encrypted with a passphrase: give the key unencrypted, as etcd and"
                + " kube-apiserver need it (openssl pkey -in KEY -out KEY.plain)");
      }
      if (!type.endsWith("PRIVATE KEY")) {
        continue; // EC PARAMETERS and the like
      }
      try {
        byte[] der = Base64.getMimeDecoder().decode(m.group(2));
        byte[] pkcs8 =
            switch (type) {
              case "PRIVATE KEY" -> der;
              case "RSA PRIVATE KEY" ->
                  new PrivateKeyInfo(
                          new AlgorithmIdentifier(
                              PKCSObjectIdentifiers.rsaEncryption, DERNull.INSTANCE),
                          RSAPrivateKey.getInstance(der))
                      .getEncoded();
              case "EC PRIVATE KEY" -> {
                ECPrivateKey ec = ECPrivateKey.getInstance(der);
                if (ec.getParametersObject() == null) {
                  throw new IllegalArgumentException(
                      flag
                          + " "
                          + file
                          + ": its EC PRIVATE KEY does not name its curve: give it in PKCS#8"
                          + " (openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8)");
                }
                yield new PrivateKeyInfo(
                        new AlgorithmIdentifier(
                            X9ObjectIdentifiers.id_ecPublicKey, ec.getParametersObject()),
                        ec)
                    .getEncoded();
              }
              default -> null;
            };
        if (pkcs8 != null) {
          return pkcs8Key(pkcs8);
        }
      } catch (IllegalArgumentException e) {
        throw e;
      } catch (IOException | GeneralSecurityException | RuntimeException e) {
        throw new IllegalArgumentException(
            flag
                + " "
                + file
                + ": its "
                + type
                + " cannot be read ("
                + e.getClass().getSimpleName()
                + "): give an unencrypted PEM private key",
            e);
      }
    }
    throw new IllegalArgumentException(
        flag
            + " "
            + file
            + " holds no private key: give the PEM private key (-----BEGIN PRIVATE KEY-----) of the"
            + " certificate");
  }

  private static PrivateKey pkcs8Key(byte[] pkcs8) throws GeneralSecurityException {
    PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(pkcs8);
    GeneralSecurityException last = null;
    for (String algorithm : List.of("RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS")) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(spec);
      } catch (GeneralSecurityException e) {
        last = e;
      }
    }
    throw last;
  }

  /**
   * The certificate and key files read and checked: each parses, the key is the leaf's, and the
   * leaf has not expired.
   */
  static Identity identity(
      byte[] certPem,
      byte[] keyPem,
      Path certFile,
      Path keyFile,
      String certFlag,
      String keyFlag,
      Instant now) {
    X509Certificate[] chain = certificates(certPem, certFile, certFlag);
    PrivateKey key = privateKey(keyPem, keyFile, keyFlag);
    X509Certificate leaf = chain[0];
    if (!belongTogether(leaf, key)) {
      throw new IllegalArgumentException(
          certFlag
              + " "
              + certFile
              + " and "
              + keyFlag
              + " "
              + keyFile
              + " do not belong together: the key is not the private key of the certificate ("
              + Identity.describe(leaf)
              + "); give the key the certificate was issued for, or the certificate of that key");
    }
    if (now.isAfter(leaf.getNotAfter().toInstant())) {
      throw new IllegalArgumentException(
          certFlag
              + " "
              + certFile
              + " expired on "
              + leaf.getNotAfter().toInstant()
              + " ("
              + leaf.getSubjectX500Principal().getName()
              + ", serial "
              + leaf.getSerialNumber().toString(16)
              + "): every client would refuse it; renew it and give the renewed file");
    }
    return new Identity(chain, key);
  }

  /** Whether {@code key} signs what the leaf's public key verifies. */
  static boolean belongTogether(X509Certificate leaf, PrivateKey key) {
    String algorithm = key.getAlgorithm();
    String signature =
        switch (algorithm) {
          case "RSA" -> "SHA256withRSA";
          case "EC" -> "SHA256withECDSA";
          case "Ed25519", "Ed448", "EdDSA" -> algorithm;
          default -> null;
        };
    if (signature == null) { // e.g. RSASSA-PSS: at least the algorithms must agree
      return algorithm.equals(leaf.getPublicKey().getAlgorithm());
    }
    try {
      byte[] challenge = new byte[32];
      new SecureRandom().nextBytes(challenge);
      Signature signer = Signature.getInstance(signature);
      signer.initSign(key);
      signer.update(challenge);
      byte[] signed = signer.sign();
      Signature verifier = Signature.getInstance(signature);
      verifier.initVerify(leaf.getPublicKey());
      verifier.update(challenge);
      return verifier.verify(signed);
    } catch (GeneralSecurityException | RuntimeException e) {
      return false; // e.g. an RSA key and an EC certificate
    }
  }

  /** A certificate that expires within {@link #EXPIRY_WARNING}, said plainly; else null. */
  static String expiresSoon(X509Certificate leaf, Path certFile, String certFlag, Instant now) {
    Instant notAfter = leaf.getNotAfter().toInstant();
    Duration left = Duration.between(now, notAfter);
    if (left.isNegative()) {
      return certFlag
          + " "
          + certFile
          + " expired on "
          + notAfter
          + ": clients refuse it; renew the file (the proxy loads the renewed one without a restart)";
    }
    if (left.compareTo(EXPIRY_WARNING) >= 0) {
      return null;
    }
    return certFlag
        + " "
        + certFile
        + " expires in "
        + (left.toMinutes() + 1439) / 1440
        + " days, on "
        + notAfter
        + ": renew it (the proxy loads the renewed file without a restart)";
  }

  /**
   * A leaf whose subject alternative names do not cover the host clients dial ({@code
   * --listen-addr}), said plainly; null when they do, and for a wildcard address (0.0.0.0, ::),
   * which says nothing about the name clients use.
   */
  static String sanMismatch(X509Certificate leaf, Path certFile, String certFlag, Endpoint listen) {
    String host = listen.host();
    if (host.isEmpty() || host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]")) {
      return null;
    }
    List<String> names = new ArrayList<>();
    boolean covered = false;
    String bare = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
    InetAddress ip = literalAddress(bare);
    try {
      Collection<List<?>> sans = leaf.getSubjectAlternativeNames();
      for (List<?> san : sans == null ? List.<List<?>>of() : sans) {
        int type = (Integer) san.get(0);
        String value = String.valueOf(san.get(1));
        if (type == 2) {
          names.add("DNS:" + value);
          covered |= ip == null && dnsMatches(value, bare);
        } else if (type == 7) {
          names.add("IP:" + value);
          covered |= ip != null && ip.equals(literalAddress(value));
        }
      }
    } catch (CertificateParsingException e) {
      names.add("unreadable: " + e.getMessage());
    }
    if (covered) {
      return null;
    }
    return certFlag
        + " "
        + certFile
        + " does not name --listen-addr's host "
        + bare
        + " (its subject alternative names: "
        + (names.isEmpty() ? "none" : String.join(", ", names))
        + "): clients that connect to "
        + bare
        + " refuse it; issue it for that "
        + (ip != null ? "address" : "name")
        + " too, unless clients connect by a name it holds";
  }

  private static InetAddress literalAddress(String host) {
    boolean literal = host.contains(":") || host.matches("[0-9.]+");
    if (!literal) {
      return null;
    }
    try {
      return InetAddress.getByName(host); // a literal: no lookup
    } catch (IOException e) {
      return null;
    }
  }

  private static boolean dnsMatches(String pattern, String host) {
    String p = pattern.toLowerCase(Locale.ROOT);
    String h = host.toLowerCase(Locale.ROOT);
    if (p.startsWith("*.")) {
      int dot = h.indexOf('.');
      return dot > 0 && h.substring(dot).equals(p.substring(1));
    }
    return p.equals(h);
  }
}
