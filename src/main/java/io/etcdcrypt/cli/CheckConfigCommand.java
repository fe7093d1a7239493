package io.etcdcrypt.cli;

import io.etcdcrypt.config.ConfigError;
import io.etcdcrypt.config.ConfigException;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.KeyConfig;
import io.etcdcrypt.config.KmsApiVersion;
import io.etcdcrypt.config.LoadOptions;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.config.ResourceRule;
import io.etcdcrypt.config.RotationCheck;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code check-config FILE}: validates an EncryptionConfiguration the way kube-apiserver would. */
@Command(
    name = "check-config",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Validates an EncryptionConfiguration file exactly as kube-apiserver does (strict decoding, every validation"
          + " rule, masking between rules) and prints one summary line per resource rule:",
      "  secrets,configmaps: aesgcm(keys: key1,key2) -> identity",
      "Only key names are printed, never key material. Warnings (accepted by kube-apiserver but probably not"
          + " meant) go to standard error."
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:the configuration is valid",
      "1:the configuration is invalid or cannot be read (every problem is printed to standard error)",
      "2:wrong command-line usage"
    })
public final class CheckConfigCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "FILE",
      description =
          "The EncryptionConfiguration file (YAML or JSON), i.e. what kube-apiserver's"
              + " --encryption-provider-config points to.")
  Path file;

  @Option(
      names = "--automatic-reload",
      description =
          "Validate with the rules kube-apiserver applies when"
              + " --encryption-provider-config-automatic-reload is set: KMS v1 provider names must then be unique too."
              + " Default: ${DEFAULT-VALUE}.")
  boolean automaticReload;

  @Option(
      names = "--previous",
      paramLabel = "FILE",
      description =
          "The file the cluster runs now. Warns when nodes still on it could not read what FILE writes"
              + " (a new key or provider put first in one step), and when FILE cannot read what it wrote"
              + " (a key dropped too early). The safe rotation: add the new key second, roll out, move"
              + " it first, roll out, rewrap.")
  Path previous;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    EncryptionConfiguration config;
    try {
      config = EncryptionConfigLoader.load(file, new LoadOptions(automaticReload));
    } catch (ConfigException e) {
      err.println(e.getMessage());
      err.flush();
      return 1;
    }
    for (ResourceRule rule : config.rules()) {
      out.println(summary(rule));
    }
    for (ConfigError warning : config.warnings()) {
      err.println("warning: " + warning);
    }
    if (previous != null) {
      EncryptionConfiguration before;
      try {
        before = EncryptionConfigLoader.load(previous, new LoadOptions(automaticReload));
      } catch (ConfigException e) {
        err.println("--previous: " + e.getMessage());
        err.flush();
        return 1;
      }
      RotationCheck.compare(before, config)
          .forEach(p -> err.println("warning: against --previous " + previous + ": " + p));
    }
    out.flush();
    err.flush();
    return 0;
  }

  /**
   * {@code secrets,configmaps: aesgcm(keys: key1,key2) -> identity}. Names only, never key
   * material.
   */
  static String summary(ResourceRule rule) {
    return String.join(",", rule.resources())
        + ": "
        + rule.providers().stream()
            .map(CheckConfigCommand::summary)
            .collect(Collectors.joining(" -> "));
  }

  static String summary(ProviderConfig provider) {
    if (provider instanceof ProviderConfig.Identity) {
      return "identity";
    }
    if (provider instanceof ProviderConfig.AesCbc p) {
      return "aescbc(keys: " + names(p.keys()) + ")";
    }
    if (provider instanceof ProviderConfig.AesGcm p) {
      return "aesgcm(keys: " + names(p.keys()) + ")";
    }
    if (provider instanceof ProviderConfig.Secretbox p) {
      return "secretbox(keys: " + names(p.keys()) + ")";
    }
    if (provider instanceof ProviderConfig.Kms k) {
      return "kms(apiVersion: "
          + k.apiVersion()
          + ", name: "
          + k.name()
          + ", endpoint: "
          + k.endpoint()
          + (k.apiVersion() == KmsApiVersion.V1 ? ", cachesize: " + k.cacheSize() : "")
          + ", timeout: "
          + goDuration(k.timeout())
          + ")";
    }
    throw new IllegalArgumentException("unknown provider " + provider.describe());
  }

  private static String names(List<KeyConfig> keys) {
    return keys.stream().map(KeyConfig::name).collect(Collectors.joining(","));
  }

  /**
   * Go's {@code Duration.String()} spelling (3s, 500ms, 1m30s, 1.5s, 1h0m0s), as it would appear in
   * the file.
   */
  static String goDuration(Duration d) {
    if (d.isZero()) {
      return "0s";
    }
    StringBuilder sb = new StringBuilder();
    Duration rest = d;
    if (rest.isNegative()) {
      sb.append('-');
      rest = rest.negated();
    }
    long hours = rest.toHours();
    long minutes = rest.toMinutesPart();
    long seconds = rest.toSecondsPart();
    long nanos = rest.toNanosPart();
    if (hours == 0 && minutes == 0 && seconds == 0) {
      if (nanos % 1_000_000 == 0) {
        return sb.append(nanos / 1_000_000).append("ms").toString();
      }
      if (nanos % 1_000 == 0) {
        return sb.append(nanos / 1_000).append("us").toString();
      }
      return sb.append(nanos).append("ns").toString();
    }
    if (hours > 0) {
      sb.append(hours).append('h');
    }
    if (hours > 0 || minutes > 0) {
      sb.append(minutes).append('m');
    }
    sb.append(seconds);
    if (nanos > 0) {
      sb.append('.').append(String.format("%09d", nanos).replaceAll("0+$", ""));
    }
    return sb.append('s').toString();
  }
}
