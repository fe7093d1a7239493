package io.etcdcrypt.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.proxy.LiveTls;
import io.etcdcrypt.proxy.TlsFiles;
import io.etcdcrypt.testing.TestPki;
import io.etcdcrypt.testing.TlsClients;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin endpoint over HTTPS ({@code --metrics-cert-file}, {@code --metrics-key-file}) and with
 * client certificates required for /metrics and /readyz ({@code --metrics-client-ca-file}), while
 * the kubelet's probes, which present no certificate, still get /livez and /healthz.
 */
@Timeout(30)
class AdminServerTlsTest {

  @TempDir Path dir;
  private TestPki pki;
  private TestPki stranger;
  private TestPki.Leaf server;
  private AdminServer admin;

  @BeforeEach
  void pki() throws IOException {
    pki = new TestPki(Files.createDirectory(dir.resolve("pki")), "ca");
    stranger = new TestPki(Files.createDirectory(dir.resolve("other")), "other-ca");
    server = pki.issue("admin");
  }

  @AfterEach
  void stop() {
    if (admin != null) {
      admin.close();
    }
  }

  private LiveTls start(Path clientCa, HealthCheck... checks) throws IOException {
    LiveTls tls = LiveTls.forMetrics(new TlsFiles(server.cert(), server.key(), clientCa));
    admin = new AdminServer(new InetSocketAddress("127.0.0.1", 0), AdminTls.of(tls));
    admin.route("/metrics", query -> AdminServer.Response.text(200, "metrics\n"));
    for (HealthCheck c : checks) {
      admin.addReadinessCheck(c);
    }
    admin.start();
    return tls;
  }

  @Test
  void metricsAndReadyzNeedAClientCertificateFromTheCa() throws Exception {
    start(pki.caCert(), HealthCheck.of("etcd", Optional::empty));
    TestPki.Leaf scraper = pki.issue("prometheus");
    TestPki.Leaf foreign = stranger.issue("prometheus");

    for (String path : List.of("/metrics", "/readyz", "/readyz/etcd", "/readyz?verbose")) {
      HttpResponse<String> anonymous = get(null, path);
      assertEquals(401, anonymous.statusCode(), path + ": " + anonymous.body());
      assertEquals(1, anonymous.body().lines().count(), anonymous.body());
      assertTrue(
          anonymous
              .body()
              .contains(
                  "needs a client certificate signed by a CA in" + " --metrics-client-ca-file"),
          anonymous.body());

      HttpResponse<String> refused = get(foreign, path);
      assertEquals(403, refused.statusCode(), path + ": " + refused.body());
      assertEquals(1, refused.body().lines().count(), refused.body());
      assertTrue(refused.body().contains("(CN=prometheus) is not:"), refused.body());
    }
    assertEquals("metrics\n", get(scraper, "/metrics").body());
    assertEquals(200, get(scraper, "/readyz").statusCode());
    assertEquals("[+]etcd ok\nreadyz check passed\n", get(scraper, "/readyz?verbose").body());
  }

  @Test
  void livezAndHealthzStayOpenForProbesButTellReasonsOnlyToClientsWithACertificate()
      throws Exception {
    start(
        pki.caCert(),
        HealthCheck.of("etcd", Optional::empty),
        HealthCheck.of("kms-providers", () -> Optional.of("no KMS plugin socket at /s")));

    assertEquals("ok\n", get(null, "/livez").body());
    HttpResponse<String> probe = get(null, "/healthz?verbose");
    assertEquals(500, probe.statusCode());
    assertEquals("healthz check failed\n", probe.body(), "no reasons without a certificate");
    assertEquals(200, get(null, "/healthz/etcd?verbose").statusCode());
    assertEquals("ok\n", get(null, "/healthz/etcd?verbose").body());

    HttpResponse<String> operator = get(pki.issue("operator"), "/healthz?verbose");
    assertEquals(500, operator.statusCode());
    assertTrue(
        operator.body().contains("[-]kms-providers failed: no KMS plugin socket at /s"),
        operator.body());
  }

  @Test
  void withoutAClientCaEveryPathIsServedOverHttps() throws Exception {
    start(null, HealthCheck.of("kms-providers", () -> Optional.of("down")));

    assertEquals("metrics\n", get(null, "/metrics").body());
    assertTrue(get(null, "/readyz?verbose").body().contains("[-]kms-providers failed: down"));
    assertEquals(200, get(null, "/livez").statusCode());
  }

  @Test
  void plainHttpToTheHttpsPortFails() throws Exception {
    start(pki.caCert());
    HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    HttpRequest request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port() + "/livez"))
            .timeout(Duration.ofSeconds(5))
            .build();

    assertThrows(
        IOException.class, () -> plain.send(request, HttpResponse.BodyHandlers.ofString()));
  }

  /** A renewed pair and a new CA are used from the next connection on, as the listener's. */
  @Test
  void aRenewedCertificateAndANewCaAreUsedAfterAReload() throws Exception {
    Path ca = Files.copy(pki.caCert(), dir.resolve("clients-ca.crt"));
    LiveTls tls = start(ca);
    TestPki.Leaf scraper = pki.issue("prometheus");
    BigInteger first = servedSerial();

    TestPki.Leaf renewed = pki.issue("admin-renewed");
    install(renewed.cert(), server.cert());
    install(renewed.key(), server.key());
    install(stranger.caCert(), ca);
    tls.reloadIfChanged();

    BigInteger now = servedSerial();
    assertEquals(renewed.serial(), now);
    assertNotEquals(first, now);
    assertEquals(403, get(scraper, "/metrics").statusCode(), "signed by the CA no longer trusted");
    assertEquals(200, get(stranger.issue("prometheus"), "/metrics").statusCode());
  }

  private static void install(Path from, Path to) throws IOException {
    Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
  }

  private int port() {
    return admin.address().getPort();
  }

  /** The serial of the certificate a new connection is served. */
  private BigInteger servedSerial() throws Exception {
    HttpResponse<String> r = get(null, "/livez");
    SSLSession session = r.sslSession().orElseThrow();
    return ((X509Certificate) session.getPeerCertificates()[0]).getSerialNumber();
  }

  /**
   * GET over a new client (a new connection) presenting {@code client} (none when null) and
   * trusting only the test CA for the server's certificate.
   */
  private HttpResponse<String> get(TestPki.Leaf client, String pathAndQuery) throws Exception {
    HttpClient http =
        HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5))
            .sslContext(TlsClients.context(client, TlsClients.trusting(pki)))
            .build();
    return http.send(
        HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port() + pathAndQuery))
            .timeout(Duration.ofSeconds(5))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
