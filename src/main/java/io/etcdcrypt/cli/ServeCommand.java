package io.etcdcrypt.cli;

import io.etcdcrypt.config.ConfigException;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.KmsTransformers;
import io.etcdcrypt.observe.AdminServer;
import io.etcdcrypt.observe.HealthCheck;
import io.etcdcrypt.observe.Logging;
import io.etcdcrypt.proxy.Endpoint;
import io.etcdcrypt.proxy.EtcdHealth;
import io.etcdcrypt.proxy.ProxyOptions;
import io.etcdcrypt.proxy.ProxyServer;
import io.etcdcrypt.proxy.Threading;
import io.etcdcrypt.proxy.TlsFiles;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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

  @Option(
      names = "--listen-addr",
      defaultValue = "127.0.0.1:23790",
      description = "host:port clients connect to (kube-apiserver's --etcd-servers). Default: ${DEFAULT-VALUE}")
  String listenAddr;

  @Option(
      names = "--endpoints",
      defaultValue = "127.0.0.1:2379",
      description = "Comma-separated etcd members, as host:port or http(s)://host:port. Default: ${DEFAULT-VALUE}")
  String endpoints;

  @Option(
      names = "--encryption-provider-config",
      required = true,
      paramLabel = "FILE",
      description = "kube-apiserver's EncryptionConfiguration file (the very file --encryption-provider-config of"
          + " kube-apiserver takes).")
  Path encryptionConfig;

  @Option(
      names = "--etcd-prefix",
      defaultValue = ResourceResolver.DEFAULT_PREFIX,
      description = "The key prefix kube-apiserver stores objects under (its --etcd-prefix). Default: ${DEFAULT-VALUE}")
  String etcdPrefix;

  @Option(
      names = "--metrics-addr",
      paramLabel = "HOST:PORT",
      description = "Serve /livez, /readyz and /healthz (and metrics) over HTTP on this address. Off by default.")
  String metricsAddr;

  @Option(names = "--cacert", paramLabel = "FILE", description = "CA bundle to verify etcd's certificates.")
  Path upstreamCa;

  @Option(names = "--cert", paramLabel = "FILE", description = "Client certificate the proxy presents to etcd.")
  Path upstreamCert;

  @Option(names = "--key", paramLabel = "FILE", description = "Private key of --cert.")
  Path upstreamKey;

  @Option(names = "--cert-file", paramLabel = "FILE", description = "Server certificate of the listener (TLS).")
  Path listenerCert;

  @Option(names = "--key-file", paramLabel = "FILE", description = "Private key of --cert-file.")
  Path listenerKey;

  @Option(
      names = "--trusted-ca-file",
      paramLabel = "FILE",
      description = "CA that client certificates must be signed by. When set, clients must present one, as"
          + " kube-apiserver does to etcd.")
  Path listenerCa;

  @Option(
      names = "--max-recv-bytes",
      defaultValue = "" + ProxyOptions.DEFAULT_MAX_RECV_BYTES,
      description = "Largest message accepted from a client or from etcd, in bytes (large Range responses need"
          + " more than gRPC's 4 MiB default). Default: ${DEFAULT-VALUE}")
  int maxRecvBytes;

  @Option(
      names = "--event-loop-threads",
      defaultValue = "1",
      description = "Threads serving client and etcd connections; calls run on them. One avoids every hand-off"
          + " between the client and the etcd connection (best on small machines); raise it when the proxy has"
          + " cores of its own. Default: ${DEFAULT-VALUE}")
  int eventLoopThreads;

  @Option(
      names = "--shutdown-grace",
      defaultValue = "10",
      description = "Seconds running calls get to finish on shutdown. Default: ${DEFAULT-VALUE}")
  int shutdownGraceSeconds;

  @Option(
      names = "--log-format",
      defaultValue = "text",
      description = "Log line format: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}")
  Logging.Format logFormat;

  @Option(
      names = "--log-level",
      defaultValue = "info",
      description = "Log level: error, warn, info, debug or trace. Default: ${DEFAULT-VALUE}")
  String logLevel;

  /** kube-apiserver's aggregated check: every KMS provider healthy, else each failure by provider name. */
  private static Optional<String> kmsHealth(KmsTransformers kms) {
    String failures =
        kms.providers().stream()
            .filter(p -> !p.health().ok())
            .map(p -> "kms-provider " + p.name() + ": " + p.health().text())
            .collect(Collectors.joining("; "));
    return failures.isEmpty() ? Optional.empty() : Optional.of(failures);
  }

  /** KMS v1 calls its plugin on every write: such transforms must not run on an event loop. */
  private static boolean callsKmsV1(EncryptionConfiguration config) {
    return config.rules().stream()
        .flatMap(r -> r.providers().stream())
        .anyMatch(p -> p instanceof ProviderConfig.Kms k && "v1".equals(k.apiVersion()));
  }

  @Override
  public Integer call() throws Exception {
    Logging.configure(logFormat, logLevel);
    Logger log = LoggerFactory.getLogger(ServeCommand.class);

    EncryptionConfiguration config;
    try {
      config = EncryptionConfigLoader.load(encryptionConfig);
    } catch (ConfigException e) {
      log.error("invalid --encryption-provider-config: {}", e.getMessage());
      return 2;
    }
    config.warnings().forEach(w -> log.warn("encryption configuration: {}: {}", w.path(), w.message()));

    ProxyOptions options =
        new ProxyOptions(
            Endpoint.parseListen(listenAddr),
            Endpoint.parseList(endpoints),
            new TlsFiles(listenerCert, listenerKey, listenerCa),
            new TlsFiles(upstreamCert, upstreamKey, upstreamCa),
            maxRecvBytes);

    // KMS providers start even when their plugin is down; they become usable (and /readyz passes) once it
    // answers, like kube-apiserver's.
    KmsTransformers kms = new KmsTransformers();
    EncryptionCodec codec;
    try {
      codec = EncryptionCodec.create(config, new ResourceResolver(etcdPrefix), kms);
    } catch (TransformException e) {
      log.error("cannot build the providers of {}: {}", encryptionConfig, e.getMessage());
      kms.close();
      return 2;
    }

    ProxyServer proxy = ProxyServer.start(options, codec, new Threading(eventLoopThreads, callsKmsV1(config)));
    AdminServer admin = null;
    if (metricsAddr != null) {
      Endpoint a = Endpoint.parseListen(metricsAddr);
      admin = new AdminServer(new InetSocketAddress(a.host(), a.port()));
      EtcdHealth etcd = new EtcdHealth(proxy.upstream());
      admin.addReadinessCheck(HealthCheck.of("etcd", etcd::check));
      if (!kms.providers().isEmpty()) {
        admin.addReadinessCheck(HealthCheck.of("kms-providers", () -> kmsHealth(kms)));
      }
      admin.start();
    }

    AdminServer adminToClose = admin;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      log.info("shutting down: letting running calls finish for up to {} s", shutdownGraceSeconds);
      proxy.shutdown(shutdownGraceSeconds, TimeUnit.SECONDS);
      if (adminToClose != null) {
        adminToClose.close();
      }
      kms.close();
    }, "shutdown"));
    proxy.awaitTermination();
    return 0;
  }
}
