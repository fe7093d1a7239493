package io.etcdcrypt.cli;

import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.observe.Logging;
import io.etcdcrypt.ops.EtcdSession;
import io.etcdcrypt.ops.OpsException;
import io.etcdcrypt.proxy.Endpoint;
import io.etcdcrypt.proxy.ProxyOptions;
import io.etcdcrypt.proxy.TlsFiles;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The flags census and rewrap share with {@code serve}: where etcd is, how to reach it, which configuration to
 * apply, plus which resources to cover.
 */
final class EtcdToolOptions {

  @Option(
      names = "--endpoints",
      defaultValue = "127.0.0.1:2379",
      description = "Comma-separated etcd members, as host:port or http(s)://host:port (etcd itself, not the"
          + " proxy). Default: ${DEFAULT-VALUE}")
  String endpoints;

  @Option(
      names = "--encryption-provider-config",
      required = true,
      paramLabel = "FILE",
      description = "The EncryptionConfiguration the proxy serves with (kube-apiserver's"
          + " --encryption-provider-config).")
  Path encryptionConfig;

  @Option(
      names = "--etcd-prefix",
      defaultValue = ResourceResolver.DEFAULT_PREFIX,
      description = "The key prefix kube-apiserver stores objects under (its --etcd-prefix). Default: ${DEFAULT-VALUE}")
  String etcdPrefix;

  @Option(
      names = "--resources",
      split = ",",
      paramLabel = "RESOURCE",
      description = "Only these resources, named as in the configuration: secrets, deployments.apps, *.apps, ..."
          + " Default: every resource under --etcd-prefix.")
  List<String> resources = new ArrayList<>();

  @Option(names = "--cacert", paramLabel = "FILE", description = "CA bundle to verify etcd's certificates.")
  Path upstreamCa;

  @Option(names = "--cert", paramLabel = "FILE", description = "Client certificate to present to etcd.")
  Path upstreamCert;

  @Option(names = "--key", paramLabel = "FILE", description = "Private key of --cert.")
  Path upstreamKey;

  @Option(
      names = "--page-size",
      defaultValue = "500",
      description = "Keys per Range request. Default: ${DEFAULT-VALUE}")
  int pageSize;

  @Option(
      names = "--kms-wait",
      defaultValue = "30",
      paramLabel = "SECONDS",
      description = "How long KMS providers get to become healthy before giving up. Default: ${DEFAULT-VALUE}")
  int kmsWaitSeconds;

  @Option(
      names = "--max-recv-bytes",
      defaultValue = "" + ProxyOptions.DEFAULT_MAX_RECV_BYTES,
      description = "Largest message accepted from etcd, in bytes. Default: ${DEFAULT-VALUE}")
  int maxRecvBytes;

  @Option(
      names = "--log-format",
      defaultValue = "text",
      description = "Log line format (standard error): ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}")
  Logging.Format logFormat;

  @Option(
      names = "--log-level",
      defaultValue = "info",
      description = "Log level: error, warn, info, debug or trace. Default: ${DEFAULT-VALUE}")
  String logLevel;

  static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

  /** Loads the configuration, waits for KMS providers and connects to etcd. */
  EtcdSession open() throws OpsException, InterruptedException {
    if (pageSize < 1) {
      throw new OpsException("--page-size must be at least 1");
    }
    List<Endpoint> members;
    TlsFiles tls = new TlsFiles(upstreamCert, upstreamKey, upstreamCa);
    try {
      members = Endpoint.parseList(endpoints);
      tls.channelCredentials(); // checks the files now, with the flag names in the message
    } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
      throw new OpsException(e.getMessage(), e);
    }
    return EtcdSession.open(encryptionConfig, etcdPrefix, members, tls, maxRecvBytes,
        Duration.ofSeconds(Math.max(0, kmsWaitSeconds)));
  }
}
