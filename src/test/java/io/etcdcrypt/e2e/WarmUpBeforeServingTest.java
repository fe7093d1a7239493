package io.etcdcrypt.e2e;

import static io.etcdcrypt.testing.Clients.bs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Clients;
import io.etcdcrypt.testing.Command;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyProcess;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.ShippedJvm;
import io.etcdcrypt.testing.TestCodecs;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code serve} listens at once and runs its request path hot before {@code /readyz} passes,
 * without a request to the real etcd; {@code warm-up}, the same load on its own, trains a JDK 25
 * ahead-of-time cache that {@code serve} then starts from, as the image's build and entrypoint do.
 */
@RealComponents
@Timeout(180)
class WarmUpBeforeServingTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  /** The JDK the image ships (Dockerfile), where the machine has it. */
  private static final Path JDK_25 = ShippedJvm.TEMURIN_25;

  @Test
  void serveListensAtOnceAndIsReadyOnlyAfterItsWarmUpWhichWritesNothingToEtcd(@TempDir Path dir)
      throws Exception {
    try (ProxyProcess proxy =
            ProxyProcess.startListening(
                dir,
                List.of(
                    "--endpoints",
                    etcd.endpoint(),
                    "--encryption-provider-config",
                    config(dir).toString(),
                    "--warm-up-seconds",
                    "3"));
        Client direct = Clients.jetcd("http://" + etcd.endpoint());
        Client through = Clients.jetcd("http://" + proxy.endpoint())) {
      // Served while it warms up...
      through.getKVClient().put(bs("/registry/secrets/ns/s1"), bs("v1")).get(30, TimeUnit.SECONDS);
      // ...but not ready: a load balancer or a rollout waits for the warm-up.
      AtomicReference<HttpResponse<String>> warming = new AtomicReference<>();
      Await.until(
          "the admin endpoint answers",
          Duration.ofSeconds(30),
          () -> {
            try {
              warming.set(proxy.get("/readyz/warm-up"));
              return true;
            } catch (IOException notYet) {
              return false;
            }
          });
      assertNotEquals(200, warming.get().statusCode(), warming.get().body());
      assertTrue(warming.get().body().contains("warm-up"), warming.get().body());
      proxy.awaitReady();

      String log = proxy.output();
      int listening = log.indexOf("etcd-crypt-proxy listening on");
      int warmed = log.indexOf("warmed up: ");
      assertTrue(listening >= 0 && warmed > listening, "listening, then warmed up:\n" + log);
      assertTrue(
          log.contains("(aesgcm, aescbc)"), "the kinds of provider the config uses:\n" + log);
      assertFalse(log.contains("stopped early"), log);
      assertFalse(log.contains("127.0.0.1:0"), "the warm-up's proxy announces nothing:\n" + log);

      List<KeyValue> stored =
          direct
              .getKVClient()
              .get(bs("/"), GetOption.builder().isPrefix(true).build())
              .get(30, TimeUnit.SECONDS)
              .getKvs();
      List<String> keys = stored.stream().map(kv -> kv.getKey().toString()).toList();
      assertTrue(keys.contains("/registry/secrets/ns/s1"), keys::toString);
      assertTrue(
          keys.stream().noneMatch(k -> k.contains("warm-up")),
          "the warm-up wrote nothing to etcd: " + keys);
      KeyValue s1 = stored.get(keys.indexOf("/registry/secrets/ns/s1"));
      assertTrue(s1.getValue().toString().startsWith("k8s:enc:aesgcm:v1:key1:"));
      assertEquals(
          "v1",
          through
              .getKVClient()
              .get(bs("/registry/secrets/ns/s1"))
              .get(30, TimeUnit.SECONDS)
              .getKvs()
              .get(0)
              .getValue()
              .toString());
    }
  }

  @Test
  void theWarmUpCommandTrainsAnAotCacheThatServeStartsFrom(@TempDir Path dir) throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(JDK_25), "no JDK 25 at " + JDK_25);
    Path jar = Path.of(System.getProperty("proxy.jar", "target/etcd-crypt-proxy.jar"));
    Assumptions.assumeTrue(Files.isReadable(jar), "no built jar (run after package)");
    Path aot = dir.resolve("etcd-crypt-proxy.aot");
    String jarPath = jar.toAbsolutePath().toString();
    String options = "@" + Path.of("jvm.options").toAbsolutePath();

    Command.Result training =
        Command.run(
            Duration.ofSeconds(120),
            List.of(
                JDK_25.toString(),
                "-XX:AOTCacheOutput=" + aot,
                options,
                "-jar",
                jarPath,
                "warm-up",
                "--seconds",
                "2"));
    training.assertOk();
    assertTrue(training.stdout().contains("warm-up: "), training::toString);
    assertTrue(Files.size(aot) > 1 << 20, "an AOT cache of " + Files.size(aot) + " bytes");

    // AOTMode=on: the JVM refuses to start unless it can use the cache.
    List<String> serve =
        new ArrayList<>(List.of(JDK_25.toString(), options, "-XX:AOTCache=" + aot));
    serve.addAll(List.of("-XX:AOTMode=on", "-jar", jarPath));
    try (ProxyProcess proxy =
        ProxyProcess.startWithCommand(
            dir,
            serve,
            List.of(
                "--endpoints",
                etcd.endpoint(),
                "--encryption-provider-config",
                config(dir).toString(),
                "--warm-up-seconds",
                "0"))) {
      try (Client through = Clients.jetcd("http://" + proxy.endpoint())) {
        through
            .getKVClient()
            .put(bs("/registry/secrets/ns/aot"), bs("v"))
            .get(30, TimeUnit.SECONDS);
        assertEquals(
            1,
            through
                .getKVClient()
                .get(bs("/registry/secrets/ns/aot"))
                .get(30, TimeUnit.SECONDS)
                .getCount());
      }
      assertFalse(proxy.output().contains("[warning][aot]"), proxy.output());
    }
  }

  private static Path config(Path dir) throws Exception {
    return Files.writeString(
        dir.resolve("encryption.yaml"),
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
            + "  - resources: [secrets]\n    providers:\n"
            + "      - aesgcm: {keys: [{name: key1, secret: "
            + TestCodecs.randomKey(32)
            + "}]}\n      - identity: {}\n"
            + "  - resources: [configmaps]\n    providers:\n"
            + "      - aescbc: {keys: [{name: key1, secret: "
            + TestCodecs.randomKey(32)
            + "}]}\n");
  }
}
