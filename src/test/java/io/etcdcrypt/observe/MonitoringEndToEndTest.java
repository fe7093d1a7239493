package io.etcdcrypt.observe;

import static io.etcdcrypt.testing.Clients.bs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.options.GetOption;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Clients;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.FreePorts;
import io.etcdcrypt.testing.JavaProcess;
import io.etcdcrypt.testing.KmsPluginFixture;
import io.etcdcrypt.testing.PrometheusServer;
import io.etcdcrypt.testing.PrometheusText;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.etcdcrypt.testing.TestPki;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * The shipped monitoring against the real thing: Debian's Prometheus scrapes a {@code serve} JVM
 * (etcd over mTLS, aesgcm, identity and KMS v2 on the bundled plugin, automatic reload) with the
 * compose demo's scrape configuration, and evaluates the shipped alert rules. A workload writes and
 * reads, rotates the keys by rewriting the configuration, reads a value whose key was removed, and
 * stops and restarts the KMS plugin. Then every panel query of the shipped dashboard and every
 * alert expression goes through Prometheus' HTTP API: each panel query returns series carrying the
 * labels its legend names, latency quantiles and the DEK cache hit ratio are finite and plausible,
 * and the KMS plugin alert went pending, then firing, then resolved. Last, a second {@code serve}
 * with a listener certificate shows that the expiry gauge holds the notAfter of both files loaded.
 *
 * <p>Intervals are 1 s instead of the demo's 10 s, and the rules are the shipped ones with every
 * {@code for:} cut to {@value #TEST_FOR}: the expressions are the shipped ones, byte for byte.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@RealComponents
class MonitoringEndToEndTest {

  private static final Path SCRAPE_CONFIG = Path.of("deploy", "prometheus", "prometheus.yml");
  private static final Path RULES =
      Path.of("charts", "etcd-crypt-proxy", "alerts", "etcd-crypt-proxy.rules.yaml");
  private static final Path DASHBOARD =
      Path.of("charts", "etcd-crypt-proxy", "dashboards", "etcd-crypt-proxy.json");
  private static final String TEST_FOR = "3s";

  /** What the dashboard's variables stand for here; Grafana's rate interval covers the test. */
  private static final Map<String, String> DASHBOARD_VARIABLES =
      Map.of("$__rate_interval", "5m", "$job", ".*", "$instance", ".*");

  private static final String KEY1 = TestCodecs.randomKey(32);
  private static final String KEY2 = TestCodecs.randomKey(32);
  private static final String KEY3 = TestCodecs.randomKey(32);
  private static final String KEY4 = TestCodecs.randomKey(32);
  private static final int VALUES = 5;
  private static final int ROUNDS = 3;
  private static final Duration ROUND_PAUSE = Duration.ofMillis(1500);

  /**
   * Legend labels a series may lack: identity writes record an empty transformer prefix, as
   * kube-apiserver's do, and Prometheus drops labels with empty values.
   */
  private static final Set<String> MAY_BE_EMPTY = Set.of("transformer_prefix");

  private static final HttpClient http = HttpClient.newHttpClient();
  @TempDir static Path dir; // removed after the class, with the logs in it
  private static TestPki pki;
  private static TestPki.Leaf etcdClient;
  private static EtcdProcess etcd;
  private static KmsPluginFixture plugin;
  private static Path configFile;
  private static JavaProcess proxy;
  private static String admin;
  private static Client client;
  private static PrometheusServer prometheus;

  @BeforeAll
  static void start() throws Exception {
    pki = new TestPki(Files.createDirectory(dir.resolve("pki")), "etcd-ca");
    etcd = EtcdProcess.startSingleTls(pki);
    plugin = KmsPluginFixture.start(Files.createDirectory(dir.resolve("kms")));
    configFile = dir.resolve("encryption.yaml");
    Files.writeString(configFile, beforeRotation());

    // Two days: within CertificateExpiring's 7 (TestPki's default is past it).
    etcdClient =
        pki.issue(
            "etcd-crypt-proxy-client",
            Instant.now().plus(Duration.ofDays(2)),
            "IP:127.0.0.1",
            "DNS:localhost");
    String listen = "127.0.0.1:" + FreePorts.next();
    admin = "127.0.0.1:" + FreePorts.next();
    proxy =
        startServe(
            "proxy.log",
            admin,
            "/readyz",
            "--listen-addr",
            listen,
            "--encryption-provider-config-automatic-reload");
    client = Clients.jetcd("http://" + listen);

    Path promDir = Files.createDirectory(dir.resolve("prometheus"));
    Files.writeString(
        promDir.resolve("rules.yaml"),
        Files.readString(RULES).replaceAll("(?m)^(\\s+)for: \\S+$", "$1for: " + TEST_FOR));
    prometheus = PrometheusServer.start(promDir, scrapeConfig("rules.yaml"));
    Await.until(
        "Prometheus to scrape the proxy",
        Duration.ofSeconds(30),
        () -> prometheus.query("up{job=\"etcd-crypt-proxy\"} == 1").size() == 1);
  }

  @AfterAll
  static void stop() {
    if (client != null) {
      client.close();
    }
    if (prometheus != null) {
      prometheus.close();
    }
    if (proxy != null) {
      proxy.close();
    }
    if (plugin != null) {
      plugin.close();
    }
    if (etcd != null) {
      etcd.close();
    }
  }

  /**
   * The compose demo's prometheus.yml with the test proxy as its target, 1 s intervals and {@code
   * rules} as its rule file (JSON, which is YAML too).
   */
  @SuppressWarnings("unchecked")
  private static String scrapeConfig(String rules) throws Exception {
    Map<String, Object> config =
        (Map<String, Object>)
            new Load(LoadSettings.builder().build())
                .loadFromString(Files.readString(SCRAPE_CONFIG));
    Map<String, Object> global = (Map<String, Object>) config.get("global");
    global.put("scrape_interval", "1s");
    global.put("evaluation_interval", "1s");
    config.put("rule_files", List.of(rules));
    Map<String, Object> job = ((List<Map<String, Object>>) config.get("scrape_configs")).get(0);
    assertEquals("etcd-crypt-proxy", job.get("job_name"));
    ((List<Map<String, Object>>) job.get("static_configs")).get(0).put("targets", List.of(admin));
    return new Gson().toJson(config);
  }

  private static String beforeRotation() {
    return String.join(
        "\n",
        "apiVersion: apiserver.config.k8s.io/v1",
        "kind: EncryptionConfiguration",
        "resources:",
        "  - resources: [secrets]",
        "    providers: [{aesgcm: {keys: [{name: key1, secret: " + KEY1 + "}]}}]",
        "  - resources: [serviceaccounts]",
        "    providers: [" + kms2() + "]",
        "  - resources: [configmaps]",
        "    providers: [{identity: {}}]",
        "  - resources: [pods]",
        "    providers: [{aesgcm: {keys: [{name: key3, secret: " + KEY3 + "}]}}]",
        "");
  }

  /**
   * secrets: key2 first, key1 still readable (stale); configmaps: encrypted from now on (plaintext
   * reads); pods: key3 removed before a rewrap (its values fail to decrypt).
   */
  private static String afterRotation() {
    return String.join(
        "\n",
        "apiVersion: apiserver.config.k8s.io/v1",
        "kind: EncryptionConfiguration",
        "resources:",
        "  - resources: [secrets]",
        "    providers:",
        "      - aesgcm:",
        "          keys: [{name: key2, secret: " + KEY2 + "}, {name: key1, secret: " + KEY1 + "}]",
        "  - resources: [serviceaccounts, configmaps]",
        "    providers: [" + kms2() + ", {identity: {}}]",
        "  - resources: [pods]",
        "    providers: [{aesgcm: {keys: [{name: key4, secret: " + KEY4 + "}]}}]",
        "");
  }

  /** After the rewrap: key1 is gone. */
  private static String rotationDone() {
    return afterRotation().replace(", {name: key1, secret: " + KEY1 + "}", "");
  }

  private static String kms2() {
    return "{kms: {apiVersion: v2, name: kms2, endpoint: '" + plugin.endpoint().url() + "'}}";
  }

  // ---- the workload ----

  @Test
  @Order(1)
  void writesReadsAndAKeyRotationReachPrometheus() throws Exception {
    KV kv = client.getKVClient();
    // Rounds over more than a scrape interval apart, so that Prometheus sees every series grow.
    for (int round = 0; round < ROUNDS; round++) {
      writeAll(kv, List.of("secrets", "serviceaccounts", "configmaps", "pods"), "before " + round);
      // a value encrypted under a key the configuration does not know: refused, nothing written
      var foreign = kv.put(bs(key("secrets", VALUES)), bs("k8s:enc:aescbc:v1:unknown:abc"));
      assertThrows(ExecutionException.class, () -> foreign.get(10, TimeUnit.SECONDS));
      readAll(kv, Set.of());
      Thread.sleep(ROUND_PAUSE.toMillis());
    }

    // Rotation: key2 becomes first, configmaps get encrypted, key3 is dropped (too early). The
    // first round reads the secrets under key1 (stale); the rewrap writes them again under key2.
    reload(afterRotation(), 1);
    for (int round = 0; round < ROUNDS; round++) {
      readAll(kv, Set.of("pods"));
      writeAll(kv, List.of("secrets"), "rewrapped " + round);
      Thread.sleep(ROUND_PAUSE.toMillis());
    }
    // The rotation ends: key1 goes.
    reload(rotationDone(), 2);
    for (int round = 0; round < ROUNDS; round++) {
      readAll(kv, Set.of("pods"));
      Thread.sleep(ROUND_PAUSE.toMillis());
    }

    Await.until(
        "Prometheus to see the stale, plaintext and failed reads",
        Duration.ofSeconds(30),
        () ->
            !prometheus.query("etcd_crypt_proxy_stale_values_total{resource=\"secrets\"}").isEmpty()
                && !prometheus
                    .query("etcd_crypt_proxy_plaintext_values_total{resource=\"configmaps\"}")
                    .isEmpty()
                && !prometheus
                    .query(
                        "apiserver_storage_transformation_operations_total{resource=\"pods\","
                            + "transformation_type=\"from_storage\",status!=\"OK\"}")
                    .isEmpty());
  }

  private static void reload(String config, int reloads) throws Exception {
    Files.writeString(configFile, config);
    Await.until(
        "the proxy to load configuration " + reloads,
        Duration.ofSeconds(60),
        () -> scrape().value(MetricNames.CONFIG_RELOADS, "status", "success") == reloads);
  }

  private static void writeAll(KV kv, List<String> resources, String text) throws Exception {
    for (String resource : resources) {
      for (int i = 0; i < VALUES; i++) {
        kv.put(bs(key(resource, i)), bs(resource + " " + text + " " + i)).get(10, TimeUnit.SECONDS);
      }
    }
  }

  /** Reads every value one by one and as a list; values of {@code failing} resources must fail. */
  private static void readAll(KV kv, Set<String> failing) throws Exception {
    for (String resource : List.of("secrets", "serviceaccounts", "configmaps", "pods")) {
      for (int i = 0; i < VALUES; i++) {
        var get = kv.get(bs(key(resource, i)));
        if (failing.contains(resource)) {
          assertThrows(ExecutionException.class, () -> get.get(10, TimeUnit.SECONDS));
        } else {
          assertEquals(1, get.get(10, TimeUnit.SECONDS).getKvs().size());
        }
      }
      if (!failing.contains(resource)) {
        assertEquals(
            VALUES,
            kv.get(bs("/registry/" + resource + "/"), GetOption.builder().isPrefix(true).build())
                .get(10, TimeUnit.SECONDS)
                .getKvs()
                .size());
      }
    }
  }

  private static String key(String resource, int i) {
    return "/registry/" + resource + "/default/v" + i;
  }

  // ---- alerts ----

  @Test
  @Order(2)
  void theKmsPluginAlertGoesPendingThenFiringWhileThePluginIsStopped() throws Exception {
    assertTrue(alertStates("KmsPluginUnhealthy").isEmpty(), "no KMS alert while the plugin runs");
    plugin.stop();
    long stoppedAt = System.nanoTime();
    List<String> seen = new ArrayList<>();
    Await.until(
        "KmsPluginUnhealthy to fire",
        Duration.ofSeconds(60),
        () -> {
          for (String state : alertStates("KmsPluginUnhealthy")) {
            if (seen.isEmpty() || !seen.get(seen.size() - 1).equals(state)) {
              seen.add(state);
            }
          }
          return seen.contains("firing");
        });
    assertEquals(List.of("pending", "firing"), seen);
    System.out.printf(
        "KmsPluginUnhealthy firing %d ms after the plugin stopped (for: %s)%n",
        (System.nanoTime() - stoppedAt) / 1_000_000, TEST_FOR);
    List<JsonObject> alerts = alerts("KmsPluginUnhealthy");
    assertEquals(1, alerts.size(), alerts.toString());
    JsonObject firing = alerts.get(0);
    assertEquals("kms2", firing.getAsJsonObject("labels").get("provider").getAsString());
    assertEquals("critical", firing.getAsJsonObject("labels").get("severity").getAsString());
    assertEquals(admin, firing.getAsJsonObject("labels").get("instance").getAsString());
    assertEquals(0, value(prometheus.query("etcd_crypt_proxy_kms_provider_healthy")));
    assertFalse(prometheus.query(expr("NotReady")).isEmpty(), "the kms check fails readiness");

    plugin.restart();
    Await.until(
        "KmsPluginUnhealthy to resolve once the plugin is back",
        Duration.ofSeconds(60),
        () -> alertStates("KmsPluginUnhealthy").isEmpty());
    assertEquals(1, value(prometheus.query("etcd_crypt_proxy_kms_provider_healthy")));
    // Readiness follows within a check interval and a scrape (its checks run in the background).
    String notReady = expr("NotReady");
    Await.until(
        "NotReady's expression to clear once the plugin is back",
        Duration.ofSeconds(30),
        () -> prometheus.query(notReady).isEmpty());
  }

  @Test
  @Order(3)
  void everyShippedAlertExpressionEvaluatesAndTheWorkloadsProblemsShow() throws Exception {
    Set<String> returned = new TreeSet<>();
    for (Map<String, Object> rule : rules()) {
      JsonArray result = prometheus.query((String) rule.get("expr"));
      if (!result.isEmpty()) {
        returned.add((String) rule.get("alert"));
      }
    }
    // The failed pods reads, the key1 reads after the rotation, the 2-day test certificate of the
    // proxy's etcd client: each shows in its alert's expression. A healthy proxy shows in no other.
    assertEquals(Set.of("CertificateExpiring", "DecryptionFailures", "StaleValuesRead"), returned);
    JsonObject failure = firstSeries(expr("DecryptionFailures"));
    assertEquals("pods", failure.get("resource").getAsString());
    assertEquals("unknown-non-grpc", failure.get("status").getAsString());
    assertEquals("etcd-client", firstSeries(expr("CertificateExpiring")).get("use").getAsString());
    // The alerts whose conditions held long enough for the test's short for: are now firing.
    Await.until(
        "DecryptionFailures to fire",
        Duration.ofSeconds(30),
        () -> alertStates("DecryptionFailures").contains("firing"));
  }

  // ---- the dashboard ----

  @Test
  @Order(4)
  void everyDashboardQueryReturnsSeriesWithTheLabelsItsLegendNames() throws Exception {
    List<String> failures = new ArrayList<>();
    int queries = 0;
    for (JsonNode panel : new ObjectMapper().readTree(DASHBOARD.toFile()).get("panels")) {
      for (JsonNode target : panel.path("targets")) {
        queries++;
        String expr = substitute(target.get("expr").asText());
        Set<String> legendLabels = legendLabels(target.path("legendFormat").asText());
        JsonArray result = prometheus.query(expr);
        if (result.isEmpty()) {
          failures.add(panel.get("title").asText() + ": no data for " + expr);
          continue;
        }
        Set<String> required = new TreeSet<>(legendLabels);
        required.removeAll(MAY_BE_EMPTY);
        boolean anyComplete = false;
        for (JsonElement series : result) {
          Set<String> labels = series.getAsJsonObject().getAsJsonObject("metric").keySet();
          anyComplete |= labels.containsAll(legendLabels);
          if (!labels.containsAll(required)) {
            failures.add(
                panel.get("title").asText() + ": series " + labels + " lack " + legendLabels);
          }
        }
        if (!anyComplete) {
          failures.add(panel.get("title").asText() + ": no series has all of " + legendLabels);
        }
      }
    }
    assertTrue(queries >= 20, "the dashboard has " + queries + " queries");
    assertTrue(failures.isEmpty(), String.join("\n", failures));
  }

  @Test
  @Order(5)
  void latencyQuantilesAndTheCacheHitRatioArePlausible() throws Exception {
    for (JsonNode panel : new ObjectMapper().readTree(DASHBOARD.toFile()).get("panels")) {
      String title = panel.path("title").asText();
      for (JsonNode target : panel.path("targets")) {
        String expr = substitute(target.get("expr").asText());
        if (expr.startsWith("histogram_quantile(")) {
          // NaN is a series with no observation in the window (Grafana draws a gap); every other
          // quantile is a time a call on loopback takes: more than nothing, less than 10 s.
          List<Double> seconds = values(prometheus.query(expr), true);
          List<Double> finite = seconds.stream().filter(Double::isFinite).toList();
          assertFalse(finite.isEmpty(), title + ": no finite quantile in " + expr);
          for (double s : finite) {
            assertTrue(s > 0 && s < 10, title + ": " + s + " s");
          }
        }
        if (title.equals("DEK cache hit ratio")) {
          List<Double> ratios = values(prometheus.query(expr), false);
          assertEquals(1, ratios.size(), "one KMS provider: " + ratios);
          // Each seed misses once per configuration loaded, every other read of a KMS value hits.
          assertTrue(ratios.get(0) > 0.5 && ratios.get(0) <= 1, "hit ratio " + ratios);
          System.out.println("DEK cache hit ratio: " + ratios.get(0));
        }
      }
    }
    // The calls the workload made all along have finite quantiles.
    for (String call :
        List.of(
            "grpc_server_handling_seconds_bucket{grpc_method=\"Range\"}",
            "grpc_server_handling_seconds_bucket{grpc_method=\"Put\"}",
            "apiserver_envelope_encryption_kms_operations_latency_seconds_bucket{method_name=~\".*Decrypt\"}",
            "apiserver_storage_transformation_duration_seconds_bucket{transformation_type=\"from_storage\"}",
            "etcd_crypt_proxy_upstream_request_duration_seconds_bucket{grpc_method=\"Range\"}")) {
      for (String q : List.of("0.5", "0.99")) {
        double s =
            value(
                prometheus.query(
                    "histogram_quantile(" + q + ", sum by (le) (rate(" + call + "[5m])))"));
        assertTrue(s > 0 && s < 10, call + " p" + q + ": " + s + " s");
        System.out.printf("%s p%s: %.6f s%n", call, q, s);
      }
    }
    double windowLeft =
        value(
            prometheus.query(
                "min(etcd_crypt_proxy_kms_v2_write_window_end_timestamp_seconds) - time()"));
    assertTrue(windowLeft > 60 && windowLeft <= 181, "write window left: " + windowLeft + " s");
  }

  // ---- certificates ----

  /**
   * The expiry gauge holds the notAfter of the very files {@code serve} loaded, for both uses (the
   * proxy above has no listener certificate: its jetcd client speaks plaintext).
   */
  @Test
  @Order(6)
  void theCertificateExpiryIsTheNotAfterOfTheFilesServeLoaded() throws Exception {
    TestPki.Leaf listener = pki.issue("etcd-crypt-proxy");
    String tlsAdmin = "127.0.0.1:" + FreePorts.next();
    try (JavaProcess tlsProxy =
        startServe(
            "tls-proxy.log",
            tlsAdmin,
            "/livez",
            "--listen-addr",
            "127.0.0.1:" + FreePorts.next(),
            "--cert-file",
            listener.cert().toString(),
            "--key-file",
            listener.key().toString())) {
      PrometheusText.Exposition m =
          PrometheusText.parse(get(tlsAdmin, MetricNames.METRICS_PATH).body());
      assertEquals(
          notAfterSeconds(listener.cert()),
          m.value(MetricNames.CERTIFICATE_EXPIRY, "use", "listener"));
      assertEquals(
          notAfterSeconds(etcdClient.cert()),
          m.value(MetricNames.CERTIFICATE_EXPIRY, "use", "etcd-client"));
    }
  }

  /**
   * Starts {@code serve} with etcd over mTLS, the test's configuration file, {@code --metrics-addr
   * adminAddress} and {@code args}, and waits until {@code readyPath} answers 200.
   */
  private static JavaProcess startServe(
      String log, String adminAddress, String readyPath, String... args) throws Exception {
    List<String> command =
        new ArrayList<>(
            List.of(
                "serve",
                "--endpoints",
                etcd.clientUrl(),
                "--cacert",
                pki.caCert().toString(),
                "--cert",
                etcdClient.cert().toString(),
                "--key",
                etcdClient.key().toString(),
                "--encryption-provider-config",
                configFile.toString(),
                "--metrics-addr",
                adminAddress));
    command.addAll(List.of(args));
    JavaProcess serve =
        JavaProcess.start(dir.resolve(log), Map.of(), command.toArray(String[]::new));
    Await.until(
        "serve to answer " + readyPath,
        Duration.ofSeconds(60),
        () -> {
          if (!serve.isAlive()) {
            throw new AssertionError("serve exited:\n" + serve.output());
          }
          return status(adminAddress, readyPath) == 200;
        });
    return serve;
  }

  private static double notAfterSeconds(Path certFile) throws Exception {
    try (var in = Files.newInputStream(certFile)) {
      return ((X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in))
              .getNotAfter()
              .getTime()
          / 1000.0;
    }
  }

  // ---- helpers ----

  private static String substitute(String expr) {
    String out = expr;
    for (Map.Entry<String, String> v : DASHBOARD_VARIABLES.entrySet()) {
      out = out.replace(v.getKey(), v.getValue());
    }
    assertFalse(out.contains("$"), "a dashboard variable the test does not know: " + out);
    return out;
  }

  private static final Pattern LEGEND_LABEL = Pattern.compile("\\{\\{\\s*([a-zA-Z_]\\w*)\\s*}}");

  private static Set<String> legendLabels(String legend) {
    Set<String> labels = new LinkedHashSet<>();
    Matcher m = LEGEND_LABEL.matcher(legend);
    while (m.find()) {
      labels.add(m.group(1));
    }
    return labels;
  }

  /** The values of an instant query's series; only finite ones unless {@code nanAllowed}. */
  private static List<Double> values(JsonArray result, boolean nanAllowed) {
    List<Double> values = new ArrayList<>();
    for (JsonElement series : result) {
      double v =
          Double.parseDouble(series.getAsJsonObject().getAsJsonArray("value").get(1).getAsString());
      assertTrue(nanAllowed || Double.isFinite(v), "not a finite number: " + series);
      values.add(v);
    }
    return values;
  }

  /** The finite value of a query that must return exactly one series. */
  private static double value(JsonArray result) {
    List<Double> values = values(result, false);
    assertEquals(1, values.size(), "expected one series: " + result);
    return values.get(0);
  }

  /** The labels of the first series {@code promql} returns. */
  private static JsonObject firstSeries(String promql) {
    JsonArray result = prometheus.query(promql);
    assertFalse(result.isEmpty(), "no series for " + promql);
    return result.get(0).getAsJsonObject().getAsJsonObject("metric");
  }

  /** The pending and firing alerts named {@code name}. */
  private static List<JsonObject> alerts(String name) {
    List<JsonObject> alerts = new ArrayList<>();
    for (JsonElement a : prometheus.alerts()) {
      JsonObject alert = a.getAsJsonObject();
      if (name.equals(alert.getAsJsonObject("labels").get("alertname").getAsString())) {
        alerts.add(alert);
      }
    }
    return alerts;
  }

  private static List<String> alertStates(String name) {
    return alerts(name).stream().map(a -> a.get("state").getAsString()).toList();
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> rules() throws Exception {
    Map<String, Object> file =
        (Map<String, Object>)
            new Load(LoadSettings.builder().build()).loadFromString(Files.readString(RULES));
    List<Map<String, Object>> rules = new ArrayList<>();
    for (Object group : (List<Object>) file.get("groups")) {
      rules.addAll((List<Map<String, Object>>) ((Map<String, Object>) group).get("rules"));
    }
    return rules;
  }

  /** The expression of the first rule of alert {@code name}. */
  private static String expr(String name) throws Exception {
    return rules().stream()
        .filter(r -> name.equals(r.get("alert")))
        .map(r -> (String) r.get("expr"))
        .findFirst()
        .orElseThrow();
  }

  private static PrometheusText.Exposition scrape() {
    return PrometheusText.parse(get(admin, MetricNames.METRICS_PATH).body());
  }

  private static int status(String adminAddress, String path) {
    try {
      return get(adminAddress, path).statusCode();
    } catch (AssertionError e) {
      return -1;
    }
  }

  private static HttpResponse<String> get(String adminAddress, String path) {
    try {
      return http.send(
          HttpRequest.newBuilder(URI.create("http://" + adminAddress + path))
              .timeout(Duration.ofSeconds(10))
              .build(),
          HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (Exception e) {
      throw new AssertionError("GET " + adminAddress + path + ": " + e, e);
    }
  }
}
