package io.etcdcrypt.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code java -jar etcd-crypt-proxy.jar <command>}: the entry point that lists every subcommand.
 */
@Command(
    name = "etcd-crypt-proxy",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "Transparent etcd v3 proxy that encrypts Kubernetes objects at rest with kube-apiserver's"
            + " EncryptionConfiguration.",
    subcommands = {
      CommandLine.HelpCommand.class,
      ServeCommand.class,
      CheckConfigCommand.class,
      KmsPluginCommand.class,
      RewrapCommand.class,
      CensusCommand.class,
      VerifyBackupCommand.class,
      WarmUpCommand.class,
    })
public final class Main {

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** The configured command line; tests drive the CLI through it without exiting the JVM. */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setExecutionExceptionHandler(StartupErrors.HANDLER);
    cl.setParameterExceptionHandler(StartupErrors.USAGE);
    return cl;
  }
}
