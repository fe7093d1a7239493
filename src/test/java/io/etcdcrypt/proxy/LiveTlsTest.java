package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.etcdcrypt.testing.TestPki;
import io.grpc.TlsChannelCredentials;
import java.io.Reader;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.stream.Collectors;
import javax.net.ssl.X509KeyManager;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.bouncycastle.openssl.PEMParser;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The TLS files are checked when loaded (a key that is not the certificate's, an expired
 * certificate: refused naming the flags; one that expires soon or does not name the listener's
 * host: a warning) and reloaded when they change, a broken change leaving the pair in use.
 */
@Timeout(30)
class LiveTlsTest {

  @TempDir Path dir;
  private TestPki pki;
  private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  private final Logger logger = (Logger) LoggerFactory.getLogger(LiveTls.class);

  /** The files the tests of rotations give the proxy. */
  private Path cert;

  private Path key;

  @BeforeEach
  void setUp() {
    pki = new TestPki(dir, "ca");
    cert = dir.resolve("tls.crt");
    key = dir.resolve("tls.key");
    logged.start();
    logger.addAppender(logged);
  }

  @AfterEach
  void tearDown() {
    logger.detachAppender(logged);
  }

  private static final Endpoint LOOPBACK = new Endpoint("127.0.0.1", 2379);

  @Test
  void aKeyThatIsNotTheCertificatesIsRefusedNamingBothFlags() {
    TestPki.Leaf a = pki.issue("a");
    TestPki.Leaf b = pki.issue("b");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> LiveTls.forListener(new TlsFiles(a.cert(), b.key(), null), LOOPBACK));
    assertTrue(
        e.getMessage()
            .startsWith(
                "--cert-file "
                    + a.cert()
                    + " and --key-file "
                    + b.key()
                    + " do not belong together: the key is not the private key of the certificate"
                    + " (CN=a, serial "),
        e.getMessage());
    assertTrue(
        e.getMessage()
            .endsWith(
                "give the key the certificate was issued for, or the certificate of that key"),
        e.getMessage());
    // The same mistake in the client certificate toward etcd, and in the tools that use it.
    IllegalArgumentException client =
        assertThrows(
            IllegalArgumentException.class,
            () -> new TlsFiles(a.cert(), b.key(), pki.caCert()).channelCredentials());
    assertTrue(
        client.getMessage().startsWith("--cert " + a.cert() + " and --key " + b.key()),
        client.getMessage());
  }

  @Test
  void anExpiredCertificateIsRefused() {
    TestPki.Leaf old = pki.issue("old", Instant.now().minus(Duration.ofDays(3)), "IP:127.0.0.1");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> LiveTls.forListener(new TlsFiles(old.cert(), old.key(), null), LOOPBACK));
    assertTrue(e.getMessage().startsWith("--cert-file " + old.cert() + " expired on "));
    assertTrue(
        e.getMessage().endsWith("every client would refuse it; renew it and give the renewed file"),
        e.getMessage());
  }

  @Test
  void unreadableFilesAreRefusedWithoutTheirContents() throws Exception {
    TestPki.Leaf a = pki.issue("a");
    Path notPem = Files.writeString(dir.resolve("garbage.pem"), "secret-looking-bytes");
    IllegalArgumentException key =
        assertThrows(
            IllegalArgumentException.class,
            () -> LiveTls.forListener(new TlsFiles(a.cert(), notPem, null), LOOPBACK));
    assertTrue(key.getMessage().startsWith("--key-file " + notPem + " holds no private key"));
    IllegalArgumentException cert =
        assertThrows(
            IllegalArgumentException.class,
            () -> LiveTls.forListener(new TlsFiles(notPem, a.key(), null), LOOPBACK));
    assertTrue(cert.getMessage().startsWith("--cert-file " + notPem + " holds no certificate"));
    IllegalArgumentException ca =
        assertThrows(
            IllegalArgumentException.class,
            () -> LiveTls.forEtcdClient(new TlsFiles(null, null, notPem)));
    assertTrue(ca.getMessage().startsWith("--cacert " + notPem + " holds no certificate"));
    for (IllegalArgumentException e : List.of(key, cert, ca)) {
      assertTrue(!e.getMessage().contains("secret-looking-bytes"), e.getMessage());
    }
  }

  @Test
  void keysInTheTraditionalPemFormatAreRead() throws Exception {
    TestPki.Leaf a = pki.issue("a");
    // As openssl writes it (openssl ec -in KEY): SEC 1, naming its curve.
    PrivateKeyInfo pkcs8;
    try (Reader r = Files.newBufferedReader(a.key());
        PEMParser parser = new PEMParser(r)) {
      pkcs8 = (PrivateKeyInfo) parser.readObject();
    }
    ECPrivateKey inner = ECPrivateKey.getInstance(pkcs8.parsePrivateKey());
    ECPrivateKey sec1 =
        new ECPrivateKey(256, inner.getKey(), pkcs8.getPrivateKeyAlgorithm().getParameters());
    Path sec1File =
        Files.writeString(
            dir.resolve("a-sec1.key"),
            "-----BEGIN EC PRIVATE KEY-----\n"
                + Base64.getMimeEncoder().encodeToString(sec1.getEncoded())
                + "\n-----END EC PRIVATE KEY-----\n");
    LiveTls tls = LiveTls.forListener(new TlsFiles(a.cert(), sec1File, null), LOOPBACK);
    assertEquals(List.of(), tls.warnings());
  }

  @Test
  void warnsOfAnExpiryWithin30DaysAndOfAHostTheCertificateDoesNotName() {
    TestPki.Leaf soon =
        pki.issue("soon", Instant.now().plus(Duration.ofDays(10)), "DNS:etcd.example");
    LiveTls tls = LiveTls.forListener(new TlsFiles(soon.cert(), soon.key(), null), LOOPBACK);
    List<String> w = tls.warnings();
    assertEquals(2, w.size(), w.toString());
    assertTrue(
        w.get(0).startsWith("--cert-file " + soon.cert() + " expires in 10 days, on "), w.get(0));
    assertTrue(
        w.get(0).endsWith("renew it (the proxy loads the renewed file without a restart)"),
        w.get(0));
    assertEquals(
        "--cert-file "
            + soon.cert()
            + " does not name --listen-addr's host 127.0.0.1 (its subject alternative names:"
            + " DNS:etcd.example): clients that connect to 127.0.0.1 refuse it; issue it for that"
            + " address too, unless clients connect by a name it holds",
        w.get(1));
    // A wildcard address says nothing about the name clients dial; a name on the certificate is
    // fine.
    assertEquals(
        1,
        LiveTls.forListener(
                new TlsFiles(soon.cert(), soon.key(), null), new Endpoint("0.0.0.0", 2379))
            .warnings()
            .size());
    assertEquals(
        1,
        LiveTls.forListener(
                new TlsFiles(soon.cert(), soon.key(), null), new Endpoint("etcd.example", 2379))
            .warnings()
            .size());
  }

  @Test
  void aRotatedPairIsUsedAndABrokenOneIsNot() throws Exception {
    TestPki.Leaf first = installed(pki.issue("first"));
    LiveTls tls = LiveTls.forListener(new TlsFiles(cert, key, pki.caCert()), LOOPBACK);
    List<BigInteger> served = new ArrayList<>();
    tls.onIdentity(leaf -> served.add(leaf.getSerialNumber()));
    assertEquals(List.of(first.serial()), served);

    tls.reloadIfChanged();
    assertEquals(List.of(first.serial()), served, "unchanged files: nothing reloaded");

    TestPki.Leaf second =
        pki.issue("second", Instant.now().plus(Duration.ofDays(60)), "IP:127.0.0.1");
    installed(second);
    tls.reloadIfChanged();
    assertEquals(List.of(first.serial(), second.serial()), served);
    assertTrue(
        messages().contains("--cert-file " + cert + " and --key-file " + key + " changed: new"),
        messages());

    // Half a rotation: a new certificate with the old key. Not used; said once it stays so.
    TestPki.Leaf third = pki.issue("third");
    Files.copy(third.cert(), cert, StandardCopyOption.REPLACE_EXISTING);
    logged.list.clear();
    tls.reloadIfChanged();
    assertEquals("", messages(), "a rotation may be half-way: not reported at once");
    for (int i = 0; i < 5; i++) {
      tls.reloadIfChanged();
    }
    assertEquals(2, served.size(), "the broken pair is not used");
    List<ILoggingEvent> warnings = logged.list;
    assertEquals(1, warnings.size(), messages());
    String warning = warnings.get(0).getFormattedMessage();
    assertTrue(
        warning.startsWith(
            "--cert-file and --key-file changed but cannot be used, so new connections still get"
                + " the certificate loaded before (CN=second, serial "
                + second.serial().toString(16)),
        warning);
    assertTrue(warning.contains("do not belong together"), warning);

    // Completed: used.
    Files.copy(third.key(), key, StandardCopyOption.REPLACE_EXISTING);
    tls.reloadIfChanged();
    assertEquals(third.serial(), served.get(2));

    // A CA file cut short keeps the CA loaded before.
    Files.writeString(pki.caCert(), "-----BEGIN CERTIFICATE-----\nMIIB");
    logged.list.clear();
    tls.reloadIfChanged();
    tls.reloadIfChanged();
    assertTrue(
        messages()
            .startsWith(
                "--trusted-ca-file changed but cannot be used, so new connections are still"
                    + " checked against the CA loaded before: --trusted-ca-file "
                    + pki.caCert()),
        messages());
  }

  /**
   * The connections to etcd are built once from {@link LiveTls#channelCredentials()}: a reloaded
   * client certificate must show in those very credentials, for the next handshake.
   */
  @Test
  void theClientCredentialsTowardEtcdFollowARotation() throws Exception {
    TestPki.Leaf first = installed(pki.issue("first"));
    LiveTls tls = LiveTls.forEtcdClient(new TlsFiles(cert, key, pki.caCert()));
    TlsChannelCredentials credentials = (TlsChannelCredentials) tls.channelCredentials();
    X509KeyManager keys = (X509KeyManager) credentials.getKeyManagers().get(0);
    assertEquals(first.serial(), presented(keys));

    TestPki.Leaf second = pki.issue("second");
    installed(second);
    tls.reloadIfChanged();
    assertEquals(second.serial(), presented(keys));
    assertTrue(
        messages().contains("--cert " + cert + " and --key " + key + " changed: new"), messages());
  }

  /** The serial a handshake presents: it chooses an alias, then asks for that alias's chain. */
  private static BigInteger presented(X509KeyManager keys) {
    String alias = keys.chooseClientAlias(new String[] {"EC"}, null, null);
    return keys.getCertificateChain(alias)[0].getSerialNumber();
  }

  /** {@code leaf}'s files copied to {@link #cert} and {@link #key}, the key first. */
  private TestPki.Leaf installed(TestPki.Leaf leaf) throws Exception {
    Files.copy(leaf.key(), key, StandardCopyOption.REPLACE_EXISTING);
    Files.copy(leaf.cert(), cert, StandardCopyOption.REPLACE_EXISTING);
    return leaf;
  }

  private String messages() {
    return logged.list.stream()
        .map(ILoggingEvent::getFormattedMessage)
        .collect(Collectors.joining("\n"));
  }
}
