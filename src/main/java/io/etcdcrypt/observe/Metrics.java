package io.etcdcrypt.observe;

import io.etcdcrypt.crypto.TransformObserver;
import io.etcdcrypt.kms.KmsObserver;
import io.etcdcrypt.proxy.ProxyObserver;
import io.grpc.ClientInterceptor;
import io.grpc.ServerInterceptor;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;

/**
 * The proxy's metrics, exposed in Prometheus' text format at {@value MetricNames#METRICS_PATH}:
 * kube-apiserver's encryption metrics and etcd's gRPC metrics under their own names (see {@link
 * MetricNames}), the proxy's {@code etcd_crypt_proxy_*} metrics, and the JVM's (Micrometer's
 * binders). All of them are Micrometer meters, on one Prometheus registry ({@link Instruments} says
 * how the names stay exactly upstream's).
 *
 * <p>The packages that do the work know no metrics library: they report to small observer
 * interfaces, and this class hands out their implementations. Wire them as {@code serve} does:
 *
 * <pre>{@code
 * Metrics metrics = Metrics.forThisHost();
 * KmsProviders kms = new KmsProviders(KmsProviderOptions.defaults().withObserver(metrics.kms()));
 * EncryptionCodec codec = EncryptionCodec.create(config, resolver, kms, metrics.transforms());
 * ProxyServer proxy = ProxyServer.start(options, codec, metrics.proxy());
 * admin.route(MetricNames.METRICS_PATH, metrics::serve);
 * }</pre>
 */
public final class Metrics implements AutoCloseable {

  /** The content type of Prometheus' text exposition format. */
  public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final ScrapeClock registryClock = new ScrapeClock();
  private final PrometheusMeterRegistry registry;
  private final Instruments instruments;
  private final JvmGcMetrics gc;
  private final String apiServerIdHash;
  private final TransformMetrics transforms;
  private final KmsMetrics kms;
  private final GrpcServerMetrics grpcServer;
  private final UpstreamMetrics upstream;
  private final Instruments.Family<Counter> configReloads;

  /**
   * Metrics whose {@code apiserver_id_hash} is derived from {@code hostname} as kube-apiserver
   * derives its own; {@code clock} stamps the {@code *_timestamp_seconds} gauges.
   */
  public Metrics(String hostname, Clock clock) {
    // The constructor that takes a clock also takes the (Prometheus client's) registry Micrometer
    // writes to.
    registry =
        new PrometheusMeterRegistry(
            PrometheusConfig.DEFAULT, new PrometheusRegistry(), registryClock);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    gc = new JvmGcMetrics();
    gc.bindTo(registry);

    instruments = new Instruments(registry);
    apiServerIdHash = ApiServerId.hash(ApiServerId.forHost(hostname));
    transforms = new TransformMetrics(instruments);
    kms = new KmsMetrics(instruments, apiServerIdHash, clock);
    grpcServer = new GrpcServerMetrics(instruments);
    upstream = new UpstreamMetrics(instruments);
    configReloads =
        instruments.counter(
            MetricNames.CONFIG_RELOADS,
            "Reloads of the EncryptionConfiguration file, by outcome (success, failure).",
            MetricNames.STATUS);
    // Both outcomes exist from the start, so that an alert on failures has a series to watch.
    configReloads.labelValues(MetricNames.RELOAD_SUCCESS);
    configReloads.labelValues(MetricNames.RELOAD_FAILURE);
  }

  /** Metrics for this machine (its kernel host name), on the system clock. */
  public static Metrics forThisHost() {
    return new Metrics(ApiServerId.localHostname(), Clock.systemUTC());
  }

  /**
   * For {@link io.etcdcrypt.crypto.EncryptionCodec#create}: transformation metrics and the leak
   * detector.
   */
  public TransformObserver transforms() {
    return transforms;
  }

  /**
   * For {@link io.etcdcrypt.kms.KmsProviderOptions#withObserver}: KMS plugin, DEK cache and key id
   * metrics.
   */
  public KmsObserver kms() {
    return kms;
  }

  /**
   * For {@link io.etcdcrypt.proxy.ProxyServer#start}: gRPC server metrics and per-member upstream
   * latency.
   */
  public ProxyObserver proxy() {
    return new ProxyObserver() {
      @Override
      public List<ServerInterceptor> clientCallInterceptors() {
        return List.of(grpcServer);
      }

      @Override
      public List<ClientInterceptor> upstreamCallInterceptors() {
        return List.of(upstream);
      }
    };
  }

  /** Counts one reload of the EncryptionConfiguration (for the config reloader). */
  public void configReloaded(boolean success) {
    configReloads
        .labelValues(success ? MetricNames.RELOAD_SUCCESS : MetricNames.RELOAD_FAILURE)
        .increment();
  }

  /** The {@code apiserver_id_hash} label value of this process. */
  public String apiServerIdHash() {
    return apiServerIdHash;
  }

  /**
   * Every metric, in Prometheus' text exposition format (bucket bounds spelled as Go clients spell
   * them).
   */
  public String scrape() {
    registryClock.advance();
    return GoFloats.rewriteBucketBounds(instruments.withoutMaxGauges(registry.scrape()));
  }

  /** An {@link AdminServer.Route} serving {@link #scrape()}. */
  public AdminServer.Response serve(String query) {
    return new AdminServer.Response(200, CONTENT_TYPE, scrape().getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public void close() {
    gc.close();
    registry.close();
  }

  /**
   * The registry's clock, which tells the time of the last scrape. Micrometer reads the wall clock
   * twice for every duration a timer records, only to rotate time windows: the decaying maximum's
   * (dropped from the exposition for the proxy's histograms, kept for the JVM's {@code
   * jvm_gc_pause_seconds_max}) and the histogram's (which never expires on a Prometheus registry).
   * On the per-value path those reads cost more than the recording itself (two thirds of a 60 ns
   * record on a 2-core VM); a rotation is only ever seen at a scrape, which advances this clock
   * first. Durations themselves are measured by the callers, with {@link System#nanoTime()}.
   */
  private static final class ScrapeClock implements io.micrometer.core.instrument.Clock {
    private volatile long wallTime = System.currentTimeMillis();

    void advance() {
      wallTime = System.currentTimeMillis();
    }

    @Override
    public long wallTime() {
      return wallTime;
    }

    @Override
    public long monotonicTime() {
      return System.nanoTime();
    }
  }
}
