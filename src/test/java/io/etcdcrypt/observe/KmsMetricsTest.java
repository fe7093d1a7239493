package io.etcdcrypt.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.KmsObserver.Direction;
import io.etcdcrypt.kms.KmsPluginException;
import io.etcdcrypt.testing.MutableClock;
import io.etcdcrypt.testing.PrometheusText;
import io.grpc.Status;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * The observers' rules that a short workload does not reach: LRU eviction, bad key ids, status
 * mapping.
 */
class KmsMetricsTest {

  private final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
  private final Metrics metrics = new Metrics("test-host", clock);

  private PrometheusText.Exposition scrape() {
    return PrometheusText.parse(metrics.scrape());
  }

  @Test
  void keyIdLabelSetsBeyondTheHundredMostRecentAreDeleted() {
    for (int i = 0; i <= MetricNames.KEY_ID_LABEL_SETS_KEPT; i++) {
      metrics.kms().keyIdUsed("kms2", Direction.TO_STORAGE, "key-" + i);
      metrics.kms().statusKeyId("kms2", "key-" + i);
    }
    PrometheusText.Exposition m = scrape();
    assertEquals(
        MetricNames.KEY_ID_LABEL_SETS_KEPT, m.samples(MetricNames.KEY_ID_HASH_TOTAL).size());
    assertEquals(
        MetricNames.KEY_ID_LABEL_SETS_KEPT,
        m.samples(MetricNames.KEY_ID_HASH_LAST_TIMESTAMP).size());
    assertEquals(
        MetricNames.KEY_ID_LABEL_SETS_KEPT,
        m.samples(MetricNames.KEY_ID_HASH_STATUS_LAST_TIMESTAMP).size());
    String serverHash = ApiServerId.hash(ApiServerId.forHost("test-host"));
    assertTrue(
        m.matching(MetricNames.KEY_ID_HASH_TOTAL, "key_id_hash", ApiServerId.hash("key-0"))
            .isEmpty(),
        "the least recently used key id is gone");
    assertEquals(
        1,
        m.value(
            MetricNames.KEY_ID_HASH_TOTAL,
            "transformation_type",
            "to_storage",
            "provider_name",
            "kms2",
            "key_id_hash",
            ApiServerId.hash("key-100"),
            "apiserver_id_hash",
            serverHash));
    assertEquals(
        clock.instant().getEpochSecond(),
        m.value(
            MetricNames.KEY_ID_HASH_STATUS_LAST_TIMESTAMP,
            "provider_name",
            "kms2",
            "key_id_hash",
            ApiServerId.hash("key-100"),
            "apiserver_id_hash",
            serverHash));
  }

  @Test
  void invalidStatusKeyIdsFillCacheAndFailedGenerationsAreCounted() {
    metrics.kms().invalidStatusKeyId("kms2", "empty");
    metrics.kms().invalidStatusKeyId("kms2", "empty");
    metrics.kms().invalidStatusKeyId("kms2", "too_long");
    metrics.kms().dekCacheSize("kms1", 25, 100);
    metrics.kms().dataKeyGenerated(1_000, false);
    metrics
        .kms()
        .pluginCall(
            "kms2",
            "/v2.KeyManagementService/Status",
            Status.Code.DEADLINE_EXCEEDED,
            3_000_000_000L);
    PrometheusText.Exposition m = scrape();
    assertEquals(
        2,
        m.value(MetricNames.INVALID_KEY_ID_FROM_STATUS, "provider_name", "kms2", "error", "empty"));
    assertEquals(
        1,
        m.value(
            MetricNames.INVALID_KEY_ID_FROM_STATUS, "provider_name", "kms2", "error", "too_long"));
    assertEquals(0.25, m.value(MetricNames.DEK_CACHE_FILL_PERCENT));
    assertEquals(1, m.value(MetricNames.DATA_KEY_GENERATION_FAILURES));
    assertEquals(0, m.value(MetricNames.DATA_KEY_GENERATION_DURATION + "_count"));
    assertEquals(
        3.0,
        m.value(
            MetricNames.KMS_OPERATIONS_LATENCY + "_sum",
            "provider_name",
            "kms2",
            "method_name",
            "/v2.KeyManagementService/Status",
            "grpc_status_code",
            "DeadlineExceeded"));
  }

  @Test
  void transformationStatusIsTheGrpcCodeOfTheFailureOrUnknownNonGrpc() {
    assertEquals("OK", TransformMetrics.status(null));
    assertEquals(
        "unknown-non-grpc",
        TransformMetrics.status(new TransformException("cipher: message authentication failed")));
    KmsPluginException unavailable = new KmsPluginException("plugin down", Status.Code.UNAVAILABLE);
    assertEquals(
        "Unavailable",
        TransformMetrics.status(new TransformException("failed to decrypt DEK", unavailable)));
    // A call that worked but whose answer broke the contract carries no gRPC failure.
    assertEquals(
        "unknown-non-grpc",
        TransformMetrics.status(new KmsPluginException("empty plaintext", Status.Code.OK)));
    assertEquals(
        "DeadlineExceeded",
        TransformMetrics.status(
            new TransformException("wrapped", Status.DEADLINE_EXCEEDED.asRuntimeException())));
  }

  @Test
  void configReloadsAreCountedByOutcome() {
    metrics.configReloaded(true);
    metrics.configReloaded(false);
    metrics.configReloaded(true);
    PrometheusText.Exposition m = scrape();
    assertEquals(2, m.value(MetricNames.CONFIG_RELOADS, "status", "success"));
    assertEquals(1, m.value(MetricNames.CONFIG_RELOADS, "status", "failure"));
  }
}
