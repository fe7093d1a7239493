package io.etcdcrypt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.observe.MetricNames;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.Etcdctl;
import io.etcdcrypt.testing.FreePorts;
import io.etcdcrypt.testing.JavaProcess;
import io.etcdcrypt.testing.PrometheusText;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code serve} command as an operator runs it, in its own JVM: it serves, reports health,
 * applies a rotated key from a changed configuration file without a restart, keeps the running
 * configuration when the file is broken, and re-encrypts stale values that clients read.
 */
@RealComponents
class ServeCommandTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  private static final HttpClient http = HttpClient.newHttpClient();

  private static String config(String... keys) {
    StringBuilder k = new StringBuilder();
    for (String key : keys) {
      k.append(k.length() == 0 ? "" : ", ").append(key);
    }
    return String.join(
        "\n",
        "apiVersion: apiserver.config.k8s.io/v1",
        "kind: EncryptionConfiguration",
        "resources:",
        "  - resources: [secrets]",
        "    providers:",
        "      - aesgcm: {keys: [" + k + "]}",
        "      - identity: {}",
        "");
  }

  private static void replace(Path file, String content) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, content);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static int status(String url) {
    try {
      return http.send(
              HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
              HttpResponse.BodyHandlers.discarding())
          .statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /**
   * The {@code serve} process's count of configuration files it read and rejected, from its
   * /metrics.
   */
  private static double rejectedReloads(String metricsUrl) {
    try {
      String text =
          http.send(
                  HttpRequest.newBuilder(URI.create(metricsUrl))
                      .timeout(Duration.ofSeconds(5))
                      .build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      return PrometheusText.parse(text)
          .sum(MetricNames.CONFIG_RELOADS, "status", MetricNames.RELOAD_FAILURE);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted reading " + metricsUrl, e);
    }
  }

  @Test
  void servesReloadsAKeyRotationAndRewritesStaleValuesOnRead(@TempDir Path dir) throws Exception {
    String key1 = "{name: key1, secret: " + TestCodecs.randomKey(32) + "}";
    String key2 = "{name: key2, secret: " + TestCodecs.randomKey(32) + "}";
    Path file = dir.resolve("encryption-config.yaml");
    Files.writeString(file, config(key1));
    int port = FreePorts.next();
    int admin = FreePorts.next();
    try (JavaProcess serve =
        JavaProcess.start(
            dir.resolve("serve.log"),
            Map.of(),
            "serve",
            "--listen-addr",
            "127.0.0.1:" + port,
            "--endpoints",
            etcd.endpoint(),
            "--encryption-provider-config",
            file.toString(),
            "--metrics-addr",
            "127.0.0.1:" + admin,
            "--encryption-provider-config-automatic-reload",
            "--rewrite-stale-on-read",
            "--log-format",
            "json")) {
      String readyz = "http://127.0.0.1:" + admin + "/readyz";
      Await.until(
          "serve ready:\n" + serve.output(), Duration.ofSeconds(30), () -> status(readyz) == 200);
      assertEquals(200, status("http://127.0.0.1:" + admin + "/livez"));

      Etcdctl proxy = new Etcdctl("127.0.0.1:" + port);
      Etcdctl raw = new Etcdctl(etcd.endpoint());
      String old = "/registry/secrets/serve/old";
      proxy.run("put", old, "written-under-key1").assertOk();
      assertTrue(
          raw.run("get", old, "--print-value-only")
              .assertOk()
              .stdout()
              .startsWith("k8s:enc:aesgcm:v1:key1:"));

      // Rotate: key2 first (it encrypts), key1 kept to read old data. No restart.
      replace(file, config(key2, key1));
      String fresh = "/registry/secrets/serve/fresh";
      Await.until(
          "the rotated configuration to be applied",
          Duration.ofSeconds(30),
          () -> {
            proxy.run("put", fresh, "new").assertOk();
            return raw.run("get", fresh, "--print-value-only")
                .stdout()
                .startsWith("k8s:enc:aesgcm:v1:key2:");
          });

      // Reading the old value finds it stale: the proxy rewrites it under key2 in the background.
      assertEquals(
          "written-under-key1",
          proxy.run("get", old, "--print-value-only").assertOk().stdout().trim());
      Await.until(
          "the stale value to be rewritten",
          Duration.ofSeconds(30),
          () ->
              raw.run("get", old, "--print-value-only")
                  .stdout()
                  .startsWith("k8s:enc:aesgcm:v1:key2:"));
      assertEquals(
          "written-under-key1",
          proxy.run("get", old, "--print-value-only").assertOk().stdout().trim());

      // A broken file keeps the running configuration.
      String metrics = "http://127.0.0.1:" + admin + "/metrics";
      double rejectedBefore = rejectedReloads(metrics);
      Files.writeString(
          file,
          "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: [");
      Await.until(
          "serve to read and reject the broken file",
          Duration.ofSeconds(30),
          () -> rejectedReloads(metrics) > rejectedBefore);
      proxy.run("put", fresh, "still-key2").assertOk();
      assertTrue(
          raw.run("get", fresh, "--print-value-only")
              .stdout()
              .startsWith("k8s:enc:aesgcm:v1:key2:"));
      assertEquals(200, status(readyz));
      assertTrue(
          serve.output().contains("\"level\":\"ERROR\"")
              || serve.output().contains("\"level\":\"WARN\""),
          "the rejected file must be logged:\n" + serve.output());

      // A supervisor's SIGTERM stops it cleanly, with status 0 (not the JVM's 143).
      assertEquals(0, serve.terminate(), serve.output());
      assertTrue(serve.output().contains("shut down cleanly"), serve.output());
    }
  }
}
