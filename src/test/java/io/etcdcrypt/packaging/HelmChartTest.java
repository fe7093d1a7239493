package io.etcdcrypt.packaging;

import static io.etcdcrypt.packaging.RenderedChart.NAMESPACE;
import static io.etcdcrypt.packaging.RenderedChart.flag;
import static io.etcdcrypt.packaging.RenderedChart.mountHolding;
import static io.etcdcrypt.packaging.RenderedChart.port;
import static io.etcdcrypt.packaging.RenderedChart.portOf;
import static io.etcdcrypt.packaging.RenderedChart.requiredFlag;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import io.etcdcrypt.cli.Main;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.testing.RealComponents;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretVolumeSource;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import picocli.CommandLine;

/**
 * The Helm chart: {@code helm lint --strict} and {@code helm template} run in-process; the rendered
 * manifests are checked for every point of the chart's contract, with the default values and with
 * each option turned on.
 */
@RealComponents
class HelmChartTest {

  private static final String FULLNAME = RenderedChart.RELEASE + "-etcd-crypt-proxy";
  private static final Path EXAMPLE_CONFIG =
      Path.of("config", "encryption-config.yaml").toAbsolutePath();
  private static final Path DASHBOARD =
      RenderedChart.CHART.resolve("dashboards/etcd-crypt-proxy.json");
  private static final Path ALERT_RULES =
      RenderedChart.CHART.resolve("alerts/etcd-crypt-proxy.rules.yaml");

  private static RenderedChart defaults;
  private static RenderedChart withSidecar;
  private static RenderedChart withServiceMonitor;
  private static RenderedChart withHostNetwork;

  @BeforeAll
  static void render() {
    defaults = RenderedChart.render(Map.of());
    withSidecar = RenderedChart.render(Map.of("kmsPlugin.enabled", true));
    withServiceMonitor =
        RenderedChart.render(
            Map.of(
                "metrics.serviceMonitor.enabled",
                true,
                "metrics.serviceMonitor.labels.release",
                "kube-prometheus"));
    withHostNetwork = RenderedChart.render(Map.of("hostNetwork", true));
  }

  private static Stream<RenderedChart> everyRendering() {
    return Stream.of(defaults, withSidecar, withServiceMonitor, withHostNetwork);
  }

  @Test
  void lintStrictIsClean() {
    LintResult result = new Helm(RenderedChart.CHART).lint().strict().call();

    assertFalse(result.isFailed(), () -> String.join("\n", result.getMessages()));
    assertTrue(
        result.getMessages().stream()
            .noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]")),
        () -> String.join("\n", result.getMessages()));
  }

  @Test
  void runsAsADaemonSetOnControlPlaneNodesOnly() {
    assertTrue(
        defaults.all(Deployment.class).isEmpty() && defaults.all(StatefulSet.class).isEmpty());
    DaemonSet ds = defaults.daemonSet();
    PodSpec pod = defaults.pod();

    assertEquals(Map.of("node-role.kubernetes.io/control-plane", ""), pod.getNodeSelector());
    Toleration controlPlane =
        pod.getTolerations().stream()
            .filter(t -> "node-role.kubernetes.io/control-plane".equals(t.getKey()))
            .findFirst()
            .orElseThrow(
                () ->
                    new AssertionError(
                        "no toleration for the control-plane taint: " + pod.getTolerations()));
    assertEquals("Exists", controlPlane.getOperator());
    assertEquals("NoSchedule", controlPlane.getEffect());
    assertEquals("system-node-critical", pod.getPriorityClassName());
    Map<String, String> podLabels = ds.getSpec().getTemplate().getMetadata().getLabels();
    assertTrue(
        podLabels.entrySet().containsAll(ds.getSpec().getSelector().getMatchLabels().entrySet()),
        "the DaemonSet's selector must match its own pods");
    assertEquals(NAMESPACE, ds.getMetadata().getNamespace());
  }

  @Test
  void everyRenderingPassesArgumentsTheCommandsAccept() {
    everyRendering()
        .forEach(
            chart -> {
              List<String> proxyArgs = chart.container("proxy").getArgs();
              assertEquals("serve", proxyArgs.get(0));
              assertParses(proxyArgs);
            });
    assertParses(withSidecar.container("kms-plugin").getArgs());
  }

  private static void assertParses(List<String> args) {
    try {
      Main.commandLine().parseArgs(args.toArray(String[]::new));
    } catch (CommandLine.ParameterException e) {
      throw new AssertionError(
          "the CLI rejects the chart's arguments " + args + ": " + e.getMessage(), e);
    }
  }

  @Test
  void jvmOptionsComeAfterTheImagesOwnFile() throws Exception {
    List<String> command = defaults.container("proxy").getCommand();
    assertTrue(
        command == null || command.isEmpty(),
        "by default the image's entrypoint runs, with /app/jvm.options: " + command);
    Container proxy =
        RenderedChart.render(
                Map.of(
                    "proxy.jvmOptions[0]",
                    "-Xmx384m",
                    "proxy.jvmOptions[1]",
                    "-XX:MaxDirectMemorySize=256m"))
            .container("proxy");
    // The image's entrypoint (its options file, its AOT cache), with the options before -jar.
    List<String> entrypoint = dockerfileEntrypoint();
    List<String> expected = new ArrayList<>(entrypoint.subList(0, entrypoint.size() - 2));
    expected.addAll(List.of("-Xmx384m", "-XX:MaxDirectMemorySize=256m"));
    expected.addAll(entrypoint.subList(entrypoint.size() - 2, entrypoint.size()));
    assertEquals(
        expected,
        proxy.getCommand(),
        "the image's options first: of a repeated option the last counts");
    assertEquals("serve", proxy.getArgs().get(0));
  }

  /** The Dockerfile's ENTRYPOINT, its exec form's words. */
  private static List<String> dockerfileEntrypoint() throws Exception {
    String line =
        Files.readAllLines(Path.of("Dockerfile")).stream()
            .filter(l -> l.startsWith("ENTRYPOINT ["))
            .findFirst()
            .orElseThrow();
    List<String> words = new ArrayList<>();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"([^\"]*)\"").matcher(line);
    while (m.find()) {
      words.add(m.group(1));
    }
    return words;
  }

  @Test
  void etcdEndpointsDefaultToTheNodeIp() {
    Container proxy = defaults.container("proxy");

    assertEquals("https://$(HOST_IP):2379", requiredFlag(proxy, "--endpoints"));
    assertEquals(
        "status.hostIP", env(proxy, "HOST_IP").getValueFrom().getFieldRef().getFieldPath());
    assertEquals("/registry", requiredFlag(proxy, "--etcd-prefix"));
  }

  @Test
  void encryptionConfigurationComesFromASecretNeverAConfigMap() {
    everyRendering()
        .forEach(
            chart -> {
              Container proxy = chart.container("proxy");
              String file = requiredFlag(proxy, "--encryption-provider-config");
              Volume volume = chart.volumeHolding(proxy, file);
              SecretVolumeSource secret = volume.getSecret();

              assertNotNull(
                  secret, "the EncryptionConfiguration volume must be a Secret, not " + volume);
              assertEquals(FULLNAME + "-encryption-config", secret.getSecretName());
              VolumeMount mount = mountHolding(proxy, file);
              assertTrue(mount.getReadOnly());
              String fileName = file.substring(mount.getMountPath().length() + 1);
              assertTrue(
                  secret.getItems().stream()
                      .anyMatch(
                          i ->
                              "encryption-config.yaml".equals(i.getKey())
                                  && fileName.equals(i.getPath())),
                  "the flag must name the Secret's file: " + file + " vs " + secret.getItems());
              assertEquals(0440, secret.getDefaultMode());
              assertTrue(
                  chart.pod().getVolumes().stream().allMatch(v -> v.getConfigMap() == null),
                  "no ConfigMap volume at all");
              assertTrue(chart.all(ConfigMap.class).isEmpty(), "no ConfigMap by default");
              // By default the chart creates no Secret holding keys: the operator creates it out of
              // band.
              assertTrue(chart.all(Secret.class).isEmpty());
            });
  }

  @Test
  void chartCreatedEncryptionConfigurationIsASecretHoldingTheFile() throws Exception {
    RenderedChart chart =
        RenderedChart.parse(
            RenderedChart.template()
                .set("encryptionConfig.create", true)
                .setFile("encryptionConfig.content", EXAMPLE_CONFIG)
                .call());

    Secret secret = chart.one(Secret.class);
    assertEquals(FULLNAME + "-encryption-config", secret.getMetadata().getName());
    assertEquals(
        Files.readString(EXAMPLE_CONFIG),
        new String(
            Base64.getDecoder().decode(secret.getData().get("encryption-config.yaml")),
            StandardCharsets.UTF_8));
    assertEquals(
        secret.getMetadata().getName(),
        chart
            .volumeHolding(
                chart.container("proxy"),
                requiredFlag(chart.container("proxy"), "--encryption-provider-config"))
            .getSecret()
            .getSecretName());
    assertTrue(chart.all(ConfigMap.class).isEmpty());
    assertNotNull(
        chart
            .daemonSet()
            .getSpec()
            .getTemplate()
            .getMetadata()
            .getAnnotations()
            .get("checksum/encryption-config"),
        "pods must restart when the chart-managed file changes");
  }

  @Test
  void tlsSecretsAreMountedAndWiredToTheServeFlags() {
    Container proxy = defaults.container("proxy");

    assertTlsFlags(
        defaults,
        proxy,
        FULLNAME + "-listener-tls",
        "--cert-file",
        "--key-file",
        "--trusted-ca-file");
    assertTlsFlags(defaults, proxy, FULLNAME + "-etcd-client-tls", "--cert", "--key", "--cacert");

    RenderedChart noClientCerts =
        RenderedChart.render(Map.of("tls.listener.requireClientCert", false));
    assertTrue(flag(noClientCerts.container("proxy"), "--trusted-ca-file").isEmpty());
    assertTrue(flag(noClientCerts.container("proxy"), "--cert-file").isPresent());

    RenderedChart plain =
        RenderedChart.render(Map.of("tls.listener.enabled", false, "tls.upstream.enabled", false));
    Container plainProxy = plain.container("proxy");
    for (String f :
        List.of("--cert-file", "--key-file", "--trusted-ca-file", "--cert", "--key", "--cacert")) {
      assertTrue(flag(plainProxy, f).isEmpty(), f + " without TLS");
    }
    assertTrue(plain.pod().getVolumes().stream().noneMatch(v -> v.getName().endsWith("-tls")));
  }

  private static void assertTlsFlags(
      RenderedChart chart,
      Container proxy,
      String secretName,
      String certFlag,
      String keyFlag,
      String caFlag) {
    Map<String, String> expectedFiles =
        Map.of(certFlag, "tls.crt", keyFlag, "tls.key", caFlag, "ca.crt");
    expectedFiles.forEach(
        (f, fileName) -> assertFileFromSecret(chart, proxy, f, secretName, fileName));
  }

  @Test
  void probesUseLivezAndReadyzOnTheMetricsPort() {
    everyRendering()
        .forEach(
            chart -> {
              Container proxy = chart.container("proxy");
              String metricsAddr = requiredFlag(proxy, "--metrics-addr");
              assertTrue(
                  metricsAddr.startsWith("$(POD_IP):"),
                  "the kubelet reaches the probes on the pod's IP, and nothing else should bind: "
                      + metricsAddr);
              assertEquals(
                  "status.podIP", env(proxy, "POD_IP").getValueFrom().getFieldRef().getFieldPath());
              int metricsPort = port(proxy, "metrics");
              assertEquals(portOf(metricsAddr), metricsPort);

              assertProbe(proxy.getLivenessProbe(), "/livez", proxy);
              assertProbe(proxy.getReadinessProbe(), "/readyz", proxy);
              assertProbe(proxy.getStartupProbe(), "/livez", proxy);
            });
  }

  private static EnvVar env(Container c, String name) {
    return c.getEnv().stream()
        .filter(e -> name.equals(e.getName()))
        .findFirst()
        .orElseThrow(
            () -> new AssertionError("$(" + name + ") is used but " + name + " is not defined"));
  }

  private static void assertProbe(Probe probe, String path, Container c) {
    assertNotNull(probe, path + " probe missing");
    HTTPGetAction get = probe.getHttpGet();
    assertEquals(path, get.getPath());
    String portName = get.getPort().getStrVal();
    assertEquals(portOf(requiredFlag(c, "--metrics-addr")), port(c, portName));
  }

  @Test
  void metricsTlsServesHttpsFromItsSecretAndTheProbesFollow() {
    Container plain = defaults.container("proxy");
    for (String f :
        List.of("--metrics-cert-file", "--metrics-key-file", "--metrics-client-ca-file")) {
      assertTrue(flag(plain, f).isEmpty(), f + " is off by default");
    }
    assertEquals("HTTP", plain.getReadinessProbe().getHttpGet().getScheme());

    RenderedChart https = RenderedChart.render(Map.of("metrics.tls.enabled", true));
    Container proxy = https.container("proxy");
    assertParses(proxy.getArgs());
    assertFileFromSecret(https, proxy, "--metrics-cert-file", FULLNAME + "-metrics-tls", "tls.crt");
    assertFileFromSecret(https, proxy, "--metrics-key-file", FULLNAME + "-metrics-tls", "tls.key");
    assertTrue(flag(proxy, "--metrics-client-ca-file").isEmpty());
    for (Probe probe :
        List.of(proxy.getStartupProbe(), proxy.getLivenessProbe(), proxy.getReadinessProbe())) {
      assertEquals("HTTPS", probe.getHttpGet().getScheme());
    }
    assertEquals("/readyz", proxy.getReadinessProbe().getHttpGet().getPath());
  }

  /**
   * With client certificates required, the kubelet (which presents none) probes readiness on
   * /healthz, open to it, instead of /readyz.
   */
  @Test
  void metricsClientCaIsMountedAndReadinessIsProbedOnTheOpenPath() {
    RenderedChart chart =
        RenderedChart.render(
            Map.of(
                "metrics.tls.enabled", true,
                "metrics.tls.secretName", "proxy-metrics",
                "metrics.tls.clientCASecretName", "scraper-ca"));
    Container proxy = chart.container("proxy");
    assertParses(proxy.getArgs());
    assertFileFromSecret(chart, proxy, "--metrics-cert-file", "proxy-metrics", "tls.crt");
    assertFileFromSecret(chart, proxy, "--metrics-client-ca-file", "scraper-ca", "ca.crt");
    assertEquals("/healthz", proxy.getReadinessProbe().getHttpGet().getPath());
    assertEquals("/livez", proxy.getLivenessProbe().getHttpGet().getPath());
    assertEquals("HTTPS", proxy.getReadinessProbe().getHttpGet().getScheme());
  }

  private static void assertFileFromSecret(
      RenderedChart chart, Container proxy, String flag, String secretName, String fileName) {
    String path = requiredFlag(proxy, flag);
    Volume volume = chart.volumeHolding(proxy, path);
    assertNotNull(volume.getSecret(), flag + " must come from a Secret");
    assertEquals(secretName, volume.getSecret().getSecretName(), flag);
    assertTrue(mountHolding(proxy, path).getReadOnly(), flag);
    assertEquals(mountHolding(proxy, path).getMountPath() + "/" + fileName, path, flag);
  }

  @Test
  @SuppressWarnings("unchecked")
  void serviceMonitorScrapesOverHttpsWithItsTlsConfig() {
    Map<String, Object> sets = new java.util.HashMap<>();
    sets.put("metrics.serviceMonitor.enabled", true);
    sets.put("metrics.tls.enabled", true);
    Map<String, Object> skipVerify = monitorEndpoint(RenderedChart.render(sets));
    assertEquals("https", skipVerify.get("scheme"));
    assertEquals(Map.of("insecureSkipVerify", true), skipVerify.get("tlsConfig"));

    sets.put("metrics.tls.clientCASecretName", "scraper-ca");
    sets.put("metrics.serviceMonitor.tlsConfig.caSecretName", "proxy-metrics-ca");
    sets.put("metrics.serviceMonitor.tlsConfig.serverName", "etcd-crypt-proxy-metrics");
    sets.put("metrics.serviceMonitor.tlsConfig.clientCertSecretName", "prometheus-client");
    Map<String, Object> tls =
        (Map<String, Object>) monitorEndpoint(RenderedChart.render(sets)).get("tlsConfig");
    assertEquals(
        Map.of(
            "ca", Map.of("secret", Map.of("name", "proxy-metrics-ca", "key", "ca.crt")),
            "serverName", "etcd-crypt-proxy-metrics",
            "cert", Map.of("secret", Map.of("name", "prometheus-client", "key", "tls.crt")),
            "keySecret", Map.of("name", "prometheus-client", "key", "tls.key")),
        tls);

    assertEquals("http", monitorEndpoint(withServiceMonitor).get("scheme"));
    assertFalse(monitorEndpoint(withServiceMonitor).containsKey("tlsConfig"));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> monitorEndpoint(RenderedChart chart) {
    GenericKubernetesResource monitor =
        (GenericKubernetesResource) chart.ofKind("ServiceMonitor").get(0);
    Map<String, Object> spec = (Map<String, Object>) monitor.getAdditionalProperties().get("spec");
    return ((List<Map<String, Object>>) spec.get("endpoints")).get(0);
  }

  /** Metrics TLS values that cannot work are refused with what to set. */
  @Test
  void metricsTlsValuesThatCannotWorkFailTheRendering() {
    IllegalStateException noHttps =
        assertThrows(
            IllegalStateException.class,
            () -> RenderedChart.render(Map.of("metrics.tls.clientCASecretName", "scraper-ca")));
    assertTrue(
        noHttps.getMessage().contains("metrics.tls.clientCASecretName needs metrics.tls.enabled"),
        noHttps.getMessage());
    IllegalStateException noClientCert =
        assertThrows(
            IllegalStateException.class,
            () ->
                RenderedChart.render(
                    Map.of(
                        "metrics.tls.enabled", true,
                        "metrics.tls.clientCASecretName", "scraper-ca",
                        "metrics.serviceMonitor.enabled", true)));
    assertTrue(
        noClientCert
            .getMessage()
            .contains("set metrics.serviceMonitor.tlsConfig.clientCertSecretName"),
        noClientCert.getMessage());
  }

  @Test
  void metricsServiceSelectsTheProxiesAndNoServiceMonitorByDefault() {
    Service service = defaults.one(Service.class);
    ServicePort port = service.getSpec().getPorts().get(0);

    assertEquals("metrics", port.getName());
    assertEquals("metrics", port.getTargetPort().getStrVal());
    assertEquals(port(defaults.container("proxy"), "metrics"), port.getPort());
    Map<String, String> podLabels =
        defaults.daemonSet().getSpec().getTemplate().getMetadata().getLabels();
    assertTrue(podLabels.entrySet().containsAll(service.getSpec().getSelector().entrySet()));
    assertTrue(defaults.ofKind("ServiceMonitor").isEmpty());
  }

  @Test
  @SuppressWarnings("unchecked")
  void serviceMonitorOptionScrapesTheMetricsService() {
    GenericKubernetesResource monitor =
        (GenericKubernetesResource) withServiceMonitor.ofKind("ServiceMonitor").get(0);
    assertEquals(1, withServiceMonitor.ofKind("ServiceMonitor").size());
    assertEquals("monitoring.coreos.com/v1", monitor.getApiVersion());
    assertEquals("kube-prometheus", monitor.getMetadata().getLabels().get("release"));

    Map<String, Object> spec = (Map<String, Object>) monitor.getAdditionalProperties().get("spec");
    Map<String, Object> endpoint = ((List<Map<String, Object>>) spec.get("endpoints")).get(0);
    assertEquals("/metrics", endpoint.get("path"));
    Service service = withServiceMonitor.one(Service.class);
    assertEquals(service.getSpec().getPorts().get(0).getName(), endpoint.get("port"));
    Map<String, String> matchLabels =
        (Map<String, String>) ((Map<String, Object>) spec.get("selector")).get("matchLabels");
    assertTrue(
        service.getMetadata().getLabels().entrySet().containsAll(matchLabels.entrySet()),
        "the ServiceMonitor must select the metrics Service: " + matchLabels);
    assertEquals(
        List.of(NAMESPACE),
        ((Map<String, Object>) spec.get("namespaceSelector")).get("matchNames"));
  }

  @Test
  @SuppressWarnings("unchecked")
  void prometheusRuleOptionShipsTheAlertRulesFile() throws Exception {
    assertTrue(defaults.ofKind("PrometheusRule").isEmpty());

    RenderedChart chart =
        RenderedChart.render(
            Map.of(
                "metrics.prometheusRule.enabled",
                true,
                "metrics.prometheusRule.labels.release",
                "kube-prometheus"));
    List<HasMetadata> rules = chart.ofKind("PrometheusRule");
    assertEquals(1, rules.size());
    GenericKubernetesResource rule = (GenericKubernetesResource) rules.get(0);
    assertEquals("monitoring.coreos.com/v1", rule.getApiVersion());
    assertEquals("kube-prometheus", rule.getMetadata().getLabels().get("release"));
    assertEquals(NAMESPACE, rule.getMetadata().getNamespace());
    Map<String, Object> spec = (Map<String, Object>) rule.getAdditionalProperties().get("spec");
    Map<String, Object> file =
        (Map<String, Object>)
            new Load(LoadSettings.builder().build())
                .loadFromString(Files.readString(ALERT_RULES, StandardCharsets.UTF_8));
    // The very groups Prometheus loads from the file: expressions, durations and templates intact.
    assertEquals(file, spec);
  }

  @Test
  void podDisruptionBudgetCoversTheProxies() {
    PodDisruptionBudget pdb = defaults.one(PodDisruptionBudget.class);

    assertEquals("policy/v1", pdb.getApiVersion());
    assertEquals(1, pdb.getSpec().getMaxUnavailable().getIntVal());
    Map<String, String> podLabels =
        defaults.daemonSet().getSpec().getTemplate().getMetadata().getLabels();
    assertTrue(
        podLabels.entrySet().containsAll(pdb.getSpec().getSelector().getMatchLabels().entrySet()));
    assertTrue(
        RenderedChart.render(Map.of("podDisruptionBudget.enabled", false))
            .all(PodDisruptionBudget.class)
            .isEmpty());
  }

  @Test
  void everyContainerHasResources() {
    for (Container c : withSidecar.pod().getContainers()) {
      Map<String, Quantity> requests = c.getResources().getRequests();
      assertNotNull(requests.get("cpu"), c.getName() + " cpu request");
      assertNotNull(requests.get("memory"), c.getName() + " memory request");
      assertNotNull(c.getResources().getLimits().get("memory"), c.getName() + " memory limit");
    }
  }

  @Test
  void everyContainerRunsNonRootWithAReadOnlyRootAndNoCapabilities() {
    everyRendering()
        .forEach(
            chart -> {
              PodSecurityContext pod = chart.pod().getSecurityContext();
              assertEquals("RuntimeDefault", pod.getSeccompProfile().getType());
              for (Container c : chart.pod().getContainers()) {
                SecurityContext sc = c.getSecurityContext();
                assertNotNull(sc, c.getName() + " securityContext");
                assertTrue(
                    Boolean.TRUE.equals(sc.getRunAsNonRoot())
                        || Boolean.TRUE.equals(pod.getRunAsNonRoot()),
                    c.getName() + " runAsNonRoot");
                Long uid = sc.getRunAsUser() != null ? sc.getRunAsUser() : pod.getRunAsUser();
                assertNotNull(uid, c.getName() + " must run as a numeric user");
                assertNotEquals(0L, uid);
                assertEquals(
                    Boolean.TRUE,
                    sc.getReadOnlyRootFilesystem(),
                    c.getName() + " readOnlyRootFilesystem");
                assertEquals(
                    Boolean.FALSE,
                    sc.getAllowPrivilegeEscalation(),
                    c.getName() + " allowPrivilegeEscalation");
                assertEquals(
                    List.of("ALL"), sc.getCapabilities().getDrop(), c.getName() + " capabilities");
                List<String> added = sc.getCapabilities().getAdd();
                assertTrue(
                    added == null || added.isEmpty(), c.getName() + " adds capabilities " + added);
                // The root is read-only: the JVM and gRPC's native transport need a writable /tmp.
                VolumeMount tmp = mountHolding(c, "/tmp/x");
                assertNotNull(chart.volume(tmp.getName()).getEmptyDir(), c.getName() + " /tmp");
              }
              assertEquals(Boolean.FALSE, chart.pod().getAutomountServiceAccountToken());
            });
  }

  @Test
  void kmsPluginSidecarSharesItsSocketWithTheProxyThroughAnEmptyDir() throws Exception {
    assertTrue(
        defaults.containerIfPresent("kms-plugin").isEmpty(), "the sidecar is off by default");

    Container proxy = withSidecar.container("proxy");
    Container plugin = withSidecar.container("kms-plugin");
    assertEquals(proxy.getImage(), plugin.getImage(), "one image holds both programs");
    assertEquals("kms-plugin", plugin.getArgs().get(0));
    String listen = requiredFlag(plugin, "--listen");
    assertTrue(listen.startsWith("unix:///"), listen);
    String socket = listen.substring("unix://".length());

    VolumeMount pluginMount = mountHolding(plugin, socket);
    VolumeMount proxyMount = mountHolding(proxy, socket);
    assertEquals(pluginMount.getName(), proxyMount.getName());
    assertEquals(pluginMount.getMountPath(), proxyMount.getMountPath());
    assertNotNull(
        withSidecar.volume(pluginMount.getName()).getEmptyDir(), "the socket lives in an emptyDir");

    String keyFile = requiredFlag(plugin, "--key-file");
    Volume keys = withSidecar.volumeHolding(plugin, keyFile);
    assertNotNull(keys.getSecret(), "the KEK file comes from a Secret");
    assertEquals(FULLNAME + "-kms-keys", keys.getSecret().getSecretName());
    assertTrue(mountHolding(plugin, keyFile).getReadOnly());
    assertTrue(
        proxy.getVolumeMounts().stream().noneMatch(m -> m.getName().equals(keys.getName())),
        "the proxy never sees the KEKs");

    // The example configuration names exactly the socket the sidecar serves on.
    List<String> kmsEndpoints =
        EncryptionConfigLoader.load(EXAMPLE_CONFIG).rules().stream()
            .flatMap(r -> r.providers().stream())
            .filter(p -> p instanceof ProviderConfig.Kms)
            .map(p -> ((ProviderConfig.Kms) p).endpoint())
            .toList();
    assertEquals(List.of(listen), kmsEndpoints);
  }

  @Test
  void hostNetworkOptionListensOnTheNodesLoopback() {
    PodSpec podNet = defaults.pod();
    Container podNetProxy = defaults.container("proxy");
    assertFalse(podNet.getHostNetwork());
    assertEquals("ClusterFirst", podNet.getDnsPolicy());
    assertEquals("0.0.0.0:23790", requiredFlag(podNetProxy, "--listen-addr"));
    ContainerPort etcdPort =
        podNetProxy.getPorts().stream()
            .filter(p -> "etcd".equals(p.getName()))
            .findFirst()
            .orElseThrow();
    assertEquals(23790, etcdPort.getContainerPort());
    assertEquals(
        23790,
        etcdPort.getHostPort(),
        "kube-apiserver reaches a pod-network proxy on the node's IP");
    // ... so member lists name the node's IP, not the pod's, which clients would not reach or
    // verify.
    assertEquals("https://$(HOST_IP):23790", requiredFlag(podNetProxy, "--advertise-client-urls"));

    PodSpec hostNet = withHostNetwork.pod();
    Container hostNetProxy = withHostNetwork.container("proxy");
    assertTrue(hostNet.getHostNetwork());
    assertEquals("ClusterFirstWithHostNet", hostNet.getDnsPolicy());
    assertEquals("127.0.0.1:23790", requiredFlag(hostNetProxy, "--listen-addr"));
    assertTrue(hostNetProxy.getPorts().stream().allMatch(p -> p.getHostPort() == null));
    assertEquals(
        Optional.empty(),
        RenderedChart.flag(hostNetProxy, "--advertise-client-urls"),
        "with hostNetwork the listener's own URL is the one to hand out");
  }

  @Test
  void grafanaDashboardOptionShipsTheChartsDashboard() throws Exception {
    assertTrue(defaults.all(ConfigMap.class).isEmpty());

    RenderedChart chart = RenderedChart.render(Map.of("grafanaDashboard.enabled", true));
    ConfigMap cm = chart.one(ConfigMap.class);
    assertEquals("1", cm.getMetadata().getLabels().get("grafana_dashboard"));
    ObjectMapper json = new ObjectMapper();
    JsonNode shipped = json.readTree(cm.getData().get("etcd-crypt-proxy.json"));
    assertEquals(json.readTree(DASHBOARD.toFile()), shipped);
    assertFalse(
        cm.getData().values().stream().anyMatch(v -> v.contains("EncryptionConfiguration")));
  }

  /** Values files the schema must reject, each with the document path the error has to name. */
  static Stream<Arguments> badValues() {
    return Stream.of(
        Arguments.of("hostNetwork: \"yes\"\n", "'/hostNetwork'"),
        Arguments.of("toleration: []\n", "'toleration' not allowed"),
        Arguments.of("proxy:\n  logFormat: xml\n", "'/proxy/logFormat'"),
        Arguments.of("proxy:\n  port: 70000\n", "'/proxy/port'"),
        Arguments.of("proxy:\n  etcdEndpoints: []\n", "'/proxy/etcdEndpoints'"),
        Arguments.of("proxy:\n  etcdPrefix: registry\n", "'/proxy/etcdPrefix'"),
        Arguments.of("encryptionConfig:\n  create: true\n", "'/encryptionConfig/content'"),
        Arguments.of("kmsPlugin:\n  reloadInterval: soon\n", "'/kmsPlugin/reloadInterval'"),
        Arguments.of(
            "tls:\n  listener:\n    secretName: Not_A_Name\n", "'/tls/listener/secretName'"),
        Arguments.of(
            "metrics:\n  port: 23791\n  tls:\n    clientCASecretName: Not_A_Name\n",
            "'/metrics/tls/clientCASecretName'"),
        Arguments.of(
            "podDisruptionBudget:\n  maxUnavailable: lots\n",
            "'/podDisruptionBudget/maxUnavailable'"));
  }

  @ParameterizedTest
  @MethodSource("badValues")
  void badValuesFailSchemaValidation(String values, String expectedInError, @TempDir Path dir)
      throws Exception {
    Path file = Files.writeString(dir.resolve("values.yaml"), values);

    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> RenderedChart.template().withValuesFile(file).call());
    assertTrue(
        e.getMessage().contains("don't meet the specifications of the schema"), e.getMessage());
    assertTrue(e.getMessage().contains(expectedInError), e.getMessage());
  }

  @Test
  void aValidValuesFilePassesTheSchema(@TempDir Path dir) throws Exception {
    Path file =
        Files.writeString(
            dir.resolve("values.yaml"),
            ""
                + "hostNetwork: true\n"
                + "proxy:\n  logFormat: text\n  port: 2379\n  etcdEndpoints: [https://10.0.0.1:2379, https://10.0.0.2:2379]\n"
                + "kmsPlugin:\n  enabled: true\n  reloadInterval: 30s\n"
                + "podDisruptionBudget:\n  enabled: true\n  maxUnavailable: 50%\n");

    RenderedChart chart = RenderedChart.parse(RenderedChart.template().withValuesFile(file).call());
    assertEquals(
        "https://10.0.0.1:2379,https://10.0.0.2:2379",
        requiredFlag(chart.container("proxy"), "--endpoints"));
    assertEquals("127.0.0.1:2379", requiredFlag(chart.container("proxy"), "--listen-addr"));
  }
}
