package io.etcdcrypt.observe;

import static io.etcdcrypt.testing.Clients.bs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.ByteString;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.kmsplugin.KeyFileKekStore;
import io.etcdcrypt.kmsplugin.KmsPluginServer;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Clients;
import io.etcdcrypt.testing.CreatedWatch;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.FreePorts;
import io.etcdcrypt.testing.JavaProcess;
import io.etcdcrypt.testing.KmsPluginFixture;
import io.etcdcrypt.testing.PrometheusText;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.Sync;
import io.etcdcrypt.testing.TestCodecs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code serve} command in its own JVM, with {@code --metrics-addr} and {@code --log-format
 * json}, in front of a real etcd with aesgcm (+ identity), KMS v2 and KMS v1 providers on the
 * bundled plugin. A scripted workload runs through it; {@code /metrics} is then fetched over HTTP,
 * parsed with a strict text-format parser, and every series the workload must have produced is
 * checked by name, labels and count. Then the KMS v2 plugin is stopped and started again: {@code
 * /readyz} follows it, naming the provider, and {@code /livez} does not.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@RealComponents
class MetricsAndHealthEndToEndTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  private static final String GCM_KEY = TestCodecs.randomKey(32);

  /** Every plaintext of the workload contains this, so the log check can look for it. */
  private static final String MARK = "plaintext-" + UUID.randomUUID();

  private static final int SECRETS = 4;
  private static final int CONFIGMAPS = 3;
  private static final int SERVICE_ACCOUNTS = 2;

  private static final HttpClient http = HttpClient.newHttpClient();
  @TempDir static Path dir; // removed after the class, with the logs in it
  private static KmsPluginFixture pluginV2;
  private static KmsPluginFixture pluginV1;
  private static KmsPluginServer restartedV2;
  private static String config;
  private static JavaProcess proxy;
  private static String admin;
  private static Client client;
  private static Client direct;
  private static long startedAtSeconds;

  @BeforeAll
  static void start() throws Exception {
    startedAtSeconds = System.currentTimeMillis() / 1000;
    pluginV2 = KmsPluginFixture.start(Files.createDirectory(dir.resolve("v2")));
    pluginV1 = KmsPluginFixture.start(Files.createDirectory(dir.resolve("v1")));
    config =
        String.join(
            "\n",
            "apiVersion: apiserver.config.k8s.io/v1",
            "kind: EncryptionConfiguration",
            "resources:",
            "  - resources: [secrets]",
            "    providers:",
            "      - aesgcm: {keys: [{name: key1, secret: " + GCM_KEY + "}]}",
            "      - identity: {}",
            "  - resources: [configmaps]",
            "    providers: [{kms: {apiVersion: v2, name: kms2, endpoint: '"
                + pluginV2.endpoint().url()
                + "'}}]",
            "  - resources: [serviceaccounts]",
            "    providers: [{kms: {apiVersion: v1, name: kms1, endpoint: '"
                + pluginV1.endpoint().url()
                + "',"
                + " cachesize: 100}}]",
            "");
    Path configFile = dir.resolve("encryption.yaml");
    Files.writeString(configFile, config);

    String listen = "127.0.0.1:" + FreePorts.next();
    admin = "http://127.0.0.1:" + FreePorts.next();
    proxy =
        JavaProcess.start(
            dir.resolve("proxy.log"),
            Map.of(),
            "serve",
            "--listen-addr",
            listen,
            "--endpoints",
            etcd.endpoint(),
            "--encryption-provider-config",
            configFile.toString(),
            "--metrics-addr",
            admin.substring("http://".length()),
            "--log-format",
            "json");
    Await.until(
        "the proxy to be ready",
        Duration.ofSeconds(60),
        () -> {
          if (!proxy.isAlive()) {
            throw new AssertionError("serve exited:\n" + proxy.output());
          }
          return status("/readyz") == 200;
        });
    client = Clients.jetcd("http://" + listen);
    direct = Clients.jetcd(etcd.process().clientUrl());
  }

  @AfterAll
  static void stop() throws Exception {
    if (client != null) {
      client.close();
    }
    if (direct != null) {
      direct.close();
    }
    if (proxy != null) {
      proxy.close();
    }
    if (restartedV2 != null) {
      restartedV2.close();
    } else if (pluginV2 != null) {
      pluginV2.close();
    }
    if (pluginV1 != null) {
      pluginV1.close();
    }
  }

  // ---- the workload and its metrics ----

  @Test
  @Order(1)
  void aScriptedWorkloadShowsUpUnderTheNamesOperatorsAlertOn() throws Exception {
    KV kv = client.getKVClient();
    for (int i = 0; i < SECRETS; i++) {
      kv.put(bs("/registry/secrets/default/s" + i), bs(MARK + " secret " + i))
          .get(10, TimeUnit.SECONDS);
    }
    for (int i = 0; i < CONFIGMAPS; i++) {
      kv.put(bs("/registry/configmaps/default/c" + i), bs(MARK + " configmap " + i))
          .get(10, TimeUnit.SECONDS);
    }
    for (int i = 0; i < SERVICE_ACCOUNTS; i++) {
      kv.put(bs("/registry/serviceaccounts/default/a" + i), bs(MARK + " sa " + i))
          .get(10, TimeUnit.SECONDS);
    }
    // Written around the proxy: plaintext where encryption is configured (the leak detector's
    // case).
    direct
        .getKVClient()
        .put(bs("/registry/secrets/default/leaked"), bs(MARK + " leaked"))
        .get(10, TimeUnit.SECONDS);

    GetOption prefix = GetOption.builder().isPrefix(true).build();
    assertEquals(
        SECRETS + 1,
        kv.get(bs("/registry/secrets/"), prefix).get(10, TimeUnit.SECONDS).getKvs().size());
    assertEquals(
        CONFIGMAPS,
        kv.get(bs("/registry/configmaps/"), prefix).get(10, TimeUnit.SECONDS).getKvs().size());
    assertEquals(
        SERVICE_ACCOUNTS,
        kv.get(bs("/registry/serviceaccounts/"), prefix).get(10, TimeUnit.SECONDS).getKvs().size());

    // A KMS v2 value another server wrote (its own seed): the proxy's DEK cache misses it once.
    KmsProviders otherKms = new KmsProviders();
    try {
      EncryptionCodec other = TestCodecs.fromYaml(config, otherKms);
      ByteString key = ByteString.copyFromUtf8("/registry/configmaps/default/foreign");
      ByteString stored = Sync.toStorage(other, key, ByteString.copyFromUtf8(MARK + " foreign"));
      direct
          .getKVClient()
          .put(bs("/registry/configmaps/default/foreign"), bs(stored.toByteArray()))
          .get(10, TimeUnit.SECONDS);
    } finally {
      otherKms.close();
    }
    assertEquals(MARK + " foreign", value(kv, "/registry/configmaps/default/foreign"));

    // Two values nothing can open: one whose AES-GCM tag fails, one whose prefix no provider has.
    byte[] tampered = new byte[40];
    Arrays.fill(tampered, (byte) 7);
    direct
        .getKVClient()
        .put(
            bs("/registry/secrets/default/tampered"),
            bs(concat("k8s:enc:aesgcm:v1:key1:".getBytes(StandardCharsets.UTF_8), tampered)))
        .get(10, TimeUnit.SECONDS);
    direct
        .getKVClient()
        .put(bs("/registry/secrets/default/alien"), bs("k8s:enc:other:v1:whatever"))
        .get(10, TimeUnit.SECONDS);
    assertThrows(
        ExecutionException.class,
        () -> kv.get(bs("/registry/secrets/default/tampered")).get(10, TimeUnit.SECONDS));
    assertThrows(
        ExecutionException.class,
        () -> kv.get(bs("/registry/secrets/default/alien")).get(10, TimeUnit.SECONDS));

    // One Watch stream: counted while open, its event decrypted, gone once closed.
    List<String> seen = new CopyOnWriteArrayList<>();
    Watch.Watcher watcher =
        CreatedWatch.start(
            client,
            bs("/registry/configmaps/"),
            WatchOption.builder().isPrefix(true),
            r ->
                r.getEvents()
                    .forEach(
                        e ->
                            seen.add(e.getKeyValue().getValue().toString(StandardCharsets.UTF_8))));
    Await.until(
        "one active watch stream",
        Duration.ofSeconds(20),
        () -> scrape().value(MetricNames.ACTIVE_WATCH_STREAMS) == 1);
    kv.put(bs("/registry/configmaps/default/watched"), bs(MARK + " watched"))
        .get(10, TimeUnit.SECONDS);
    Await.until("the watch event", Duration.ofSeconds(20), () -> seen.contains(MARK + " watched"));
    watcher.close();
    Await.until(
        "no active watch stream",
        Duration.ofSeconds(20),
        () -> scrape().value(MetricNames.ACTIVE_WATCH_STREAMS) == 0);

    PrometheusText.Exposition m = scrape();
    assertStorageTransformations(m);
    assertEnvelopeMetrics(m);
    assertGrpcServerMetrics(m);
    assertProxyMetrics(m);
    assertNoUnknownNames(m);
  }

  private static void assertStorageTransformations(PrometheusText.Exposition m) {
    String ops = MetricNames.TRANSFORMATION_OPERATIONS;
    String gcm = "k8s:enc:aesgcm:v1:";
    String kms2 = "k8s:enc:kms:v2:kms2:";
    String kms1 = "k8s:enc:kms:v1:kms1:";
    // Writes: the provider's sample and, for aesgcm, its key list's (as kube-apiserver's nested
    // chains record).
    assertEquals(
        SECRETS,
        m.value(
            ops,
            "resource",
            "secrets",
            "transformation_type",
            "to_storage",
            "transformer_prefix",
            gcm,
            "status",
            "OK"));
    assertEquals(
        SECRETS,
        m.value(
            ops,
            "resource",
            "secrets",
            "transformation_type",
            "to_storage",
            "transformer_prefix",
            "key1:",
            "status",
            "OK"));
    assertEquals(
        CONFIGMAPS + 1,
        m.value(
            ops,
            "resource",
            "configmaps",
            "transformation_type",
            "to_storage",
            "transformer_prefix",
            kms2,
            "status",
            "OK"));
    assertEquals(
        SERVICE_ACCOUNTS,
        m.value(
            ops,
            "resource",
            "serviceaccounts",
            "transformation_type",
            "to_storage",
            "transformer_prefix",
            kms1,
            "status",
            "OK"));
    // Reads.
    assertEquals(
        SECRETS,
        m.value(
            ops,
            "resource",
            "secrets",
            "transformation_type",
            "from_storage",
            "transformer_prefix",
            gcm,
            "status",
            "OK"));
    assertEquals(
        SECRETS,
        m.value(
            ops,
            "resource",
            "secrets",
            "transformation_type",
            "from_storage",
            "transformer_prefix",
            "key1:",
            "status",
            "OK"));
    assertEquals(
        1,
        m.value(
            ops,
            "resource",
            "secrets",
            "transformation_type",
            "from_storage",
            "transformer_prefix",
            "identity",
            "status",
            "OK"));
    // The tampered value fails at its key (key1:) and so at its provider, each level recording its
    // sample as
    // kube-apiserver's nested chains do; the value with a prefix nobody has is "unknown".
    assertEquals(
        1,
        m.value(
            ops,
            "resource",
            "secrets",
            "transformation_type",
            "from_storage",
            "transformer_prefix",
            "key1:",
            "status",
            "unknown-non-grpc"));
    assertEquals(
        1,
        m.value(
            ops,
            "resource",
            "secrets",
            "transformation_type",
            "from_storage",
            "transformer_prefix",
            gcm,
            "status",
            "unknown-non-grpc"));
    assertEquals(
        1,
        m.value(
            ops,
            "resource",
            "secrets",
            "transformation_type",
            "from_storage",
            "transformer_prefix",
            "unknown",
            "status",
            "unknown-non-grpc"));
    // range + foreign + watch event
    assertEquals(
        CONFIGMAPS + 2,
        m.value(
            ops,
            "resource",
            "configmaps",
            "transformation_type",
            "from_storage",
            "transformer_prefix",
            kms2,
            "status",
            "OK"));
    assertEquals(
        SERVICE_ACCOUNTS,
        m.value(
            ops,
            "resource",
            "serviceaccounts",
            "transformation_type",
            "from_storage",
            "transformer_prefix",
            kms1,
            "status",
            "OK"));
    assertEquals(12, m.samples(ops).size(), "no other transformation series: " + m.samples(ops));
    assertEquals(
        Set.of("resource", "transformation_type", "transformer_prefix", "status"),
        m.samples(ops).get(0).labels().keySet());

    // The duration histogram: successes only, kube-apiserver's buckets.
    String duration = MetricNames.TRANSFORMATION_DURATION;
    assertEquals("histogram", m.family(duration).type());
    assertEquals(
        SECRETS,
        m.value(
            duration + "_count", "transformation_type", "to_storage", "transformer_prefix", gcm));
    assertEquals(
        1,
        m.value(
            duration + "_count",
            "transformation_type",
            "from_storage",
            "transformer_prefix",
            "identity"));
    assertTrue(m.matching(duration + "_count", "transformer_prefix", "unknown").isEmpty());
    assertBuckets(
        m,
        duration,
        MetricNames.exponential(5e-6, 2, 25),
        "transformation_type",
        "to_storage",
        "transformer_prefix",
        gcm);
    assertEquals(
        "5e-06",
        m.matching(
                duration + "_bucket",
                "transformation_type",
                "to_storage",
                "transformer_prefix",
                gcm)
            .get(0)
            .labels()
            .get("le"));

    assertEquals(1, m.value(MetricNames.PLAINTEXT_VALUES, "resource", "secrets"));
    assertEquals(1, m.value(MetricNames.STALE_VALUES, "resource", "secrets"));
    assertEquals(1, m.samples(MetricNames.STALE_VALUES).size());
  }

  private static void assertEnvelopeMetrics(PrometheusText.Exposition m) throws Exception {
    String latency = MetricNames.KMS_OPERATIONS_LATENCY + "_count";
    assertTrue(
        m.value(
                latency,
                "provider_name",
                "kms2",
                "method_name",
                "/v2.KeyManagementService/Status",
                "grpc_status_code",
                "OK")
            >= 1);
    assertEquals(
        1,
        m.value(
            latency,
            "provider_name",
            "kms2",
            "method_name",
            "/v2.KeyManagementService/Encrypt",
            "grpc_status_code",
            "OK"),
        "one seed, drawn at start");
    assertEquals(
        1,
        m.value(
            latency,
            "provider_name",
            "kms2",
            "method_name",
            "/v2.KeyManagementService/Decrypt",
            "grpc_status_code",
            "OK"),
        "one Decrypt: the foreign seed");
    assertTrue(
        m.value(
                latency,
                "provider_name",
                "kms1",
                "method_name",
                "/v1beta1.KeyManagementService/Encrypt",
                "grpc_status_code",
                "OK")
            >= SERVICE_ACCOUNTS);
    assertBuckets(
        m,
        MetricNames.KMS_OPERATIONS_LATENCY,
        MetricNames.exponential(0.0001, 2, 20),
        "provider_name",
        "kms2",
        "method_name",
        "/v2.KeyManagementService/Decrypt",
        "grpc_status_code",
        "OK");

    assertEquals(1, m.value(MetricNames.ENVELOPE_CACHE_MISSES));
    assertEquals(1, m.value(MetricNames.DEK_CACHE_MISSES, "provider", "kms2"));
    assertEquals(1, m.samples(MetricNames.DEK_CACHE_MISSES).size());
    assertEquals(CONFIGMAPS + 1, m.value(MetricNames.DEK_CACHE_HITS, "provider", "kms2"));
    assertEquals(SERVICE_ACCOUNTS, m.value(MetricNames.DEK_CACHE_HITS, "provider", "kms1"));
    assertEquals(2, m.value(MetricNames.DEK_SOURCE_CACHE_SIZE, "provider_name", "kms2"));
    assertEquals(SERVICE_ACCOUNTS / 100.0, m.value(MetricNames.DEK_CACHE_FILL_PERCENT), 1e-9);
    assertEquals(
        1 + SERVICE_ACCOUNTS, m.value(MetricNames.DATA_KEY_GENERATION_DURATION + "_count"));
    assertBuckets(
        m, MetricNames.DATA_KEY_GENERATION_DURATION, MetricNames.exponential(5e-6, 2, 14));
    assertEquals(0, m.value(MetricNames.DATA_KEY_GENERATION_FAILURES));

    String keyIdHash = sha256("kek-1");
    String serverIdHash = sha256(apiServerIdOfThisHost());
    assertEquals(
        CONFIGMAPS + 1,
        m.value(
            MetricNames.KEY_ID_HASH_TOTAL,
            "transformation_type",
            "to_storage",
            "provider_name",
            "kms2",
            "key_id_hash",
            keyIdHash,
            "apiserver_id_hash",
            serverIdHash));
    assertEquals(
        CONFIGMAPS + 2,
        m.value(
            MetricNames.KEY_ID_HASH_TOTAL,
            "transformation_type",
            "from_storage",
            "provider_name",
            "kms2",
            "key_id_hash",
            keyIdHash,
            "apiserver_id_hash",
            serverIdHash));
    assertTrue(
        m.value(
                MetricNames.KEY_ID_HASH_LAST_TIMESTAMP,
                "transformation_type",
                "from_storage",
                "provider_name",
                "kms2",
                "key_id_hash",
                keyIdHash,
                "apiserver_id_hash",
                serverIdHash)
            >= startedAtSeconds);
    assertTrue(
        m.value(
                MetricNames.KEY_ID_HASH_STATUS_LAST_TIMESTAMP,
                "provider_name",
                "kms2",
                "key_id_hash",
                keyIdHash,
                "apiserver_id_hash",
                serverIdHash)
            >= startedAtSeconds);
    assertTrue(m.samples(MetricNames.INVALID_KEY_ID_FROM_STATUS).isEmpty());
  }

  private static void assertGrpcServerMetrics(PrometheusText.Exposition m) {
    int puts = SECRETS + CONFIGMAPS + SERVICE_ACCOUNTS + 1;
    String[] put = {"grpc_type", "unary", "grpc_service", "etcdserverpb.KV", "grpc_method", "Put"};
    assertEquals(puts, m.value(MetricNames.GRPC_SERVER_STARTED, put));
    assertEquals(puts, m.value(MetricNames.GRPC_SERVER_HANDLED, with(put, "grpc_code", "OK")));
    assertEquals(puts, m.value(MetricNames.GRPC_SERVER_MSG_RECEIVED, put));
    assertEquals(puts, m.value(MetricNames.GRPC_SERVER_MSG_SENT, put));
    assertEquals(puts, m.value(MetricNames.GRPC_SERVER_HANDLING + "_count", put));
    assertBuckets(
        m,
        MetricNames.GRPC_SERVER_HANDLING,
        new double[] {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
        put);
    // Bounds are spelled as etcd's Go client spells them, so le="1" in an alert matches on
    // Prometheus 2 too.
    assertEquals(
        List.of(
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"),
        m.matching(MetricNames.GRPC_SERVER_HANDLING + "_bucket", put).stream()
            .map(s -> s.labels().get("le"))
            .toList());

    // 3 prefix ranges, the foreign value, the two values nothing opens (Internal, and no response
    // message).
    String[] range = {
      "grpc_type", "unary", "grpc_service", "etcdserverpb.KV", "grpc_method", "Range"
    };
    assertEquals(6, m.value(MetricNames.GRPC_SERVER_STARTED, range));
    assertEquals(4, m.value(MetricNames.GRPC_SERVER_HANDLED, with(range, "grpc_code", "OK")));
    assertEquals(2, m.value(MetricNames.GRPC_SERVER_HANDLED, with(range, "grpc_code", "Internal")));
    assertEquals(6, m.value(MetricNames.GRPC_SERVER_MSG_RECEIVED, range));
    assertEquals(4, m.value(MetricNames.GRPC_SERVER_MSG_SENT, range));

    String[] watch = {
      "grpc_type", "bidi_stream", "grpc_service", "etcdserverpb.Watch", "grpc_method", "Watch"
    };
    assertEquals(1, m.value(MetricNames.GRPC_SERVER_STARTED, watch));
    assertEquals(1, m.sum(MetricNames.GRPC_SERVER_HANDLED, watch));
    assertTrue(m.value(MetricNames.GRPC_SERVER_MSG_RECEIVED, watch) >= 1, "the create request");
    assertTrue(m.value(MetricNames.GRPC_SERVER_MSG_SENT, watch) >= 2, "created, then the event");

    Set<String> codes = PrometheusText.labelValues(m, MetricNames.GRPC_SERVER_HANDLED, "grpc_code");
    Set<String> goNames =
        Set.of(
            "OK",
            "Canceled",
            "Unknown",
            "InvalidArgument",
            "DeadlineExceeded",
            "NotFound",
            "AlreadyExists",
            "PermissionDenied",
            "ResourceExhausted",
            "FailedPrecondition",
            "Aborted",
            "OutOfRange",
            "Unimplemented",
            "Internal",
            "Unavailable",
            "DataLoss",
            "Unauthenticated");
    assertTrue(goNames.containsAll(codes), "gRPC codes are spelled as Go spells them: " + codes);
  }

  private static void assertProxyMetrics(PrometheusText.Exposition m) {
    int puts = SECRETS + CONFIGMAPS + SERVICE_ACCOUNTS + 1;
    String upstream = MetricNames.UPSTREAM_REQUEST_DURATION + "_count";
    assertEquals(
        puts,
        m.value(upstream, "member", etcd.endpoint(), "grpc_method", "Put", "grpc_code", "OK"));
    // Every Range reached etcd; the two failures happened in the proxy, after etcd answered.
    assertEquals(
        6, m.value(upstream, "member", etcd.endpoint(), "grpc_method", "Range", "grpc_code", "OK"));
    assertTrue(
        m.matching(upstream, "grpc_method", "Watch").isEmpty(), "streams have no request latency");
    // The one watch event's KMS v2 value: decrypted by its one stream, shared with none.
    assertEquals(1, m.value(MetricNames.WATCH_DECRYPTIONS));
    assertEquals(0, m.value(MetricNames.WATCH_DECRYPTIONS_SHARED));
    assertBuckets(
        m,
        MetricNames.UPSTREAM_REQUEST_DURATION,
        MetricNames.exponential(0.0001, 2, 16),
        "member",
        etcd.endpoint(),
        "grpc_method",
        "Put",
        "grpc_code",
        "OK");
    assertEquals(0, m.value(MetricNames.ACTIVE_WATCH_STREAMS));
    assertEquals(0, m.value(MetricNames.CONFIG_RELOADS, "status", "success"));
    assertEquals(0, m.value(MetricNames.CONFIG_RELOADS, "status", "failure"));
    // The state the alert rules read: every check passes, etcd serves, both plugins are healthy.
    for (String check : List.of("etcd", "kms-provider-0", "kms-provider-1")) {
      assertEquals(1, m.value(MetricNames.READINESS_CHECK, "check", check), check);
    }
    assertEquals(1, m.value(MetricNames.ETCD_MEMBER_SERVING, "member", etcd.endpoint()));
    assertEquals(1, m.value(MetricNames.KMS_PROVIDER_HEALTHY, "provider", "kms1"));
    assertEquals(1, m.value(MetricNames.KMS_PROVIDER_HEALTHY, "provider", "kms2"));
    assertEquals(1, m.value(MetricNames.KMS_V1_PROVIDER, "provider", "kms1"), "deprecated KMS v1");
    assertTrue(m.matching(MetricNames.KMS_V1_PROVIDER, "provider", "kms2").isEmpty());
    assertEquals(32 << 20, m.value(MetricNames.IN_FLIGHT_LIMIT_BYTES), "--max-in-flight-bytes");
    assertEquals(0, m.value(MetricNames.IN_FLIGHT_REFUSED), "no request refused");
    double windowLeft =
        m.value(MetricNames.KMS_V2_WRITE_WINDOW_END, "provider", "kms2")
            - System.currentTimeMillis() / 1000.0;
    assertTrue(windowLeft > 60 && windowLeft <= 180, "write window left: " + windowLeft + " s");
    assertTrue(
        m.matching(MetricNames.KMS_V2_WRITE_WINDOW_END, "provider", "kms1").isEmpty(),
        "KMS v1 has no write window");
  }

  /** Every family in the apiserver_/grpc_/etcd_crypt_proxy_ namespaces is one MetricNames lists. */
  private static void assertNoUnknownNames(PrometheusText.Exposition m) {
    Set<String> ours =
        m.families().keySet().stream()
            .filter(
                n ->
                    n.startsWith("apiserver_")
                        || n.startsWith("grpc_")
                        || n.startsWith("etcd_crypt_proxy_"))
            .collect(Collectors.toCollection(TreeSet::new));
    Set<String> listed =
        Set.of(
            MetricNames.TRANSFORMATION_DURATION,
            MetricNames.TRANSFORMATION_OPERATIONS,
            MetricNames.ENVELOPE_CACHE_MISSES,
            MetricNames.DATA_KEY_GENERATION_DURATION,
            MetricNames.DATA_KEY_GENERATION_FAILURES,
            MetricNames.KMS_OPERATIONS_LATENCY,
            MetricNames.DEK_CACHE_FILL_PERCENT,
            MetricNames.DEK_SOURCE_CACHE_SIZE,
            MetricNames.KEY_ID_HASH_TOTAL,
            MetricNames.KEY_ID_HASH_LAST_TIMESTAMP,
            MetricNames.KEY_ID_HASH_STATUS_LAST_TIMESTAMP,
            MetricNames.GRPC_SERVER_STARTED,
            MetricNames.GRPC_SERVER_HANDLED,
            MetricNames.GRPC_SERVER_HANDLING,
            MetricNames.GRPC_SERVER_MSG_RECEIVED,
            MetricNames.GRPC_SERVER_MSG_SENT,
            MetricNames.UPSTREAM_REQUEST_DURATION,
            MetricNames.DEK_CACHE_HITS,
            MetricNames.DEK_CACHE_MISSES,
            MetricNames.ACTIVE_WATCH_STREAMS,
            MetricNames.CONFIG_RELOADS,
            MetricNames.PLAINTEXT_VALUES,
            MetricNames.STALE_VALUES,
            MetricNames.KMS_V2_WRITE_WINDOW_END,
            MetricNames.KMS_PROVIDER_HEALTHY,
            MetricNames.KMS_V1_PROVIDER,
            MetricNames.READINESS_CHECK,
            MetricNames.ETCD_MEMBER_SERVING,
            MetricNames.IN_FLIGHT_BYTES,
            MetricNames.WIRE_BUFFERS_BYTES,
            MetricNames.WIRE_BUFFERS_RESERVED_BYTES,
            MetricNames.IN_FLIGHT_LIMIT_BYTES,
            MetricNames.IN_FLIGHT_REFUSED,
            MetricNames.LISTS_WAITING,
            MetricNames.LISTS_WAITED,
            MetricNames.WATCH_DECRYPTIONS,
            MetricNames.WATCH_DECRYPTIONS_SHARED);
    // INVALID_KEY_ID_FROM_STATUS has no series until a plugin reports a bad key id;
    // CERTIFICATE_EXPIRY none without TLS.
    assertEquals(new TreeSet<>(listed), ours);
  }

  // ---- readiness ----

  @Test
  @Order(2)
  void readinessFollowsTheKmsPluginAndLivenessDoesNot() throws Exception {
    assertEquals(200, status("/livez"));
    assertEquals(200, status("/readyz"));
    assertEquals(200, status("/healthz"));
    for (String check : List.of("etcd", "kms-provider-0", "kms-provider-1")) {
      assertEquals(200, status("/readyz/" + check), check);
      assertEquals(200, status("/healthz/" + check), check);
    }
    // With a KMS v1 provider configured, kube-apiserver checks each provider on its own, not in
    // aggregate.
    assertEquals(404, status("/readyz/kms-providers"));
    assertEquals(404, status("/readyz/no-such-check"));
    String verbose = get("/readyz?verbose").body();
    for (String check : List.of("etcd", "kms-provider-0", "kms-provider-1")) {
      assertTrue(verbose.contains("[+]" + check + " ok"), verbose);
    }

    pluginV2.close();
    Await.until(
        "/readyz to fail after the KMS v2 plugin stopped",
        Duration.ofSeconds(45),
        () -> status("/readyz") == 500);
    HttpResponse<String> failing = get("/readyz/kms-provider-0");
    assertEquals(500, failing.statusCode());
    assertTrue(failing.body().contains("kmsv2 Provider kms2 is not healthy"), failing.body());
    assertEquals(200, status("/readyz/kms-provider-1"));
    assertEquals(200, status("/readyz/etcd"));
    assertEquals(500, status("/healthz"));
    assertEquals(200, status("/livez"));
    assertTrue(get("/readyz?verbose").body().contains("[-]kms-provider-0 failed"));

    restartedV2 =
        KmsPluginServer.start(
            pluginV2.endpoint(),
            KeyFileKekStore.open(pluginV2.keyFile()),
            KmsPluginFixture.RELOAD_INTERVAL,
            "test");
    Await.until(
        "/readyz to pass once the plugin is back",
        Duration.ofSeconds(45),
        () -> status("/readyz") == 200);
    assertEquals(200, status("/readyz/kms-provider-0"));
    assertEquals(200, status("/livez"));
  }

  // ---- logs ----

  @Test
  @Order(3)
  void logsAreJsonLinesWithRequestFieldsAndNeverAValue() {
    String output = proxy.output();
    List<JsonObject> events = new ArrayList<>();
    for (String line : output.split("\n")) {
      if (line.isBlank()) {
        continue;
      }
      JsonElement e = JsonParser.parseString(line);
      assertTrue(e.isJsonObject(), "not a JSON log line: " + line);
      events.add(e.getAsJsonObject());
    }
    assertFalse(events.isEmpty());
    assertFalse(output.contains(MARK), "a value reached the log");

    JsonObject failure =
        events.stream()
            .filter(e -> e.get("loggerName").getAsString().endsWith("EncryptionCodec"))
            .filter(
                e ->
                    keyValues(e)
                        .getOrDefault("key", "")
                        .equals("/registry/secrets/default/tampered"))
            .findFirst()
            .orElseThrow(
                () ->
                    new AssertionError(
                        "no log event for the value that could not be decrypted:\n" + output));
    assertEquals("WARN", failure.get("level").getAsString());
    Map<String, String> kv = keyValues(failure);
    assertEquals("secrets", kv.get("resource"));
    assertEquals("from_storage", kv.get("transformation_type"));
    assertEquals("k8s:enc:aesgcm:v1:", kv.get("transformer_prefix"));
    assertEquals(
        "etcdserverpb.KV/Range", failure.getAsJsonObject("mdc").get("method").getAsString());
  }

  // ---- helpers ----

  private static Map<String, String> keyValues(JsonObject event) {
    Map<String, String> out = new HashMap<>();
    JsonElement list = event.get("kvpList");
    if (list != null && list.isJsonArray()) {
      for (JsonElement pair : list.getAsJsonArray()) {
        pair.getAsJsonObject()
            .entrySet()
            .forEach(e -> out.put(e.getKey(), e.getValue().getAsString()));
      }
    }
    return out;
  }

  /** The bucket bounds of one series of a histogram are exactly {@code bounds} plus +Inf. */
  private static void assertBuckets(
      PrometheusText.Exposition m, String histogram, double[] bounds, String... labels) {
    List<Double> les =
        m.matching(histogram + "_bucket", labels).stream()
            .map(s -> Double.parseDouble(s.labels().get("le").replace("+Inf", "Infinity")))
            .toList();
    List<Double> expected = new ArrayList<>();
    for (double b : bounds) {
      expected.add(b);
    }
    expected.add(Double.POSITIVE_INFINITY);
    assertEquals(expected, les, histogram + " buckets");
  }

  private static String[] with(String[] labels, String name, String value) {
    String[] out = Arrays.copyOf(labels, labels.length + 2);
    out[labels.length] = name;
    out[labels.length + 1] = value;
    return out;
  }

  private static PrometheusText.Exposition scrape() {
    HttpResponse<String> r = get("/metrics");
    assertEquals(200, r.statusCode());
    assertTrue(
        r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
    return PrometheusText.parse(r.body());
  }

  private static int status(String path) {
    try {
      return get(path).statusCode();
    } catch (RuntimeException e) {
      return -1; // not listening yet
    }
  }

  private static HttpResponse<String> get(String path) {
    try {
      return http.send(
          HttpRequest.newBuilder(URI.create(admin + path)).timeout(Duration.ofSeconds(20)).build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (Exception e) {
      throw new IllegalStateException("GET " + path + ": " + e, e);
    }
  }

  private static String value(KV kv, String key) throws Exception {
    return kv.get(bs(key))
        .get(10, TimeUnit.SECONDS)
        .getKvs()
        .get(0)
        .getValue()
        .toString(StandardCharsets.UTF_8);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** {@code sha256:<hex>}, written here independently of the code under test. */
  private static String sha256(String s) throws Exception {
    return "sha256:"
        + HexFormat.of()
            .formatHex(
                MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
  }

  /**
   * kube-apiserver's id formula (see {@link ApiServerIdTest} for the upstream vector) for this
   * machine.
   */
  private static String apiServerIdOfThisHost() throws Exception {
    String host = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
    return ApiServerIdTest.kubeApiServerId(host);
  }
}
