package io.etcdcrypt.observe;

import io.etcdcrypt.config.KmsApiVersion;
import io.etcdcrypt.crypto.TransformObserver;
import io.etcdcrypt.kms.KmsObserver;
import io.etcdcrypt.kms.KmsProvider;
import io.etcdcrypt.proxy.LiveTls;
import io.etcdcrypt.proxy.ProxyObserver;
import io.grpc.ClientInterceptor;
import io.grpc.ServerInterceptor;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

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
  private final Instruments.Family<Instruments.SettableGauge> certificateExpiry;
  private final ScrapedGauges scrapedGauges = new ScrapedGauges();
  private final List<LongSupplier> readAtScrape = new CopyOnWriteArrayList<>();

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
    certificateExpiry =
        instruments.gauge(
            MetricNames.CERTIFICATE_EXPIRY,
            "Unix time the certificate the proxy uses expires (notAfter), by use (listener: --cert-file,"
                + " etcd-client: --cert, metrics: --metrics-cert-file); follows reloads of the files.",
            MetricNames.USE);
    configReloads =
        instruments.counter(
            MetricNames.CONFIG_RELOADS,
            "Reloads of the EncryptionConfiguration file, by outcome (success, failure).",
            MetricNames.STATUS);
    // Both outcomes exist from the start, so that an alert on failures has a series to watch.
    configReloads.labelValues(MetricNames.RELOAD_SUCCESS);
    configReloads.labelValues(MetricNames.RELOAD_FAILURE);
  }

  /**
   * Exports the outcome of each check as {@value MetricNames#READINESS_CHECK}{check}, 1 passing and
   * 0 failing, run at each scrape (the checks cache what they ask, so this calls nothing more).
   */
  public void exportReadiness(List<HealthCheck> checks) {
    scraped(
        MetricNames.READINESS_CHECK,
        "1 while a readiness check (/readyz/<check>) passes, else 0.",
        MetricNames.CHECK,
        () -> {
          Map<String, Double> values = new LinkedHashMap<>();
          for (HealthCheck c : checks) {
            values.put(c.name(), ScrapedGauge.of(passes(c)));
          }
          return values;
        });
  }

  /**
   * Exports the state of the KMS providers {@code providers} returns (those in effect now): each
   * one's health as the readiness checks last saw it ({@link KmsProvider#lastHealth()}: a scrape
   * never calls a plugin, and the gauge never disagrees with {@code /readyz}) as {@value
   * MetricNames#KMS_PROVIDER_HEALTHY}{provider}, and each KMS v2 one's write window end as {@value
   * MetricNames#KMS_V2_WRITE_WINDOW_END}{provider}. A provider a reload removed disappears from
   * both.
   */
  public void exportKmsProviders(Supplier<List<KmsProvider>> providers) {
    scraped(
        MetricNames.KMS_PROVIDER_HEALTHY,
        "1 while a KMS provider's plugin is healthy (as /readyz checks it), else 0.",
        MetricNames.PROVIDER,
        () -> {
          Map<String, Double> values = new LinkedHashMap<>();
          for (KmsProvider p : providers.get()) {
            values.put(p.name(), ScrapedGauge.of(p.lastHealth().ok()));
          }
          return values;
        });
    scraped(
        MetricNames.KMS_V2_WRITE_WINDOW_END,
        "Unix time until which a KMS v2 provider may write with its current seed; each successful Status"
            + " moves it 3 minutes ahead, and past it writes are refused.",
        MetricNames.PROVIDER,
        () -> {
          Map<String, Double> values = new LinkedHashMap<>();
          for (KmsProvider p : providers.get()) {
            p.writeWindowEnd().ifPresent(end -> values.put(p.name(), end.toEpochMilli() / 1000.0));
          }
          return values;
        });
    scraped(
        MetricNames.KMS_V1_PROVIDER,
        "1 for each KMS v1 provider in effect: deprecated since Kubernetes 1.28, refused by"
            + " kube-apiserver 1.29+ without --feature-gates=KMSv1=true; use apiVersion v2.",
        MetricNames.PROVIDER,
        () -> {
          Map<String, Double> values = new LinkedHashMap<>();
          for (KmsProvider p : providers.get()) {
            if (p.apiVersion() == KmsApiVersion.V1) {
              values.put(p.name(), 1.0);
            }
          }
          return values;
        });
  }

  /**
   * Exports whether each etcd member serves ({@code host:port} to serving) as {@value
   * MetricNames#ETCD_MEMBER_SERVING}{member}.
   */
  public void exportEtcdMembers(Supplier<Map<String, Boolean>> serving) {
    scraped(
        MetricNames.ETCD_MEMBER_SERVING,
        "1 while the proxy is connected to an etcd member and its health check says it serves with a leader,"
            + " else 0.",
        MetricNames.MEMBER,
        () -> {
          Map<String, Double> values = new LinkedHashMap<>();
          serving.get().forEach((member, ok) -> values.put(member, ScrapedGauge.of(ok)));
          return values;
        });
  }

  /**
   * Exports what the proxy holds in flight: {@value MetricNames#IN_FLIGHT_BYTES} ({@code held}),
   * {@value MetricNames#WIRE_BUFFERS_BYTES} ({@code wireBuffers}), {@value
   * MetricNames#WIRE_BUFFERS_RESERVED_BYTES} ({@code wireBuffersReserved}), {@value
   * MetricNames#IN_FLIGHT_LIMIT_BYTES} ({@code limit}) and {@value MetricNames#IN_FLIGHT_REFUSED}
   * ({@code refused}), read at each scrape.
   */
  public void exportInFlight(
      long limit,
      LongSupplier held,
      LongSupplier refused,
      LongSupplier wireBuffers,
      LongSupplier wireBuffersReserved) {
    Gauge.builder(MetricNames.IN_FLIGHT_BYTES, held, h -> h.getAsLong())
        .description(
            "Bytes of client requests and etcd responses the proxy holds now, across all calls.")
        .strongReference(true)
        .register(registry);
    Gauge.builder(MetricNames.WIRE_BUFFERS_BYTES, wireBuffers, w -> w.getAsLong())
        .description("Bytes of the proxy's wire buffers (direct memory) in use now.")
        .strongReference(true)
        .register(registry);
    Gauge.builder(MetricNames.WIRE_BUFFERS_RESERVED_BYTES, wireBuffersReserved, w -> w.getAsLong())
        .description(
            "Bytes of direct memory the pool of wire buffers holds now, in use or not: what counts"
                + " against -XX:MaxDirectMemorySize; requests over 64 KiB are refused while it"
                + " passes half of it.")
        .strongReference(true)
        .register(registry);
    Gauge.builder(MetricNames.IN_FLIGHT_LIMIT_BYTES, () -> limit)
        .description(
            "--max-in-flight-bytes: the most bytes of requests and responses held at once.")
        .register(registry);
    readAtScrape(
        MetricNames.IN_FLIGHT_REFUSED,
        "Requests refused with RESOURCE_EXHAUSTED because they did not fit in"
            + " --max-in-flight-bytes.",
        refused);
  }

  /**
   * Exports the lists that wait for room in direct memory for their answers: {@value
   * MetricNames#LISTS_WAITING} ({@code waiting}, now) and {@value MetricNames#LISTS_WAITED} ({@code
   * waited}, so far), read at each scrape.
   */
  public void exportListRoom(LongSupplier waiting, LongSupplier waited) {
    Gauge.builder(MetricNames.LISTS_WAITING, waiting, w -> w.getAsLong())
        .description(
            "Lists (Ranges over many keys) waiting now before going to etcd, until the answers of"
                + " those already there, held in direct memory, leave room for theirs.")
        .strongReference(true)
        .register(registry);
    readAtScrape(
        MetricNames.LISTS_WAITED,
        "Lists that waited for room for their answers before going to etcd; when it grows"
            + " steadily, give the proxy more -XX:MaxDirectMemorySize (README, Memory).",
        waited);
  }

  /**
   * Exports how watch values were opened: {@value MetricNames#WATCH_DECRYPTIONS_SHARED} ({@code
   * shared}: from another stream's decryption) and {@value MetricNames#WATCH_DECRYPTIONS} ({@code
   * decrypted}), read at each scrape.
   */
  public void exportWatchDecryptions(LongSupplier shared, LongSupplier decrypted) {
    readAtScrape(
        MetricNames.WATCH_DECRYPTIONS_SHARED,
        "Encrypted watch values answered from the decryption another Watch stream made of the same"
            + " event, without decrypting them again.",
        shared);
    readAtScrape(
        MetricNames.WATCH_DECRYPTIONS,
        "Encrypted watch values decrypted, each once for all the Watch streams that received it"
            + " within 2 s.",
        decrypted);
  }

  /**
   * A counter whose value {@code count} answers at each scrape. Micrometer holds what a function
   * counter reads only weakly (a collected supplier would freeze the counter at its last value), so
   * this instance keeps it.
   */
  private void readAtScrape(String name, String help, LongSupplier count) {
    readAtScrape.add(count);
    FunctionCounter.builder(name, count, LongSupplier::getAsLong)
        .description(help)
        .register(registry);
  }

  /**
   * Exports the expiry of the certificate the proxy loaded from {@code certFile} for {@code use}
   * ({@value MetricNames#USE_LISTENER} or {@value MetricNames#USE_ETCD_CLIENT}).
   */
  public void certificateInUse(String use, Path certFile) throws IOException {
    certificateExpiry.labelValues(use).set(Certificates.notAfter(certFile).toEpochMilli() / 1000.0);
  }

  /**
   * Exports the expiry of the certificate {@code tls} uses, if any, under {@code use} ({@value
   * MetricNames#USE_LISTENER}, {@value MetricNames#USE_ETCD_CLIENT} or {@value
   * MetricNames#USE_METRICS}), following its reloads.
   */
  public void exportCertificateExpiry(String use, LiveTls tls) {
    tls.onIdentity(leaf -> certificateInUse(use, leaf));
  }

  private void certificateInUse(String use, X509Certificate leaf) {
    certificateExpiry.labelValues(use).set(leaf.getNotAfter().getTime() / 1000.0);
  }

  private void scraped(
      String name, String help, String label, Supplier<Map<String, Double>> values) {
    scrapedGauges.add(new ScrapedGauge(instruments.gauge(name, help, label), values));
  }

  private static boolean passes(HealthCheck check) {
    try {
      return check.check().isEmpty();
    } catch (RuntimeException e) {
      return false; // as /readyz counts a check that throws
    }
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
    scrapedGauges.refresh();
    return GoFloats.rewriteBucketBounds(instruments.withoutMaxGauges(registry.scrape()));
  }

  /** An {@link AdminServer.Route} serving {@link #scrape()}. */
  public AdminServer.Response serve(String query) {
    return new AdminServer.Response(200, CONTENT_TYPE, scrape().getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public void close() {
    scrapedGauges.close();
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
