package io.etcdcrypt.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.observe.MetricNames;
import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.FreePorts;
import io.etcdcrypt.testing.JavaProcess;
import io.etcdcrypt.testing.KmsPluginFixture;
import io.etcdcrypt.testing.PrometheusText;
import io.etcdcrypt.testing.RealComponents;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code serve} warns about a KMS v1 provider, also one whose apiVersion is left out, when it
 * starts and on every reload: kube-apiserver 1.29+ refuses such a file without its KMSv1 feature
 * gate.
 */
@RealComponents
@Timeout(120)
class KmsV1WarningTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @TempDir Path dir;

  private static String v1(String endpoint, String timeout) {
    return OpsFixtures.config(
        "secrets", "kms: {name: legacy, endpoint: '" + endpoint + "', timeout: " + timeout + "}");
  }

  private static long warnings(String log) {
    return log.lines()
        .filter(l -> l.contains("WARN") && l.contains("kms.apiVersion: KMS v1 (apiVersion v1, or"))
        .filter(l -> l.contains("--feature-gates=KMSv1=true") && l.contains("use apiVersion: v2"))
        .count();
  }

  @Test
  void serveWarnsAtStartAndOnReloadAndExportsTheProvider() throws Exception {
    try (KmsPluginFixture plugin = KmsPluginFixture.start(dir)) {
      String endpoint = plugin.endpoint().url();
      Path config = OpsFixtures.write(dir.resolve("enc.yaml"), v1(endpoint, "3s"));
      int metricsPort = FreePorts.next();
      try (JavaProcess serve =
          JavaProcess.start(
              dir.resolve("serve.log"),
              Map.of(),
              "serve",
              "--listen-addr",
              "127.0.0.1:" + FreePorts.next(),
              "--endpoints",
              etcd.endpoint(),
              "--encryption-provider-config",
              config.toString(),
              "--encryption-provider-config-automatic-reload",
              "--metrics-addr",
              "127.0.0.1:" + metricsPort)) {
        Await.until(
            "a warning at start:\n" + serve.output(),
            Duration.ofSeconds(30),
            () -> warnings(serve.output()) == 1);
        // The warning comes with the configuration, before the admin endpoint listens.
        Await.until(
            "the deprecated provider visible to monitoring",
            Duration.ofSeconds(30),
            () -> kmsV1Providers(metricsPort).equals(Set.of("legacy")));
        OpsFixtures.write(config, v1(endpoint, "4s"));
        Await.until(
            "a warning on reload:\n" + serve.output(),
            Duration.ofSeconds(60),
            () -> warnings(serve.output()) >= 2);
        assertTrue(serve.isAlive(), serve::output);
      }
    }
  }

  /** The providers {@value MetricNames#KMS_V1_PROVIDER} marks with 1; empty while unreachable. */
  private static Set<String> kmsV1Providers(int port) {
    String text;
    try {
      text =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                      .timeout(Duration.ofSeconds(10))
                      .build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
    } catch (IOException e) {
      return Set.of();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Set.of();
    }
    return PrometheusText.parse(text).samples(MetricNames.KMS_V1_PROVIDER).stream()
        .filter(sample -> sample.value() == 1.0)
        .map(sample -> sample.labels().get("provider"))
        .collect(Collectors.toSet());
  }
}
