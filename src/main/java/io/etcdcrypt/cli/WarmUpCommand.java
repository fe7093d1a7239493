package io.etcdcrypt.cli;

import io.etcdcrypt.warmup.WarmUp;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code warm-up}: runs serve's warm-up on its own and exits. Its use is as the training run of a
 * JVM's ahead-of-time cache (the image's build runs it under {@code -XX:AOTCacheOutput}): it loads
 * and runs the classes a serving proxy uses, without etcd or a KMS plugin.
 */
@Command(
    name = "warm-up",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Runs the request path for a while, as `serve --warm-up-seconds` does before it listens, and exits: a"
          + " throw-away proxy in front of an in-memory stand-in for etcd, both on loopback ports of their own,"
          + " loaded with kube-apiserver's requests on synthetic values under every local provider (aesgcm, aescbc,"
          + " secretbox). It needs no etcd, KMS plugin or configuration, and contacts nothing.",
      "Its use is as the training run of an ahead-of-time cache (JDK 25: java -XX:AOTCacheOutput=FILE -jar"
          + " etcd-crypt-proxy.jar warm-up; the image's build does this), so that `serve` starts with its classes"
          + " loaded and its methods' profiles recorded."
    })
public final class WarmUpCommand implements Callable<Integer> {

  @Mixin LogOptions logging = new LogOptions();

  @Option(
      names = "--seconds",
      defaultValue = "10",
      description = "How long to run the load. Default: ${DEFAULT-VALUE}")
  int seconds;

  @Override
  public Integer call() throws Exception {
    logging.apply();
    if (seconds < 1) {
      System.err.println("--seconds must be at least 1, not " + seconds);
      return 2;
    }
    WarmUp.Result result = WarmUp.run(WarmUp.ALL_PROVIDER_KINDS, Duration.ofSeconds(seconds));
    System.out.println("warm-up: " + result);
    return result.firstError() == null ? 0 : 1;
  }
}
