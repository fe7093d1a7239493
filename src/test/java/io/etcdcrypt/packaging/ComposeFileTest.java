package io.etcdcrypt.packaging;

import static io.etcdcrypt.packaging.Yaml.at;
import static io.etcdcrypt.packaging.Yaml.list;
import static io.etcdcrypt.packaging.Yaml.map;
import static io.etcdcrypt.packaging.Yaml.strings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.cli.Main;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.testing.RealComponents;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * docker-compose.yml: valid for {@code docker-compose config} (no Docker engine needed), and its
 * services wired to each other: the proxy's flags, the KMS socket both containers share, Prometheus
 * scraping the proxy's --metrics-addr, Grafana provisioned with the chart's dashboard.
 */
@RealComponents
class ComposeFileTest {

  private static final Path COMPOSE = Path.of("docker-compose.yml").toAbsolutePath();
  private static final Path EXAMPLE_CONFIG =
      Path.of("config", "encryption-config.yaml").toAbsolutePath();

  private static Map<String, Object> services;

  @BeforeAll
  static void load() throws IOException {
    services = map(Yaml.load(COMPOSE).get("services"));
  }

  @Test
  void validatesWithDockerComposeConfig() throws Exception {
    Result r = dockerComposeConfig(COMPOSE);
    assertEquals(0, r.exitCode, r.output);
  }

  @Test
  void dockerComposeConfigRejectsABrokenFile(@TempDir Path dir) throws Exception {
    Path broken =
        Files.writeString(
            dir.resolve("docker-compose.yml"),
            "services:\n  proxy:\n    image: etcd-crypt-proxy:dev\n    depends_on: [etcd]\n    ports: 23790\n");

    Result r = dockerComposeConfig(broken);
    assertNotEquals(
        0,
        r.exitCode,
        "docker-compose config accepted a broken file, so it checks nothing: " + r.output);
  }

  @Test
  void hasTheDemoServices() {
    assertEquals(
        List.of("client", "etcd", "grafana", "kms-plugin", "prometheus", "proxy"),
        services.keySet().stream().sorted().toList());
    assertTrue(
        String.valueOf(at(services, "etcd", "image"))
            .matches("(quay\\.io/coreos|gcr\\.io/etcd-development)/etcd:v3\\..*"));
  }

  @Test
  void proxyFlagsAreAcceptedByServe() {
    List<String> args = strings(at(services, "proxy", "command"));
    assertEquals("serve", args.get(0));
    try {
      Main.commandLine().parseArgs(args.toArray(String[]::new));
    } catch (CommandLine.ParameterException e) {
      throw new AssertionError(
          "serve rejects the compose file's flags " + args + ": " + e.getMessage(), e);
    }
    assertEquals("http://etcd:2379", flag(args, "--endpoints"));
  }

  @Test
  void proxyReadsTheExampleConfigurationFromTheRepository() {
    String target = flag(strings(at(services, "proxy", "command")), "--encryption-provider-config");
    assertTrue(
        strings(at(services, "proxy", "volumes"))
            .contains("./config/encryption-config.yaml:" + target + ":ro"),
        "the proxy must mount config/encryption-config.yaml at " + target);
  }

  @Test
  void kmsPluginAndProxyShareTheSocketTheConfigurationNames() throws Exception {
    String endpoint =
        EncryptionConfigLoader.load(EXAMPLE_CONFIG).rules().stream()
            .flatMap(r -> r.providers().stream())
            .filter(p -> p instanceof ProviderConfig.Kms)
            .map(p -> ((ProviderConfig.Kms) p).endpoint())
            .findFirst()
            .orElseThrow();
    String socketDir = endpoint.substring("unix://".length(), endpoint.lastIndexOf('/'));

    String proxyVolume = namedVolumeAt("proxy", socketDir);
    String pluginVolume = namedVolumeAt("kms-plugin", socketDir);
    assertEquals(
        proxyVolume, pluginVolume, "both containers must mount the same volume at " + socketDir);

    String pluginCommand = String.join(" ", strings(at(services, "kms-plugin", "command")));
    assertTrue(pluginCommand.contains("--listen " + endpoint), pluginCommand);
  }

  @Test
  void kmsPluginGeneratesItsKeyIntoAVolumeNeverFromTheRepository() {
    String command = String.join(" ", strings(at(services, "kms-plugin", "command")));
    String keyFile = command.replaceAll(".*generate-key --key-file ([^\\s;]+).*", "$1");
    assertNotEquals(
        command, keyFile, "the plugin must create its key with generate-key: " + command);
    assertTrue(command.contains("test -s " + keyFile), "only when absent: " + command);
    assertTrue(
        command.contains("kms-plugin --listen") && command.contains("--key-file " + keyFile),
        command);
    String keyDir = keyFile.substring(0, keyFile.lastIndexOf('/'));
    namedVolumeAt("kms-plugin", keyDir);
  }

  @Test
  void prometheusScrapesTheProxysMetricsAddress() throws Exception {
    String metricsAddr = flag(strings(at(services, "proxy", "command")), "--metrics-addr");
    String port = metricsAddr.substring(metricsAddr.lastIndexOf(':') + 1);
    String mount = strings(at(services, "prometheus", "volumes")).get(0);
    assertTrue(
        mount.startsWith("./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml"),
        mount);

    Map<String, Object> prometheus = Yaml.load(Path.of("deploy/prometheus/prometheus.yml"));
    Map<String, Object> job = map(list(prometheus.get("scrape_configs")).get(0));
    assertEquals("/metrics", job.get("metrics_path"));
    List<String> targets = strings(map(list(job.get("static_configs")).get(0)).get("targets"));
    assertEquals(List.of("proxy:" + port), targets);
  }

  @Test
  void prometheusEvaluatesTheChartsAlertRules() throws Exception {
    String rules =
        strings(at(services, "prometheus", "volumes")).stream()
            .filter(v -> v.startsWith("./charts/etcd-crypt-proxy/alerts:"))
            .findFirst()
            .orElseThrow(() -> new AssertionError("the chart's alert rules are not mounted"));
    String target = rules.split(":")[1];
    Map<String, Object> prometheus = Yaml.load(Path.of("deploy/prometheus/prometheus.yml"));
    assertEquals(
        List.of(target + "/etcd-crypt-proxy.rules.yaml"), strings(prometheus.get("rule_files")));
    assertTrue(
        Files.isRegularFile(Path.of("charts/etcd-crypt-proxy/alerts/etcd-crypt-proxy.rules.yaml")));
  }

  @Test
  void grafanaIsProvisionedWithTheChartsDashboard() throws Exception {
    List<String> volumes = strings(at(services, "grafana", "volumes"));
    assertTrue(
        volumes.contains("./deploy/grafana/provisioning:/etc/grafana/provisioning:ro"),
        volumes.toString());
    String dashboards =
        volumes.stream()
            .filter(v -> v.startsWith("./charts/etcd-crypt-proxy/dashboards:"))
            .findFirst()
            .orElseThrow(
                () -> new AssertionError("the chart's dashboards are not mounted: " + volumes));
    String dashboardsTarget = dashboards.split(":")[1];

    Map<String, Object> provider =
        map(
            list(Yaml.load(Path.of("deploy/grafana/provisioning/dashboards/etcd-crypt-proxy.yml"))
                    .get("providers"))
                .get(0));
    assertEquals(dashboardsTarget, at(provider, "options", "path"));
    Map<String, Object> datasource =
        map(
            list(Yaml.load(Path.of("deploy/grafana/provisioning/datasources/prometheus.yml"))
                    .get("datasources"))
                .get(0));
    assertEquals("prometheus", datasource.get("type"));
    assertEquals("http://prometheus:9090", datasource.get("url"));
    assertTrue(
        Files.isRegularFile(Path.of("charts/etcd-crypt-proxy/dashboards/etcd-crypt-proxy.json")));
  }

  @Test
  void clientWritesThroughTheProxyAndReadsEtcdDirectly() {
    Map<String, Object> env = map(at(services, "client", "environment"));
    String proxyPort =
        flag(strings(at(services, "proxy", "command")), "--listen-addr").replaceAll(".*:", "");
    assertEquals("http://proxy:" + proxyPort, env.get("PROXY"));
    assertEquals("http://etcd:2379", env.get("ETCD"));
    assertTrue(
        strings(at(services, "client", "volumes")).contains("./deploy/client/demo.sh:/demo.sh:ro"));
  }

  private static String namedVolumeAt(String service, String containerPath) {
    String mount =
        strings(at(services, service, "volumes")).stream()
            .filter(v -> v.split(":")[1].equals(containerPath))
            .findFirst()
            .orElseThrow(() -> new AssertionError(service + " mounts nothing at " + containerPath));
    String source = mount.split(":")[0];
    assertFalse(
        source.startsWith(".") || source.startsWith("/"),
        service
            + ": "
            + containerPath
            + " must be a named volume, not a directory of the repository or host: "
            + mount);
    return source;
  }

  private static String flag(List<String> args, String name) {
    return args.stream()
        .filter(a -> a.startsWith(name + "="))
        .map(a -> a.substring(name.length() + 1))
        .findFirst()
        .orElseThrow(() -> new AssertionError(name + " missing from " + args));
  }

  private record Result(int exitCode, String output) {}

  /**
   * {@code docker-compose -f FILE config -q}; fails the test when docker-compose is not installed.
   */
  private static Result dockerComposeConfig(Path file) throws Exception {
    String binary =
        dockerComposeBinary()
            .orElseThrow(
                () ->
                    new AssertionError(
                        "docker-compose is not installed: scripts/test.sh installs Debian's docker-compose package"));
    File output = File.createTempFile("docker-compose", ".out");
    try {
      Process p =
          new ProcessBuilder(binary, "-f", file.toString(), "config", "-q")
              .directory(file.getParent().toFile())
              .redirectErrorStream(true)
              .redirectOutput(output)
              .start();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("docker-compose config did not finish within 120 s");
      }
      return new Result(p.exitValue(), Files.readString(output.toPath(), StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(output.toPath());
    }
  }

  private static Optional<String> dockerComposeBinary() {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
      Path candidate = Path.of(dir, "docker-compose");
      if (Files.isExecutable(candidate)) {
        return Optional.of(candidate.toString());
      }
    }
    return Optional.empty();
  }
}
