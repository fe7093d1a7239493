package io.etcdcrypt.cli;

import io.etcdcrypt.ops.CodecSession;
import io.etcdcrypt.ops.EtcdSession;
import io.etcdcrypt.ops.OpsException;
import io.etcdcrypt.proxy.Endpoint;
import io.etcdcrypt.proxy.TlsFiles;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The flags census and rewrap share with {@code serve}: where etcd is, how to reach it, which
 * configuration to apply, plus which resources to cover.
 */
final class EtcdToolOptions {

  @Mixin EtcdClientOptions etcd;
  @Mixin ConfigToolOptions tool;

  @Option(
      names = "--page-size",
      defaultValue = "500",
      description = "Keys per Range request. Default: ${DEFAULT-VALUE}")
  int pageSize;

  static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

  /**
   * Loads the configuration, waits for KMS providers and connects to etcd; a tool that writes
   * nothing opens them {@link CodecSession.Access#READ_ONLY}, so no plugin is asked to Encrypt.
   */
  EtcdSession open(CodecSession.Access access) throws OpsException, InterruptedException {
    if (pageSize < 1) {
      throw new OpsException("--page-size must be at least 1");
    }
    List<Endpoint> members;
    TlsFiles tls = etcd.tls();
    try {
      members = etcd.members();
      tls.channelCredentials(); // checks the files now, with the flag names in the message
    } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
      throw new OpsException(e.getMessage(), e);
    }
    return EtcdSession.open(
        tool.config.file,
        tool.config.etcdPrefix,
        members,
        tls,
        etcd.maxRecvBytes,
        tool.kmsWait(),
        access);
  }
}
