package io.etcdcrypt.cli;

import io.etcdcrypt.config.ConfigException;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.LoadOptions;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.kms.KmsProviderOptions;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.observe.AdminServer;
import io.etcdcrypt.observe.AdminTls;
import io.etcdcrypt.observe.BackgroundChecks;
import io.etcdcrypt.observe.HealthCheck;
import io.etcdcrypt.observe.KmsHealthChecks;
import io.etcdcrypt.observe.MetricNames;
import io.etcdcrypt.observe.Metrics;
import io.etcdcrypt.ops.ConfigReloader;
import io.etcdcrypt.ops.StaleRewriter;
import io.etcdcrypt.ops.SwappableCodec;
import io.etcdcrypt.proxy.Endpoint;
import io.etcdcrypt.proxy.EtcdHealth;
import io.etcdcrypt.proxy.LiveTls;
import io.etcdcrypt.proxy.ProxyOptions;
import io.etcdcrypt.proxy.ProxyServer;
import io.etcdcrypt.proxy.Threading;
import io.etcdcrypt.proxy.TlsFiles;
import io.etcdcrypt.proxy.Upstream;
import io.etcdcrypt.warmup.WarmUp;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code serve}: run the proxy. Flag names follow etcd's grpc-proxy and kube-apiserver. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Serve the etcd v3 API on --listen-addr and relay every call to the etcd cluster, encrypting values of the"
          + " resources the EncryptionConfiguration names on the way in and decrypting them on the way out.",
      "Point kube-apiserver's --etcd-servers at this address."
    })
public final class ServeCommand implements Callable<Integer> {

  /** The /readyz check that passes once the warm-up is done. */
  static final String CHECK_WARM_UP = "warm-up";

  /** {@code --warm-up-seconds}' default. */
  public static final int DEFAULT_WARM_UP_SECONDS = 5;

  /**
   * How often readiness checks run in the background. etcd is probed every second anyway and KMS
   * health results are cached (20 s healthy, 3 s failed, as kube-apiserver), so this only bounds
   * how stale /readyz can be.
   */
  private static final Duration READINESS_INTERVAL = Duration.ofSeconds(1);

  @Mixin EtcdClientOptions etcd;
  @Mixin EncryptionConfigOptions encryption;
  @Mixin LogOptions logging;
  @Spec CommandSpec spec;

  @Option(
      names = "--listen-addr",
      defaultValue = "127.0.0.1:23790",
      description =
          "host:port clients connect to (kube-apiserver's --etcd-servers). Default: ${DEFAULT-VALUE}")
  String listenAddr;

  @Option(
      names = {"--advertise-client-urls", "--advertise-client-url"},
      split = ",",
      paramLabel = "URL",
      description =
          "Client URLs of this proxy, comma-separated (http(s)://host:port, or host:port with the"
              + " listener's scheme), handed out as every member's client URLs in MemberList and the other Cluster"
              + " responses, so that clients that sync their endpoints from the member list (clientv3 Sync and"
              + " AutoSyncInterval, etcdctl --cluster) keep using a proxy. Default: this listener's URL,"
              + " http(s)://<--listen-addr>; with a wildcard --listen-addr, the address each client reached the proxy"
              + " on. --advertise-client-url (etcd grpc-proxy's name) is the same flag.")
  List<String> advertiseClientUrls = new ArrayList<>();

  @Option(
      names = "--max-request-bytes",
      defaultValue = "" + ProxyOptions.DEFAULT_MAX_REQUEST_BYTES,
      description =
          "etcd's --max-request-bytes: set it to the value etcd runs with. Like etcd, the proxy accepts"
              + " client messages of up to this plus 512 KiB of gRPC overhead and refuses larger ones with etcd's"
              + " RESOURCE_EXHAUSTED; a request that fits but outgrows this limit once encrypted gets etcd's"
              + " 'etcdserver: request is too large'. Default: ${DEFAULT-VALUE} (etcd's 1.5 MiB)")
  int maxRequestBytes;

  @Option(
      names = "--max-in-flight-bytes",
      defaultValue = "" + ProxyOptions.DEFAULT_MAX_IN_FLIGHT_BYTES,
      description =
          "Bytes of requests and responses the proxy holds at once, across all calls (each costs a few"
              + " times its size in memory while held). A request over 64 KiB that would exceed it is refused"
              + " with RESOURCE_EXHAUSTED, as it arrives, before anything reaches etcd; smaller requests and"
              + " etcd's responses are never refused. At least --max-request-bytes plus 512 KiB."
              + " Default: ${DEFAULT-VALUE} (32 MiB)")
  long maxInFlightBytes;

  @Option(
      names = "--metrics-addr",
      paramLabel = "HOST:PORT",
      description =
          "Serve /metrics, /livez, /readyz and /healthz over HTTP (HTTPS with --metrics-cert-file) on"
              + " this address. Off by default.")
  String metricsAddr;

  @Option(
      names = "--metrics-cert-file",
      paramLabel = "FILE",
      description =
          "Serve --metrics-addr over HTTPS with this certificate (checked and reloaded like"
              + " --cert-file).")
  Path metricsCert;

  @Option(
      names = "--metrics-key-file",
      paramLabel = "FILE",
      description = "Private key of --metrics-cert-file.")
  Path metricsKey;

  @Option(
      names = "--metrics-client-ca-file",
      paramLabel = "FILE",
      description =
          "Require a client certificate signed by this CA for /metrics and /readyz, as"
              + " kube-apiserver's --client-ca-file authenticates its metrics scraper. /livez and"
              + " /healthz stay open for the kubelet's probes, which present none, but tell such"
              + " clients only ok or failed. Needs --metrics-cert-file.")
  Path metricsClientCa;

  @Option(
      names = "--cert-file",
      paramLabel = "FILE",
      description = "Server certificate of the listener (TLS).")
  Path listenerCert;

  @Option(names = "--key-file", paramLabel = "FILE", description = "Private key of --cert-file.")
  Path listenerKey;

  @Option(
      names = "--trusted-ca-file",
      paramLabel = "FILE",
      description =
          "CA that client certificates must be signed by. When set, clients must present one, as"
              + " kube-apiserver does to etcd.")
  Path listenerCa;

  @Option(
      names = "--tls-reload-interval",
      paramLabel = "SECONDS",
      defaultValue = "10",
      description =
          "Seconds between checks of --cert-file, --key-file, --trusted-ca-file, --cert, --key,"
              + " --cacert and the --metrics-*-file files for changes. A changed certificate and key (or CA) that parse, belong together"
              + " and have not expired are used from the next handshake on; a broken change is logged and"
              + " the files loaded before stay in use. Default: ${DEFAULT-VALUE}")
  int tlsReloadSeconds;

  @Option(
      names = "--event-loop-threads",
      defaultValue = "1",
      description =
          "Threads serving client and etcd connections; calls run on them. One avoids every hand-off"
              + " between the client and the etcd connection (best on small machines); raise it when the proxy has"
              + " cores of its own. Default: ${DEFAULT-VALUE}")
  int eventLoopThreads;

  /**
   * Accepted so that old manifests keep working; nothing waits on threads for a KMS plugin any
   * more.
   */
  @Option(names = "--kms-wait-threads", hidden = true)
  Integer kmsWaitThreads;

  @Option(
      names = "--kms-max-pending-calls",
      paramLabel = "N",
      defaultValue = "" + KmsProviderOptions.DEFAULT_MAX_PENDING_CALLS,
      description =
          "Calls that may wait on one KMS plugin at once. Past it a request that needs the plugin fails at"
              + " once with RESOURCE_EXHAUSTED instead of queueing behind a hung plugin (each waiting write holds"
              + " its value in memory); one request has at most 8 calls waiting at a time. A KMS v1 write"
              + " whose client gave up (cancelled, or past its deadline) is not sent to the plugin. Both are counted in etcd_crypt_proxy_kms_calls_dropped_total."
              + " Default: ${DEFAULT-VALUE}")
  int kmsMaxPendingCalls;

  @Option(
      names = "--shutdown-grace",
      defaultValue = "10",
      description =
          "Seconds running calls get to finish on shutdown (SIGTERM). Watches, lease keep-alives and"
              + " election observers, which never finish, end at once with UNAVAILABLE and their clients re-create"
              + " them. Default: ${DEFAULT-VALUE}")
  int shutdownGraceSeconds;

  @Option(
      names = "--warm-up-seconds",
      paramLabel = "SECONDS",
      defaultValue = "" + DEFAULT_WARM_UP_SECONDS,
      description =
          "After it starts listening, run the request path hot for this long, and only then pass /readyz"
              + " (check warm-up): a throw-away proxy in front of an in-memory stand-in for etcd, both on loopback"
              + " ports of their own, loaded with kube-apiserver's requests on synthetic values; nothing reaches"
              + " etcd, the KMS plugins or the metrics. Clients that connect meanwhile are served. A proxy restarted"
              + " under load then takes it compiled rather than interpreted (see the README, Start-up). 0 turns it"
              + " off. Default: ${DEFAULT-VALUE}")
  int warmUpSeconds;

  @Option(
      names = "--encryption-provider-config-automatic-reload",
      description =
          "Watch the encryption configuration file (and poll it every 60 s). A changed file is validated"
              + " and its KMS providers must be healthy before it replaces the running configuration atomically; a"
              + " bad file keeps the running one (logged, and counted in metrics).")
  boolean automaticReload;

  @Option(
      names = "--rewrite-stale-on-read",
      description =
          "When a client reads a value stored under a provider, key or KMS key id that is no longer the"
              + " first, re-encrypt it in the background with a Txn guarded by the revision read, so a concurrent"
              + " update is never overwritten. Off by default; `rewrap` does the same for everything at once.")
  boolean rewriteStaleOnRead;

  @Override
  public Integer call() throws Exception {
    logging.apply();
    Logger log = LoggerFactory.getLogger(ServeCommand.class);

    EncryptionConfiguration config;
    try {
      config = EncryptionConfigLoader.load(encryption.file, new LoadOptions(automaticReload));
    } catch (ConfigException e) {
      log.error("invalid --encryption-provider-config: {}", e.getMessage());
      return 2;
    }
    config
        .warnings()
        .forEach(w -> log.warn("encryption configuration: {}: {}", w.path(), w.message()));

    ProxyOptions options;
    LiveTls listenerTls;
    LiveTls upstreamTls;
    LiveTls metricsTls;
    try {
      options =
          new ProxyOptions(
              Endpoint.parseListen(listenAddr),
              etcd.members(),
              new TlsFiles(listenerCert, listenerKey, listenerCa),
              etcd.tls(),
              etcd.maxRecvBytes,
              maxRequestBytes,
              advertiseClientUrls,
              maxInFlightBytes);
      // Checks the TLS flags and files now, so a mistake is one line naming the flag.
      listenerTls = LiveTls.forListener(options.listenerTls(), options.listen());
      upstreamTls = LiveTls.forEtcdClient(options.upstreamTls());
      metricsTls = metricsTls();
      if (tlsReloadSeconds < 1) {
        throw new IllegalArgumentException(
            "--tls-reload-interval must be at least 1 (seconds), not " + tlsReloadSeconds);
      }
      if (warmUpSeconds < 0) {
        throw new IllegalArgumentException(
            "--warm-up-seconds must be 0 (off) or more, not " + warmUpSeconds);
      }
      if (kmsMaxPendingCalls < 1) {
        throw new IllegalArgumentException(
            "--kms-max-pending-calls must be at least 1, not " + kmsMaxPendingCalls);
      }
    } catch (IllegalArgumentException | UncheckedIOException e) {
      log.error("{}", e.getMessage());
      return 2;
    }
    listenerTls.warnings().forEach(w -> log.warn("{}", w));
    upstreamTls.warnings().forEach(w -> log.warn("{}", w));
    if (metricsTls != null) {
      metricsTls.warnings().forEach(w -> log.warn("{}", w));
    }
    if (spec.commandLine().getParseResult().hasMatchedOption("--max-recv-bytes")
        && !spec.commandLine().getParseResult().hasMatchedOption("--max-request-bytes")) {
      log.warn(
          "--max-recv-bytes limits only what etcd sends; client requests are limited by --max-request-bytes"
              + " ({} bytes plus 512 KiB, as etcd's default): set it to etcd's --max-request-bytes",
          maxRequestBytes);
    }

    // KMS providers start even when their plugin is down; they become usable (and /readyz passes)
    // once it
    // answers, like kube-apiserver's.
    Metrics metrics = Metrics.forThisHost();
    Supplier<KmsProviders> newKms =
        () ->
            new KmsProviders(
                KmsProviderOptions.defaults()
                    .withObserver(metrics.kms())
                    .withHealthyResultTtl(KmsHealthChecks.PASSING_RESULT_TTL)
                    .withMaxPendingCalls(kmsMaxPendingCalls));
    ResourceResolver resolver = new ResourceResolver(encryption.etcdPrefix);
    KmsProviders kms = newKms.get();
    SwappableCodec codec;
    try {
      codec =
          new SwappableCodec(EncryptionCodec.create(config, resolver, kms, metrics.transforms()));
    } catch (TransformException e) {
      log.error("cannot build the providers of {}: {}", encryption.file, e.getMessage());
      kms.close();
      return 2;
    }

    List<AutoCloseable> closeAfterServer = new ArrayList<>();
    ValueCodec.StaleListener stale = ValueCodec.StaleListener.NONE;
    if (rewriteStaleOnRead) {
      // Its own connection to etcd, so background rewrites never queue behind client traffic; the
      // proxy's own connections log the members' changes of state.
      Upstream rewriteUpstream =
          Upstream.second(options.endpoints(), upstreamTls, options.maxRecvBytes());
      StaleRewriter rewriter =
          new StaleRewriter(
                  codec::current, rewriteUpstream.channel(), StaleRewriter.Options.defaults())
              .start();
      stale = rewriter::offer;
      closeAfterServer.add(rewriter);
      closeAfterServer.add(rewriteUpstream);
    }
    if (kmsWaitThreads != null) {
      log.warn(
          "--kms-wait-threads is ignored: requests that wait on a KMS plugin no longer hold a thread");
    }
    Threading threading = new Threading(eventLoopThreads);
    ProxyServer proxy;
    try {
      proxy =
          ProxyServer.start(
              options, listenerTls, upstreamTls, codec, metrics.proxy(), stale, threading);
    } catch (IOException e) {
      log.error("{}", StartupErrors.cannotListen("--listen-addr", listenAddr, e));
      closeAll(closeAfterServer, log);
      kms.close();
      return 1;
    }
    List<LiveTls> reloaded = new ArrayList<>();
    if (options.listenerTls().enabled()) {
      metrics.exportCertificateExpiry(MetricNames.USE_LISTENER, listenerTls);
      reloaded.add(listenerTls);
    }
    if (options.upstreamTls().enabled()) {
      metrics.exportCertificateExpiry(MetricNames.USE_ETCD_CLIENT, upstreamTls);
      reloaded.add(upstreamTls);
    }
    if (metricsTls != null) {
      metrics.exportCertificateExpiry(MetricNames.USE_METRICS, metricsTls);
      reloaded.add(metricsTls);
    }
    if (!reloaded.isEmpty()) {
      closeAfterServer.add(LiveTls.reloadEvery(Duration.ofSeconds(tlsReloadSeconds), reloaded));
    }

    Supplier<KmsProviders> currentKms = () -> kms;
    if (automaticReload) {
      ConfigReloader reloader =
          ConfigReloader.start(
              encryption.file,
              resolver,
              codec,
              kms,
              ConfigReloader.Options.defaults()
                  .withKmsFactory(newKms)
                  .withObservers(metrics.transforms(), metrics::configReloaded));
      currentKms = reloader::currentKms;
      closeAfterServer.add(reloader); // closes every KMS generation, the first one included
    } else {
      closeAfterServer.add(kms);
    }

    // Listening already, so that a client on the same host (kube-apiserver beside it) is served at
    // once; /readyz waits for the warm-up, so that a load balancer sends load only when it is done.
    CompletableFuture<Void> warmedUp = new CompletableFuture<>();
    HealthCheck warm =
        HealthCheck.of(
            CHECK_WARM_UP,
            () ->
                warmedUp.isDone()
                    ? Optional.empty()
                    : Optional.of(
                        "running the request path hot for "
                            + warmUpSeconds
                            + " s (--warm-up-seconds) before taking load"));
    if (metricsAddr != null) {
      try {
        closeAfterServer.add(0, startAdmin(proxy, metrics, config, currentKms, metricsTls, warm));
      } catch (IOException e) {
        log.error("{}", StartupErrors.cannotListen("--metrics-addr", metricsAddr, e));
        proxy.shutdown(0, TimeUnit.SECONDS);
        closeAll(closeAfterServer, log);
        return 1;
      }
    }

    if (warmUpSeconds > 0) {
      Thread t =
          new Thread(
              () -> {
                warmUp(config, log);
                warmedUp.complete(null);
              },
              "warm-up");
      t.setDaemon(true);
      t.start();
    } else {
      warmedUp.complete(null);
    }

    StopOnSignal.install(
        "shutdown",
        () -> {
          log.info(
              "shutting down: letting running calls finish for up to {} s", shutdownGraceSeconds);
          proxy.shutdown(shutdownGraceSeconds, TimeUnit.SECONDS);
          closeAll(closeAfterServer, log);
          log.info("shut down cleanly");
        });
    proxy.awaitTermination();
    return 0;
  }

  /** Runs {@link WarmUp}; a warm-up that fails is logged, and the proxy serves colder. */
  private void warmUp(EncryptionConfiguration config, Logger log) {
    try {
      WarmUp.Result result =
          WarmUp.run(WarmUp.providerKinds(config), Duration.ofSeconds(warmUpSeconds));
      if (result.firstError() == null) {
        log.info("warmed up: {}", result);
      } else {
        log.warn("the warm-up stopped early, the proxy is partly cold: {}", result);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException | RuntimeException e) {
      log.warn(
          "the warm-up failed, the proxy is cold (its first seconds of load are slower): {}",
          e.toString());
    }
  }

  /**
   * The admin endpoint's TLS files, checked now; null for plain HTTP.
   *
   * @throws IllegalArgumentException for a mistake in the flags or files, naming the flag
   */
  private LiveTls metricsTls() {
    TlsFiles files = new TlsFiles(metricsCert, metricsKey, metricsClientCa);
    if (!files.enabled()) {
      return null;
    }
    if (metricsAddr == null) {
      String given =
          metricsCert != null
              ? "--metrics-cert-file"
              : metricsKey != null ? "--metrics-key-file" : "--metrics-client-ca-file";
      throw new IllegalArgumentException(
          given + " needs --metrics-addr: it secures the admin endpoint, which is off without it");
    }
    return LiveTls.forMetrics(files);
  }

  private static void closeAll(List<AutoCloseable> closeables, Logger log) {
    for (AutoCloseable c : closeables) {
      try {
        c.close();
      } catch (Exception e) {
        log.warn("error while shutting down {}", c, e);
      }
    }
  }

  private AdminServer startAdmin(
      ProxyServer proxy,
      Metrics metrics,
      EncryptionConfiguration config,
      Supplier<KmsProviders> kms,
      LiveTls tls,
      HealthCheck warmUp)
      throws IOException {
    Endpoint a = Endpoint.parseListen(metricsAddr);
    AdminServer admin =
        new AdminServer(
            new InetSocketAddress(a.host(), a.port()), tls == null ? null : AdminTls.of(tls));
    admin.route(MetricNames.METRICS_PATH, metrics::serve);
    EtcdHealth etcd = new EtcdHealth(proxy.upstream());
    List<HealthCheck> readiness = new ArrayList<>();
    readiness.add(HealthCheck.of(MetricNames.CHECK_ETCD, etcd::check));
    readiness.add(warmUp);
    if (automaticReload) {
      // As kube-apiserver with reload: one aggregated check that follows the configuration in
      // effect.
      readiness.add(KmsHealthChecks.forReloadedConfig(() -> kms.get().providers()));
    } else {
      readiness.addAll(KmsHealthChecks.forConfig(config, kms.get()));
    }
    BackgroundChecks background = BackgroundChecks.start(readiness, READINESS_INTERVAL);
    admin.addReadinessChecks(background);
    metrics.exportReadiness(background.checks());
    metrics.exportKmsProviders(() -> kms.get().providers());
    metrics.exportEtcdMembers(proxy.upstream()::memberServing);
    metrics.exportInFlight(
        proxy.inFlightLimit(),
        proxy::inFlightBytes,
        proxy::inFlightRefusals,
        proxy::wireBuffersInUse,
        proxy::wireBuffersReserved);
    metrics.exportListRoom(proxy::listsWaiting, proxy::listsWaited);
    metrics.exportWatchDecryptions(proxy::watchValuesShared, proxy::watchValuesDecrypted);
    return admin.start();
  }
}
