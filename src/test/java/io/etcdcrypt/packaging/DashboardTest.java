package io.etcdcrypt.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Grafana dashboard (one file, shipped by the chart and provisioned by the compose demo) charts
 * only metrics the proxy exports, and every panel has a query. MonitoringEndToEndTest runs each
 * query in a real Prometheus scraping a real proxy.
 */
class DashboardTest {

  private static final Path DASHBOARD =
      Path.of("charts/etcd-crypt-proxy/dashboards/etcd-crypt-proxy.json");

  /**
   * The metric names the proxy exports (kube-apiserver's names where one exists), plus Prometheus'
   * own up.
   */
  private static final Set<String> EXPORTED =
      Set.of(
          "up",
          "grpc_server_handled_total",
          "grpc_server_handling_seconds_bucket",
          "apiserver_storage_transformation_duration_seconds_bucket",
          "apiserver_storage_transformation_operations_total",
          "apiserver_envelope_encryption_kms_operations_latency_seconds_bucket",
          "apiserver_envelope_encryption_kms_operations_latency_seconds_count",
          "etcd_crypt_proxy_dek_cache_hits_total",
          "etcd_crypt_proxy_dek_cache_misses_total",
          "apiserver_envelope_encryption_key_id_hash_total",
          "etcd_crypt_proxy_stale_values_total",
          "etcd_crypt_proxy_plaintext_values_total",
          "etcd_crypt_proxy_already_encrypted_writes_total",
          "etcd_crypt_proxy_kms_v2_write_window_end_timestamp_seconds",
          "etcd_crypt_proxy_kms_provider_healthy",
          "etcd_crypt_proxy_readiness_check",
          "etcd_crypt_proxy_etcd_member_serving",
          "etcd_crypt_proxy_upstream_request_duration_seconds_bucket",
          "etcd_crypt_proxy_certificate_expiry_timestamp_seconds");

  /**
   * A metric name directly followed by a label selector or a range: how every query here names a
   * series.
   */
  private static final Pattern SERIES = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*[{\\[]");

  private static JsonNode dashboard;

  @BeforeAll
  static void load() throws Exception {
    dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
  }

  private static List<String> expressions() {
    List<String> exprs = new ArrayList<>();
    for (JsonNode panel : dashboard.get("panels")) {
      if ("row".equals(panel.path("type").asText())) {
        continue;
      }
      assertTrue(panel.path("targets").size() > 0, "panel without a query: " + panel.path("title"));
      for (JsonNode target : panel.get("targets")) {
        String expr = target.path("expr").asText();
        assertFalse(expr.isBlank(), "empty query in " + panel.path("title"));
        exprs.add(expr);
      }
    }
    return exprs;
  }

  @Test
  void hasAStableUidAndADataSourceVariable() {
    assertEquals("etcd-crypt-proxy", dashboard.path("uid").asText());
    boolean datasourceVariable = false;
    for (JsonNode v : dashboard.path("templating").path("list")) {
      datasourceVariable |=
          "datasource".equals(v.path("type").asText())
              && "prometheus".equals(v.path("query").asText());
    }
    assertTrue(
        datasourceVariable, "a datasource variable, so that the dashboard works in any Grafana");
  }

  @Test
  void chartsOnlyExportedMetricsAndEachOfThem() {
    Set<String> used = new TreeSet<>();
    for (String expr : expressions()) {
      Matcher m = SERIES.matcher(expr.replaceAll("\\[\\$__rate_interval]", "[5m]"));
      while (m.find()) {
        used.add(m.group(1));
      }
    }
    Set<String> unknown = new TreeSet<>(used);
    unknown.removeAll(EXPORTED);
    assertTrue(
        unknown.isEmpty(), "the dashboard queries metrics the proxy does not export: " + unknown);
    assertEquals(new TreeSet<>(EXPORTED), used, "every exported metric has a panel");
  }
}
