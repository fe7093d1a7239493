package io.etcdcrypt.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.config.KmsApiVersion;
import io.etcdcrypt.crypto.Decrypted;
import io.etcdcrypt.kms.KmsHealth;
import io.etcdcrypt.kms.KmsProvider;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.MutableClock;
import io.etcdcrypt.testing.PrometheusText;
import io.etcdcrypt.testing.TestPki;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gauges the alert rules read for state the proxy does not count: readiness checks, etcd
 * members, KMS provider health and the KMS v2 write window, and certificate expiry.
 */
class ServingStateMetricsTest {

  private final Metrics metrics =
      new Metrics("test-host", new MutableClock(Instant.parse("2030-01-01T00:00:00Z")));

  private PrometheusText.Exposition scrape() {
    return PrometheusText.parse(metrics.scrape());
  }

  @Test
  void inFlightFiguresAreReadAtEveryScrapeEvenAfterACollection() throws Exception {
    AtomicLong refused = new AtomicLong();
    metrics.exportInFlight(1024, () -> 7, refused::get, () -> 5, () -> 9);
    refused.set(3);
    // What the counter reads must not be left to the collector (a weak reference would be cleared).
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(20);
    }
    PrometheusText.Exposition m = scrape();
    assertEquals(3, m.value(MetricNames.IN_FLIGHT_REFUSED));
    assertEquals(7, m.value(MetricNames.IN_FLIGHT_BYTES));
    assertEquals(1024, m.value(MetricNames.IN_FLIGHT_LIMIT_BYTES));
    assertEquals(5, m.value(MetricNames.WIRE_BUFFERS_BYTES));
    assertEquals(9, m.value(MetricNames.WIRE_BUFFERS_RESERVED_BYTES));
  }

  @Test
  void listsWaitingAndWaitedAreReadAtEveryScrape() {
    AtomicLong waiting = new AtomicLong(2);
    AtomicLong waited = new AtomicLong(5);
    metrics.exportListRoom(waiting::get, waited::get);
    assertEquals(2, scrape().value(MetricNames.LISTS_WAITING));
    waiting.set(0);
    waited.set(9);
    PrometheusText.Exposition m = scrape();
    assertEquals(0, m.value(MetricNames.LISTS_WAITING));
    assertEquals(9, m.value(MetricNames.LISTS_WAITED));
  }

  @Test
  void eachReadinessCheckIsOneWhilePassingAndZeroWhenFailingOrThrowing() {
    metrics.exportReadiness(
        List.of(
            HealthCheck.of("etcd", Optional::empty),
            HealthCheck.of("kms-provider-0", () -> Optional.of("plugin down")),
            HealthCheck.of(
                "kms-provider-1",
                () -> {
                  throw new IllegalStateException("broken");
                })));
    PrometheusText.Exposition m = scrape();
    assertEquals(1, m.value(MetricNames.READINESS_CHECK, "check", "etcd"));
    assertEquals(0, m.value(MetricNames.READINESS_CHECK, "check", "kms-provider-0"));
    assertEquals(0, m.value(MetricNames.READINESS_CHECK, "check", "kms-provider-1"));
  }

  @Test
  void membersAreReadAtEachScrapeAndOnesNoLongerReportedDisappear() {
    Map<String, Boolean> serving = new LinkedHashMap<>();
    serving.put("10.0.0.1:2379", true);
    serving.put("10.0.0.2:2379", false);
    metrics.exportEtcdMembers(() -> Map.copyOf(serving));
    PrometheusText.Exposition m = scrape();
    assertEquals(1, m.value(MetricNames.ETCD_MEMBER_SERVING, "member", "10.0.0.1:2379"));
    assertEquals(0, m.value(MetricNames.ETCD_MEMBER_SERVING, "member", "10.0.0.2:2379"));

    serving.remove("10.0.0.2:2379");
    serving.put("10.0.0.1:2379", false);
    m = scrape();
    assertEquals(0, m.value(MetricNames.ETCD_MEMBER_SERVING, "member", "10.0.0.1:2379"));
    assertTrue(m.matching(MetricNames.ETCD_MEMBER_SERVING, "member", "10.0.0.2:2379").isEmpty());
  }

  @Test
  void aBlockingSourceDelaysAScrapeByAtMostTheWaitAndTheNextScrapeShowsItsValue() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean blocking = new AtomicBoolean();
    metrics.exportReadiness(
        List.of(
            HealthCheck.of(
                "kms-providers",
                () -> {
                  if (blocking.get()) {
                    try {
                      release.await(); // a KMS plugin call waiting for its timeout
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    }
                    return Optional.of("plugin down");
                  }
                  return Optional.empty();
                })));
    assertEquals(1, scrape().value(MetricNames.READINESS_CHECK, "check", "kms-providers"));

    blocking.set(true);
    long start = System.nanoTime();
    PrometheusText.Exposition during = scrape();
    long tookMillis = (System.nanoTime() - start) / 1_000_000;
    assertTrue(tookMillis < ScrapedGauges.WAIT.toMillis() + 1000, "scrape took " + tookMillis);
    assertEquals(1, during.value(MetricNames.READINESS_CHECK, "check", "kms-providers"));

    release.countDown();
    Await.until(
        "the next scrape to show the check's outcome",
        Duration.ofSeconds(10),
        () -> scrape().value(MetricNames.READINESS_CHECK, "check", "kms-providers") == 0);
  }

  @Test
  void kmsProvidersInEffectExportTheirHealthAndWriteWindowAndRemovedOnesDisappear() {
    Instant end = Instant.parse("2030-01-01T00:03:00.500Z");
    List<KmsProvider> inEffect = new ArrayList<>();
    inEffect.add(provider("kms2", KmsHealth.healthy(), Optional.of(end)));
    inEffect.add(provider("kms1", KmsHealth.failed("plugin down"), Optional.empty()));
    metrics.exportKmsProviders(() -> List.copyOf(inEffect));
    PrometheusText.Exposition m = scrape();
    assertEquals(1, m.value(MetricNames.KMS_PROVIDER_HEALTHY, "provider", "kms2"));
    assertEquals(0, m.value(MetricNames.KMS_PROVIDER_HEALTHY, "provider", "kms1"));
    assertEquals(
        end.toEpochMilli() / 1000.0,
        m.value(MetricNames.KMS_V2_WRITE_WINDOW_END, "provider", "kms2"));
    assertTrue(
        m.matching(MetricNames.KMS_V2_WRITE_WINDOW_END, "provider", "kms1").isEmpty(),
        "KMS v1 has no write window");
    assertEquals(1, m.value(MetricNames.KMS_V1_PROVIDER, "provider", "kms1"), "deprecated: shown");
    assertTrue(m.matching(MetricNames.KMS_V1_PROVIDER, "provider", "kms2").isEmpty());

    inEffect.remove(0); // a reload dropped kms2: its window must not linger and alert
    inEffect.add(provider("kms3", KmsHealth.healthy(), Optional.of(end)));
    inEffect.remove(0); // and replaced kms1 with v2 kms3: no KMS v1 left to warn about
    m = scrape();
    assertTrue(m.matching(MetricNames.KMS_V1_PROVIDER, "provider", "kms1").isEmpty());
    assertTrue(m.matching(MetricNames.KMS_V2_WRITE_WINDOW_END, "provider", "kms2").isEmpty());
    assertTrue(m.matching(MetricNames.KMS_PROVIDER_HEALTHY, "provider", "kms2").isEmpty());
  }

  private static KmsProvider provider(String name, KmsHealth health, Optional<Instant> end) {
    return new KmsProvider() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public KmsApiVersion apiVersion() {
        return end.isPresent() ? KmsApiVersion.V2 : KmsApiVersion.V1;
      }

      @Override
      public KmsHealth health() {
        throw new AssertionError("a scrape asked the plugin (health()) instead of the last result");
      }

      @Override
      public KmsHealth lastHealth() {
        return health;
      }

      @Override
      public Optional<Instant> writeWindowEnd() {
        return end;
      }

      @Override
      public CompletionStage<byte[]> encrypt(byte[] plaintext, byte[] associatedData) {
        throw new UnsupportedOperationException();
      }

      @Override
      public CompletionStage<Decrypted> decrypt(byte[] stored, byte[] associatedData) {
        throw new UnsupportedOperationException();
      }

      @Override
      public void close() {}
    };
  }

  @Test
  void theCertificateExpiryIsTheNotAfterOfTheFileLoaded(@TempDir Path dir) throws Exception {
    TestPki pki = new TestPki(dir, "test-ca");
    TestPki.Leaf leaf = pki.issue("proxy");
    metrics.certificateInUse(MetricNames.USE_LISTENER, leaf.cert());
    X509Certificate cert;
    try (var in = Files.newInputStream(leaf.cert())) {
      cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
    assertEquals(
        cert.getNotAfter().getTime() / 1000.0,
        scrape().value(MetricNames.CERTIFICATE_EXPIRY, "use", "listener"));

    Path notACertificate = Files.writeString(dir.resolve("garbage.pem"), "not a certificate");
    IOException e =
        assertThrows(
            IOException.class,
            () -> metrics.certificateInUse(MetricNames.USE_ETCD_CLIENT, notACertificate));
    assertTrue(e.getMessage().contains("garbage.pem"), e.getMessage());
  }
}
