package io.etcdcrypt.cli;

import io.etcdcrypt.ops.CodecSession;
import io.etcdcrypt.ops.OpsException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The flags every tool that reads stored values shares: which configuration to apply, to which
 * resources, how long its KMS providers get, and logging.
 */
final class ConfigToolOptions {

  @Mixin EncryptionConfigOptions config;
  @Mixin LogOptions log;

  @Option(
      names = "--resources",
      split = ",",
      paramLabel = "RESOURCE",
      description =
          "Only these resources, named as in the configuration: secrets, deployments.apps, *.apps, ..."
              + " Default: every resource under --etcd-prefix.")
  List<String> resources = new ArrayList<>();

  @Option(
      names = "--kms-wait",
      defaultValue = "30",
      paramLabel = "SECONDS",
      description =
          "How long KMS providers get to become healthy before giving up. Default: ${DEFAULT-VALUE}")
  int kmsWaitSeconds;

  Duration kmsWait() {
    return Duration.ofSeconds(Math.max(0, kmsWaitSeconds));
  }

  /** Loads the configuration and waits for its KMS providers, to read only (verify-backup). */
  CodecSession openCodecsToRead() throws OpsException, InterruptedException {
    return CodecSession.open(
        config.file, config.etcdPrefix, kmsWait(), CodecSession.Access.READ_ONLY);
  }
}
