package io.etcdcrypt.cli;

import io.etcdcrypt.proxy.Endpoint;
import io.etcdcrypt.proxy.ProxyOptions;
import io.etcdcrypt.proxy.TlsFiles;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * How a command reaches etcd: the members and the TLS files, named as etcdctl and etcd's grpc-proxy
 * name them.
 */
final class EtcdClientOptions {

  @Option(
      names = "--endpoints",
      defaultValue = "127.0.0.1:2379",
      description =
          "Comma-separated etcd members, as host:port or http(s)://host:port (etcd itself, not a"
              + " proxy). Default: ${DEFAULT-VALUE}")
  String endpoints;

  @Option(
      names = "--cacert",
      paramLabel = "FILE",
      description = "CA bundle to verify etcd's certificates.")
  Path ca;

  @Option(
      names = "--cert",
      paramLabel = "FILE",
      description = "Client certificate to present to etcd.")
  Path cert;

  @Option(names = "--key", paramLabel = "FILE", description = "Private key of --cert.")
  Path key;

  @Option(
      names = "--max-recv-bytes",
      defaultValue = "" + ProxyOptions.DEFAULT_MAX_RECV_BYTES,
      description =
          "Largest message accepted from etcd, in bytes (large Range responses need more than gRPC's 4 MiB"
              + " default), as etcd's grpc-proxy's flag of that name. Default: ${DEFAULT-VALUE}")
  int maxRecvBytes;

  List<Endpoint> members() {
    return Endpoint.parseList(endpoints);
  }

  TlsFiles tls() {
    return new TlsFiles(cert, key, ca);
  }
}
