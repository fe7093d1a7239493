package io.etcdcrypt.observe;

import io.grpc.Status;
import java.util.EnumMap;
import java.util.Map;

/**
 * Every name an operator alerts on, in one place: metric names, their labels and bucket boundaries,
 * and the names of the health checks. Names are written out in full, exactly as {@code /metrics}
 * shows them, so a reviewer can compare them with the dashboards and alerts they must keep working.
 *
 * <ul>
 *   <li>{@code apiserver_storage_*}: kube-apiserver's {@code k8s.io/apiserver/pkg/storage/value}
 *       metrics;
 *   <li>{@code apiserver_envelope_encryption_*}: kube-apiserver's {@code
 *       .../value/encrypt/envelope/metrics};
 *   <li>{@code grpc_server_*}: go-grpc-prometheus' server metrics, as etcd exports them for its own
 *       RPCs;
 *   <li>{@code etcd_crypt_proxy_*}: what only the proxy knows.
 * </ul>
 */
public final class MetricNames {

  private MetricNames() {}

  /** Where the Prometheus text exposition is served on {@code --metrics-addr}. */
  public static final String METRICS_PATH = "/metrics";

  // ---- kube-apiserver: storage transformation ----

  /** Histogram {transformation_type, transformer_prefix}; successful transformations only. */
  public static final String TRANSFORMATION_DURATION =
      "apiserver_storage_transformation_duration_seconds";

  /** Counter {resource, transformation_type, transformer_prefix, status}. */
  public static final String TRANSFORMATION_OPERATIONS =
      "apiserver_storage_transformation_operations_total";

  /**
   * Counter, no labels: DEK/seed reads the provider's cache could not serve (KMS v1 with a cache,
   * KMS v2).
   */
  public static final String ENVELOPE_CACHE_MISSES =
      "apiserver_storage_envelope_transformation_cache_misses_total";

  /** Histogram, no labels: drawing a fresh DEK or seed. */
  public static final String DATA_KEY_GENERATION_DURATION =
      "apiserver_storage_data_key_generation_duration_seconds";

  /** Counter, no labels. */
  public static final String DATA_KEY_GENERATION_FAILURES =
      "apiserver_storage_data_key_generation_failures_total";

  // ---- kube-apiserver: envelope encryption (KMS) ----

  /** Histogram {provider_name, method_name, grpc_status_code}: every call to a KMS plugin. */
  public static final String KMS_OPERATIONS_LATENCY =
      "apiserver_envelope_encryption_kms_operations_latency_seconds";

  /**
   * Gauge, no labels: occupied share of a KMS v1 DEK cache, 0 to 1 despite the name (as upstream).
   */
  public static final String DEK_CACHE_FILL_PERCENT =
      "apiserver_envelope_encryption_dek_cache_fill_percent";

  /** Gauge {provider_name}: entries in a KMS v2 DEK/seed cache. */
  public static final String DEK_SOURCE_CACHE_SIZE =
      "apiserver_envelope_encryption_dek_source_cache_size";

  /**
   * Counter {transformation_type, provider_name, key_id_hash, apiserver_id_hash}: KMS v2 reads and
   * writes.
   */
  public static final String KEY_ID_HASH_TOTAL = "apiserver_envelope_encryption_key_id_hash_total";

  /** Gauge, same labels as {@link #KEY_ID_HASH_TOTAL}: unix time of the last use. */
  public static final String KEY_ID_HASH_LAST_TIMESTAMP =
      "apiserver_envelope_encryption_key_id_hash_last_timestamp_seconds";

  /**
   * Gauge {provider_name, key_id_hash, apiserver_id_hash}: unix time Status last reported that key
   * id.
   */
  public static final String KEY_ID_HASH_STATUS_LAST_TIMESTAMP =
      "apiserver_envelope_encryption_key_id_hash_status_last_timestamp_seconds";

  /** Counter {provider_name, error}: Status answers with an empty or too long key id. */
  public static final String INVALID_KEY_ID_FROM_STATUS =
      "apiserver_envelope_encryption_invalid_key_id_from_status_total";

  // ---- etcd's gRPC server metrics (go-grpc-prometheus) ----

  /** Counter {grpc_type, grpc_service, grpc_method}. */
  public static final String GRPC_SERVER_STARTED = "grpc_server_started_total";

  /** Counter {grpc_type, grpc_service, grpc_method, grpc_code}. */
  public static final String GRPC_SERVER_HANDLED = "grpc_server_handled_total";

  /** Histogram {grpc_type, grpc_service, grpc_method}. */
  public static final String GRPC_SERVER_HANDLING = "grpc_server_handling_seconds";

  /** Counter {grpc_type, grpc_service, grpc_method}. */
  public static final String GRPC_SERVER_MSG_RECEIVED = "grpc_server_msg_received_total";

  /** Counter {grpc_type, grpc_service, grpc_method}. */
  public static final String GRPC_SERVER_MSG_SENT = "grpc_server_msg_sent_total";

  // ---- etcd-crypt-proxy ----

  /** Histogram {member, grpc_method, grpc_code}: unary calls the proxy made to each etcd member. */
  public static final String UPSTREAM_REQUEST_DURATION =
      "etcd_crypt_proxy_upstream_request_duration_seconds";

  /**
   * Counter {provider, reason}: KMS plugin calls not made or abandoned, by {@link
   * io.etcdcrypt.kms.KmsObserver.DropReason} (client_cancelled, client_deadline: the write's client
   * gave up first; queue_full: too many calls already waited on the plugin). No series until the
   * first.
   */
  public static final String KMS_CALLS_DROPPED = "etcd_crypt_proxy_kms_calls_dropped_total";

  /**
   * Gauge: bytes of requests and responses the proxy holds now, across calls ({@code
   * --max-in-flight-bytes} bounds them).
   */
  public static final String IN_FLIGHT_BYTES = "etcd_crypt_proxy_in_flight_bytes";

  /** Gauge: bytes of the proxy's wire buffers (direct memory) in use now. */
  public static final String WIRE_BUFFERS_BYTES = "etcd_crypt_proxy_wire_buffers_in_use_bytes";

  /**
   * Gauge: bytes of direct memory the pool of wire buffers holds now, in use or not (what counts
   * against {@code -XX:MaxDirectMemorySize}); large requests are refused while it passes half of
   * that.
   */
  public static final String WIRE_BUFFERS_RESERVED_BYTES =
      "etcd_crypt_proxy_wire_buffers_reserved_bytes";

  /** Gauge: {@code --max-in-flight-bytes}. */
  public static final String IN_FLIGHT_LIMIT_BYTES = "etcd_crypt_proxy_in_flight_limit_bytes";

  /**
   * Counter: requests refused with RESOURCE_EXHAUSTED because they did not fit in {@code
   * --max-in-flight-bytes}.
   */
  public static final String IN_FLIGHT_REFUSED = "etcd_crypt_proxy_in_flight_refused_total";

  /**
   * Gauge: lists (Ranges over many keys) waiting now before going to etcd, until the answers of
   * those already there leave room in direct memory for theirs.
   */
  public static final String LISTS_WAITING = "etcd_crypt_proxy_lists_waiting";

  /** Counter: lists that waited for room for their answers before going to etcd. */
  public static final String LISTS_WAITED = "etcd_crypt_proxy_lists_waited_total";

  /**
   * Counter: encrypted watch values answered from the decryption another Watch stream made of the
   * same event (each client stream has its own etcd stream, so an event arrives once per stream).
   */
  public static final String WATCH_DECRYPTIONS_SHARED =
      "etcd_crypt_proxy_watch_decryptions_shared_total";

  /**
   * Counter: encrypted watch values decrypted, each once for all the streams that shared it (the
   * transformations kube-apiserver's metrics count for watches).
   */
  public static final String WATCH_DECRYPTIONS = "etcd_crypt_proxy_watch_decryptions_total";

  /** The {@code reason} label of {@link #KMS_CALLS_DROPPED}. */
  public static final String REASON = "reason";

  /** Counter {provider}: DEK/seed reads served from a KMS provider's cache. */
  public static final String DEK_CACHE_HITS = "etcd_crypt_proxy_dek_cache_hits_total";

  /** Counter {provider}: DEK/seed reads that had to ask the plugin. */
  public static final String DEK_CACHE_MISSES = "etcd_crypt_proxy_dek_cache_misses_total";

  /** Gauge, no labels: open client Watch streams (each carries any number of watches). */
  public static final String ACTIVE_WATCH_STREAMS = "etcd_crypt_proxy_active_watch_streams";

  /**
   * Counter {grpc_method}: writes etcd applied whose answer the proxy could not return (a previous
   * value it cannot decrypt); the client got INTERNAL saying the write was applied.
   */
  public static final String APPLIED_WRITES_UNANSWERED =
      "etcd_crypt_proxy_applied_writes_unanswered_total";

  /** Counter {status = success | failure}: EncryptionConfiguration reloads. */
  public static final String CONFIG_RELOADS = "etcd_crypt_proxy_config_reloads_total";

  /**
   * Counter {resource}: values read as plaintext under a resource whose first provider encrypts
   * (leaks).
   */
  public static final String PLAINTEXT_VALUES = "etcd_crypt_proxy_plaintext_values_total";

  /**
   * Counter {resource, outcome = stored_as_is | refused}: values clients wrote that already carried
   * a {@code k8s:enc:} prefix; stored without a second layer when the configuration opens them,
   * refused when it does not.
   */
  public static final String ALREADY_ENCRYPTED_WRITES =
      "etcd_crypt_proxy_already_encrypted_writes_total";

  /** The {@code outcome} label of {@link #ALREADY_ENCRYPTED_WRITES}. */
  public static final String OUTCOME = "outcome";

  /**
   * Counter {resource}: values read that were written by a provider or key that no longer writes.
   */
  public static final String STALE_VALUES = "etcd_crypt_proxy_stale_values_total";

  /**
   * Gauge {provider}: unix time until which a KMS v2 provider may still write with its current
   * seed; each successful Status moves it 3 minutes ahead, and past it writes are refused.
   */
  public static final String KMS_V2_WRITE_WINDOW_END =
      "etcd_crypt_proxy_kms_v2_write_window_end_timestamp_seconds";

  /**
   * Gauge {provider}: 1 for each KMS v1 provider in effect (none: no series). KMS v1 is deprecated
   * since Kubernetes 1.28 and kube-apiserver 1.29+ refuses it without its KMSv1 feature gate.
   */
  public static final String KMS_V1_PROVIDER = "etcd_crypt_proxy_kms_v1_provider";

  /** Gauge {provider}: 1 while a KMS provider's plugin is healthy, else 0 (read at each scrape). */
  public static final String KMS_PROVIDER_HEALTHY = "etcd_crypt_proxy_kms_provider_healthy";

  /** Gauge {check}: 1 while a readiness check ({@code /readyz/<check>}) passes, else 0. */
  public static final String READINESS_CHECK = "etcd_crypt_proxy_readiness_check";

  /** Gauge {member}: 1 while an etcd member is connected and serves with a leader, else 0. */
  public static final String ETCD_MEMBER_SERVING = "etcd_crypt_proxy_etcd_member_serving";

  /**
   * Gauge {use = listener | etcd-client | metrics}: unix time the certificate in use expires (its
   * notAfter), read from the certificate file when {@code serve} loaded it and again whenever it
   * reloads it.
   */
  public static final String CERTIFICATE_EXPIRY =
      "etcd_crypt_proxy_certificate_expiry_timestamp_seconds";

  // ---- label names ----

  public static final String RESOURCE = "resource";
  public static final String TRANSFORMATION_TYPE = "transformation_type";
  public static final String TRANSFORMER_PREFIX = "transformer_prefix";
  public static final String STATUS = "status";
  public static final String PROVIDER_NAME = "provider_name";
  public static final String METHOD_NAME = "method_name";
  public static final String GRPC_STATUS_CODE = "grpc_status_code";
  public static final String KEY_ID_HASH = "key_id_hash";
  public static final String APISERVER_ID_HASH = "apiserver_id_hash";
  public static final String ERROR = "error";
  public static final String GRPC_TYPE = "grpc_type";
  public static final String GRPC_SERVICE = "grpc_service";
  public static final String GRPC_METHOD = "grpc_method";
  public static final String GRPC_CODE = "grpc_code";
  public static final String MEMBER = "member";
  public static final String PROVIDER = "provider";
  public static final String CHECK = "check";
  public static final String USE = "use";

  // ---- label values ----

  public static final String TO_STORAGE = "to_storage";
  public static final String FROM_STORAGE = "from_storage";

  /**
   * {@code status} of a failed transformation whose error carries no gRPC status (e.g. a failed
   * AES-GCM open).
   */
  public static final String UNKNOWN_NON_GRPC = "unknown-non-grpc";

  /** {@code use} of the certificate the proxy presents to its clients ({@code --cert-file}). */
  public static final String USE_LISTENER = "listener";

  /** {@code use} of the client certificate the proxy presents to etcd ({@code --cert}). */
  public static final String USE_ETCD_CLIENT = "etcd-client";

  /**
   * {@code use} of the certificate the admin endpoint serves HTTPS with ({@code
   * --metrics-cert-file}).
   */
  public static final String USE_METRICS = "metrics";

  public static final String RELOAD_SUCCESS = "success";
  public static final String RELOAD_FAILURE = "failure";

  /**
   * {@code grpc_service}/{@code grpc_method} of a method name without a service, as
   * go-grpc-prometheus.
   */
  public static final String UNKNOWN = "unknown";

  /** {@code member} of an upstream call that never reached an etcd member. */
  public static final String NO_MEMBER = "none";

  /**
   * The component name kube-apiserver hashes into its id; the proxy uses kube-apiserver's formula
   * verbatim.
   */
  public static final String APISERVER_ID_COMPONENT = "kube-apiserver";

  /** Label sets of the key-id metrics kept (least recently used ones are deleted), as upstream. */
  public static final int KEY_ID_LABEL_SETS_KEPT = 100;

  // ---- buckets ----

  /** ExponentialBuckets(5e-6, 2, 25): 5 µs to 83.9 s. */
  public static double[] transformationBuckets() {
    return exponential(5e-6, 2, 25);
  }

  /** ExponentialBuckets(5e-6, 2, 14): 5 µs to 41 ms. */
  public static double[] dataKeyGenerationBuckets() {
    return exponential(5e-6, 2, 14);
  }

  /** ExponentialBuckets(0.0001, 2, 20): 0.1 ms to 52.4 s. */
  public static double[] kmsOperationBuckets() {
    return exponential(0.0001, 2, 20);
  }

  /** Prometheus' Go client DefBuckets, which go-grpc-prometheus (and so etcd) uses. */
  public static double[] grpcHandlingBuckets() {
    return new double[] {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
  }

  /**
   * ExponentialBuckets(0.0001, 2, 16): 0.1 ms to 3.3 s; etcd requests are mostly well under 5 ms.
   */
  public static double[] upstreamBuckets() {
    return exponential(0.0001, 2, 16);
  }

  /**
   * Prometheus' ExponentialBuckets, computed the same way (repeated multiplication) so the bounds
   * match exactly.
   */
  static double[] exponential(double start, double factor, int count) {
    double[] bounds = new double[count];
    double b = start;
    for (int i = 0; i < count; i++) {
      bounds[i] = b;
      b *= factor;
    }
    return bounds;
  }

  // ---- gRPC codes as Go spells them (grpc_code, grpc_status_code, status labels) ----

  private static final Map<Status.Code, String> GO_CODE_NAMES = new EnumMap<>(Status.Code.class);

  static {
    GO_CODE_NAMES.put(Status.Code.OK, "OK");
    GO_CODE_NAMES.put(Status.Code.CANCELLED, "Canceled");
    GO_CODE_NAMES.put(Status.Code.UNKNOWN, "Unknown");
    GO_CODE_NAMES.put(Status.Code.INVALID_ARGUMENT, "InvalidArgument");
    GO_CODE_NAMES.put(Status.Code.DEADLINE_EXCEEDED, "DeadlineExceeded");
    GO_CODE_NAMES.put(Status.Code.NOT_FOUND, "NotFound");
    GO_CODE_NAMES.put(Status.Code.ALREADY_EXISTS, "AlreadyExists");
    GO_CODE_NAMES.put(Status.Code.PERMISSION_DENIED, "PermissionDenied");
    GO_CODE_NAMES.put(Status.Code.RESOURCE_EXHAUSTED, "ResourceExhausted");
    GO_CODE_NAMES.put(Status.Code.FAILED_PRECONDITION, "FailedPrecondition");
    GO_CODE_NAMES.put(Status.Code.ABORTED, "Aborted");
    GO_CODE_NAMES.put(Status.Code.OUT_OF_RANGE, "OutOfRange");
    GO_CODE_NAMES.put(Status.Code.UNIMPLEMENTED, "Unimplemented");
    GO_CODE_NAMES.put(Status.Code.INTERNAL, "Internal");
    GO_CODE_NAMES.put(Status.Code.UNAVAILABLE, "Unavailable");
    GO_CODE_NAMES.put(Status.Code.DATA_LOSS, "DataLoss");
    GO_CODE_NAMES.put(Status.Code.UNAUTHENTICATED, "Unauthenticated");
  }

  /**
   * The Go name of a gRPC code ({@code Canceled}, {@code DeadlineExceeded}, ...), as Go servers
   * label it.
   */
  public static String grpcCodeName(Status.Code code) {
    return GO_CODE_NAMES.get(code);
  }

  // ---- health checks (/readyz/<name>, /healthz/<name>) ----

  /** etcd answers the gRPC health service. */
  public static final String CHECK_ETCD = "etcd";

  /**
   * All KMS providers, as one check: when only KMS v2 providers are configured (or with automatic
   * reload).
   */
  public static final String CHECK_KMS_PROVIDERS = "kms-providers";

  /**
   * One KMS provider's check, {@code index} counting every KMS provider of the file in order, v1
   * and v2 alike.
   */
  public static String kmsProviderCheck(int index) {
    return "kms-provider-" + index;
  }
}
