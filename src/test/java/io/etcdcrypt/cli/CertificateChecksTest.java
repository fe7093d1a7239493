package io.etcdcrypt.cli;

import static java.net.http.HttpResponse.BodyHandlers.ofString;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.observe.MetricNames;
import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.FreePorts;
import io.etcdcrypt.testing.PrometheusText;
import io.etcdcrypt.testing.ProxyProcess;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestPki;
import io.etcdcrypt.testing.TlsClients;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The listener's certificate while {@code serve} runs: one that expires soon or does not name the
 * listener's address (a warning at start), a rotation on disk (used from the next handshake, the
 * expiry metric following; a broken one is not used, and said once), and clients the listener
 * refuses (one log line per client address and reason). What {@code serve} refuses at start is in
 * {@link StartupMistakesTest}. {@code serve} runs as operators run it, in a child JVM, without etcd
 * (none of this needs it); clients are real TLS handshakes.
 */
@RealComponents
@Timeout(180)
class CertificateChecksTest {

  @TempDir Path dir;
  private TestPki pki;

  @BeforeEach
  void setUp() throws Exception {
    pki = new TestPki(Files.createDirectory(dir.resolve("pki")), "ca");
  }

  @Test
  void aCertificateThatExpiresSoonOrDoesNotNameTheListenAddressIsWarnedAbout() throws Exception {
    TestPki.Leaf soon =
        pki.issue("soon", Instant.now().plus(Duration.ofDays(10)), "DNS:etcd.example");
    try (ProxyProcess serve =
        serve("--cert-file", soon.cert().toString(), "--key-file", soon.key().toString())) {
      String log = serve.output();
      assertWarned(
          log, "--cert-file " + soon.cert() + " expires in 10 days, on " + soon.notAfter());
      assertWarned(
          log,
          "--cert-file "
              + soon.cert()
              + " does not name --listen-addr's host 127.0.0.1 (its subject alternative names:"
              + " DNS:etcd.example): clients that connect to 127.0.0.1 refuse it; issue it for that"
              + " address too, unless clients connect by a name it holds");
    }
  }

  @Test
  void aRotatedPairIsUsedFromTheNextHandshakeAndABrokenOneIsNot() throws Exception {
    Path cert = dir.resolve("served.crt");
    Path key = dir.resolve("served.key");
    TestPki.Leaf first = pki.issue("first");
    TestPki.Leaf second =
        pki.issue("second", Instant.now().plus(Duration.ofDays(60)), "IP:127.0.0.1");
    TestPki.Leaf third = pki.issue("third");
    install(first.key(), key);
    install(first.cert(), cert);
    try (ProxyProcess serve =
        serve(
            "--cert-file",
            cert.toString(),
            "--key-file",
            key.toString(),
            "--tls-reload-interval",
            "1")) {
      int port = serve.port();
      assertEquals(first.serial(), servedSerial(port));
      assertEquals(notAfter(first), expiryMetric(serve));

      // A rotation as cert-manager or kubeadm does it: new files moved into place.
      install(second.key(), key);
      install(second.cert(), cert);
      Await.until(
          "new handshakes get the rotated certificate",
          Duration.ofSeconds(20),
          () -> servedSerial(port).equals(second.serial()));
      Await.until(
          "the expiry metric follows",
          Duration.ofSeconds(10),
          () -> expiryMetric(serve) == notAfter(second));
      assertTrue(
          serve
              .output()
              .contains(
                  "--cert-file "
                      + cert
                      + " and --key-file "
                      + key
                      + " changed: new connections get CN=second, serial "
                      + second.serial().toString(16)),
          serve.output());

      // A broken rotation (a new certificate, the old key) is not used, and said once.
      install(third.cert(), cert);
      Await.until(
          "the broken rotation is logged",
          Duration.ofSeconds(20),
          () -> serve.output().contains("changed but cannot be used"));
      Thread.sleep(2000); // two more checks
      String log = serve.output();
      assertWarned(
          log,
          "--cert-file and --key-file changed but cannot be used, so new connections still get the"
              + " certificate loaded before (CN=second, serial "
              + second.serial().toString(16));
      assertTrue(log.contains("do not belong together"), log);
      assertEquals(
          1, log.lines().filter(l -> l.contains("changed but cannot be used")).count(), log);
      assertEquals(second.serial(), servedSerial(port));
      assertEquals(notAfter(second), expiryMetric(serve));
    }
  }

  @Test
  void refusedClientsAreLoggedOncePerAddressAndReason() throws Exception {
    TestPki.Leaf server = pki.issue("server");
    TestPki.Leaf client = pki.issue("client");
    TestPki.Leaf expired =
        pki.issue("expired", Instant.now().minus(Duration.ofDays(1)), "DNS:client");
    TestPki other = new TestPki(Files.createDirectory(dir.resolve("other")), "other-ca");
    TestPki.Leaf stranger = other.issue("stranger");
    try (ProxyProcess serve =
        serve(
            "--cert-file",
            server.cert().toString(),
            "--key-file",
            server.key().toString(),
            "--trusted-ca-file",
            pki.caCert().toString())) {
      int port = serve.port();
      assertEquals("CN=server", served(port, client).getSubjectX500Principal().getName());
      for (int i = 0; i < 10; i++) {
        assertThrows(IOException.class, () -> served(port, null), "no client certificate");
        assertThrows(IOException.class, () -> served(port, stranger), "unknown CA");
        assertThrows(IOException.class, () -> served(port, expired), "expired");
        // A client that trusts another CA refuses the proxy's certificate.
        assertThrows(
            IOException.class, () -> served(port, client, TlsClients.trusting(other)), "their CA");
      }
      List<String> refusals =
          List.of(
              "refused a TLS handshake from 127.0.0.1: no client certificate (--trusted-ca-file"
                  + " requires one signed by its CA)",
              "refused a TLS handshake from 127.0.0.1: its client certificate is not signed by a CA"
                  + " in --trusted-ca-file (unknown CA)",
              "refused a TLS handshake from 127.0.0.1: its client certificate has expired",
              "refused a TLS handshake from 127.0.0.1: the client refused the proxy's certificate"
                  + " (SSLV3_ALERT_CERTIFICATE_UNKNOWN): check that --cert-file is signed by the CA"
                  + " the client trusts and names the address it dials");
      Await.until(
          "each refusal is logged",
          Duration.ofSeconds(10),
          () -> refusals.stream().allMatch(serve.output()::contains));
      Thread.sleep(500);
      String log = serve.output();
      refusals.forEach(r -> assertWarned(log, r));
      assertEquals(4, log.lines().filter(l -> l.contains("refused a TLS handshake")).count(), log);
      assertFalse(log.contains("\tat "), log);
    }
  }

  /**
   * With {@code --metrics-cert-file} and {@code --metrics-client-ca-file}, a real serve answers the
   * kubelet's kind of probe (no client certificate) on /livez, refuses /metrics to it, serves
   * /metrics to a scraper with a certificate from the CA, and exports the admin certificate's
   * expiry as {@code use="metrics"}.
   */
  @Test
  void theAdminEndpointServesHttpsAndMetricsOnlyToClientsOfItsCa() throws Exception {
    TestPki.Leaf admin =
        pki.issue("admin", Instant.now().plus(Duration.ofDays(20)), "IP:127.0.0.1");
    TestPki.Leaf scraper = pki.issue("prometheus");
    try (ProxyProcess serve =
        serve(
            "--metrics-cert-file",
            admin.cert().toString(),
            "--metrics-key-file",
            admin.key().toString(),
            "--metrics-client-ca-file",
            pki.caCert().toString())) {
      String base = "https://127.0.0.1:" + serve.metricsPort();
      Await.until(
          "/livez over HTTPS without a client certificate",
          Duration.ofSeconds(30),
          () -> status(base + "/livez", null) == 200);
      assertEquals(401, status(base + "/metrics", null));
      String metrics = https(scraper).send(get(base + "/metrics"), ofString()).body();
      assertEquals(
          notAfter(admin),
          PrometheusText.parse(metrics)
              .value(MetricNames.CERTIFICATE_EXPIRY, "use", MetricNames.USE_METRICS));
      String log = serve.output();
      assertWarned(log, "--metrics-cert-file " + admin.cert() + " expires in 20 days");
      assertTrue(log.contains("admin endpoint on https://127.0.0.1:"), log);
    }
  }

  // ---- helpers ----

  private static HttpClient https(TestPki.Leaf client) throws Exception {
    return HttpClient.newBuilder()
        .connectTimeout(Duration.ofSeconds(5))
        .sslContext(TlsClients.context(client, TlsClients.ANY))
        .build();
  }

  private static HttpRequest get(String url) {
    return HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build();
  }

  /** The status of GET {@code url} with {@code client}'s certificate (or none); -1 on failure. */
  private static int status(String url, TestPki.Leaf client) {
    try {
      return https(client).send(get(url), ofString()).statusCode();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    } catch (Exception e) {
      return -1;
    }
  }

  /** A line of {@code log} at WARN holds {@code message}. */
  private static void assertWarned(String log, String message) {
    assertTrue(
        log.lines().anyMatch(l -> l.contains(" WARN ") && l.contains(message)),
        "a warning '" + message + "' in:\n" + log);
  }

  /** {@code serve} with {@code more}, without etcd, once it listens. */
  private ProxyProcess serve(String... more) throws Exception {
    List<String> args =
        new ArrayList<>(
            List.of(
                "--encryption-provider-config",
                OpsFixtures.identityConfig(dir).toString(),
                "--endpoints",
                "127.0.0.1:" + FreePorts.next()));
    args.addAll(List.of(more));
    return ProxyProcess.startListening(dir, args);
  }

  private static void install(Path from, Path to) throws IOException {
    Path tmp = to.resolveSibling(to.getFileName() + ".tmp");
    Files.copy(from, tmp, StandardCopyOption.REPLACE_EXISTING);
    Files.move(tmp, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * The certificate the listener presents to a new connection, with {@code client}'s certificate
   * (or none); any certificate of the listener is accepted, only its identity matters here.
   */
  private static X509Certificate served(int port, TestPki.Leaf client) throws IOException {
    return served(port, client, TlsClients.ANY);
  }

  /** {@link #served(int, TestPki.Leaf)} checking the listener's certificate with {@code trust}. */
  private static X509Certificate served(int port, TestPki.Leaf client, TrustManager trust)
      throws IOException {
    try {
      SSLContext tls = TlsClients.context(client, trust);
      try (SSLSocket s =
          (SSLSocket) tls.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), port)) {
        s.setSoTimeout(5000);
        s.setEnabledProtocols(new String[] {"TLSv1.2"}); // the server's verdict ends the handshake
        s.startHandshake();
        return (X509Certificate) s.getSession().getPeerCertificates()[0];
      }
    } catch (IOException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static BigInteger servedSerial(int port) {
    try {
      return served(port, null).getSerialNumber();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static double notAfter(TestPki.Leaf leaf) {
    return leaf.notAfter().getEpochSecond();
  }

  private static double expiryMetric(ProxyProcess proxy) {
    return PrometheusText.parse(proxy.metrics())
        .value(MetricNames.CERTIFICATE_EXPIRY, "use", "listener");
  }
}
