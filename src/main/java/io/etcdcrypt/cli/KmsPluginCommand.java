package io.etcdcrypt.cli;

import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.kmsplugin.KekStore;
import io.etcdcrypt.kmsplugin.KeyFileKekStore;
import io.etcdcrypt.kmsplugin.KmsPluginServer;
import io.etcdcrypt.kmsplugin.Pkcs11KekStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kms-plugin}: the bundled KMS plugin, serving KMS v2 and v1beta1 on one unix socket so that
 * both etcd-crypt-proxy and kube-apiserver can use it.
 */
@Command(
    name = "kms-plugin",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Runs a KMS plugin (KMS v2 and v1beta1 on one unix socket) whose key-encryption keys (KEKs) come from a"
          + " local key file or a PKCS#11 token.",
      "Key file format: one '<id>: <base64 of 32 bytes>' per line; '#' starts a comment; the LAST key is"
          + " current, older keys only unwrap. Appending a key rotates (picked up within --reload-interval).",
      "PKCS#11: every AES key whose label starts with --pkcs11-key-label-prefix is a KEK; the label that sorts last"
          + " (digit runs compared as numbers) is current."
    },
    subcommands = {KmsPluginCommand.GenerateKey.class})
public final class KmsPluginCommand implements Callable<Integer> {

  @Option(
      names = "--listen",
      description = "Socket to serve on: unix:///path/to/plugin.sock or unix:///@abstract-name.")
  String listen;

  @picocli.CommandLine.Mixin SourceMixin source = new SourceMixin();

  @picocli.CommandLine.Mixin LogOptions logging;

  @Option(
      names = "--reload-interval",
      defaultValue = "10s",
      description = "How often the KEKs are re-read, e.g. 10s or 1m (default: ${DEFAULT-VALUE}).")
  String reloadInterval;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    logging.apply(); // at debug, one line per Encrypt and Decrypt call, with its uid and KEK id
    KmsEndpoint endpoint;
    Duration reload;
    try {
      if (listen == null) {
        throw new IllegalArgumentException("Missing required option: '--listen=<listen>'");
      }
      endpoint = KmsEndpoint.of(listen);
      reload = parseDuration(reloadInterval);
      source.check();
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    KekStore store;
    try {
      store = source.open();
    } catch (Exception e) {
      spec.commandLine().getErr().println("kms-plugin: cannot load the KEKs: " + e.getMessage());
      return 1;
    }
    String version = Main.class.getPackage().getImplementationVersion();
    KmsPluginServer server;
    try {
      server =
          KmsPluginServer.start(endpoint, store, reload, version == null ? "development" : version);
    } catch (IOException e) {
      store.close();
      spec.commandLine().getErr().println("kms-plugin: " + cannotListen(endpoint, e));
      spec.commandLine().getErr().flush();
      return 1;
    }
    StopOnSignal.install("kms-plugin-shutdown", server::close);
    server.awaitTermination();
    return 0;
  }

  /** Why the plugin cannot serve on {@code endpoint}, and what to do. */
  private static String cannotListen(KmsEndpoint endpoint, IOException e) {
    if (!endpoint.isAbstract()) {
      Path directory = Path.of(endpoint.socketPath()).toAbsolutePath().getParent();
      if (directory != null && !Files.isDirectory(directory)) {
        return "--listen "
            + endpoint.url()
            + ": the directory "
            + directory
            + " does not exist: create it (the directory kube-apiserver's EncryptionConfiguration"
            + " names in the KMS endpoint) or give another path";
      }
    }
    return StartupErrors.cannotListen("--listen", endpoint.url(), e);
  }

  /** The KEK source options, shared by the server and {@code generate-key}. */
  public static final class SourceMixin {
    @Option(names = "--key-file", description = "Local key file holding the KEKs.")
    Path keyFile;

    @Option(
        names = "--pkcs11-config",
        description = "SunPKCS11 configuration file (name, library, slot or" + " slotListIndex).")
    Path pkcs11Config;

    @Option(names = "--pkcs11-pin-file", description = "File holding the PKCS#11 token's user PIN.")
    Path pkcs11PinFile;

    @Option(
        names = "--pkcs11-key-label-prefix",
        defaultValue = "etcd-crypt-kek-",
        description =
            "Only AES keys whose label starts with this are KEKs (default: ${DEFAULT-VALUE}).")
    String pkcs11LabelPrefix;

    void check() {
      boolean file = keyFile != null;
      boolean token = pkcs11Config != null || pkcs11PinFile != null;
      if (file == token) {
        throw new IllegalArgumentException(
            "give exactly one KEK source: --key-file FILE, or --pkcs11-config FILE with --pkcs11-pin-file FILE");
      }
      if (token && (pkcs11Config == null || pkcs11PinFile == null)) {
        throw new IllegalArgumentException(
            "PKCS#11 needs both --pkcs11-config and --pkcs11-pin-file");
      }
    }

    KekStore open() throws Exception {
      check();
      return keyFile != null
          ? KeyFileKekStore.open(keyFile)
          : Pkcs11KekStore.open(pkcs11Config, pkcs11PinFile, pkcs11LabelPrefix);
    }
  }

  static Duration parseDuration(String text) {
    String t = text.strip().toLowerCase();
    try {
      if (t.endsWith("ms")) {
        return positive(Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2))), text);
      }
      if (t.endsWith("s")) {
        return positive(Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1))), text);
      }
      if (t.endsWith("m")) {
        return positive(Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1))), text);
      }
    } catch (NumberFormatException e) {
      // fall through
    }
    throw new IllegalArgumentException(
        "invalid duration '" + text + "'; use e.g. 500ms, 10s or 1m");
  }

  private static Duration positive(Duration d, String text) {
    if (d.isZero() || d.isNegative()) {
      throw new IllegalArgumentException("duration '" + text + "' must be positive");
    }
    return d;
  }

  /** {@code kms-plugin generate-key}: adds a new KEK, which becomes the current one. */
  @Command(
      name = "generate-key",
      mixinStandardHelpOptions = true,
      description = {
        "Adds a new random AES-256 KEK and prints its id. With --key-file the key is appended to the file"
            + " (created 0600 if missing); with --pkcs11-* it is generated on the token and never leaves it.",
        "The new KEK becomes current: a running plugin switches to it on its next reload."
      })
  static final class GenerateKey implements Callable<Integer> {

    @picocli.CommandLine.Mixin SourceMixin source = new SourceMixin();

    @Option(
        names = "--id",
        description =
            "Id (file) or label (PKCS#11) of the new KEK; default: a UTC timestamp"
                + " (kek-<time> in a file, <label prefix><time> on a token).")
    String id;

    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      try {
        source.check();
      } catch (IllegalArgumentException e) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      String newId;
      try {
        newId =
            source.keyFile != null
                ? KeyFileKekStore.generateKey(source.keyFile, id, Clock.systemUTC())
                : Pkcs11KekStore.generateKey(
                    source.pkcs11Config,
                    source.pkcs11PinFile,
                    source.pkcs11LabelPrefix,
                    id,
                    Clock.systemUTC());
      } catch (Exception e) {
        spec.commandLine().getErr().println("kms-plugin generate-key: " + e.getMessage());
        return 1;
      }
      spec.commandLine().getOut().println(newId);
      spec.commandLine().getOut().flush();
      return 0;
    }
  }
}
