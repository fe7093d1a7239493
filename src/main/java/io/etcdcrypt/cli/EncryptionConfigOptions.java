package io.etcdcrypt.cli;

import io.etcdcrypt.config.ResourceResolver;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * Which EncryptionConfiguration applies, and under which etcd prefix kube-apiserver stores objects.
 */
final class EncryptionConfigOptions {

  @Option(
      names = "--encryption-provider-config",
      required = true,
      paramLabel = "FILE",
      description =
          "kube-apiserver's EncryptionConfiguration file (the very file its --encryption-provider-config"
              + " takes).")
  Path file;

  @Option(
      names = "--etcd-prefix",
      defaultValue = ResourceResolver.DEFAULT_PREFIX,
      description =
          "The key prefix kube-apiserver stores objects under (its --etcd-prefix). Default: ${DEFAULT-VALUE}")
  String etcdPrefix;
}
