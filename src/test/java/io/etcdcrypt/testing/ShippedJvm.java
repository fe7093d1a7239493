package io.etcdcrypt.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The JVM the image runs the proxy with: the Dockerfile's runtime, Temurin 25, where this machine
 * has it (else this test's JVM), with the repository's jvm.options, for the tests that speak for
 * the image as shipped.
 */
public final class ShippedJvm {

  /** Temurin 25's java on Debian's layout (the machine's second JDK). */
  public static final Path TEMURIN_25 = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64/bin/java");

  private ShippedJvm() {}

  /** Whether the machine has the image's JDK. */
  public static boolean available() {
    return Files.isExecutable(TEMURIN_25);
  }

  /**
   * {@code java @jvm.options -jar JAR} (or the test class path when no jar is built), with the
   * image's JDK when the machine has it.
   */
  public static List<String> command() {
    String jar = System.getProperty("proxy.jar");
    boolean built = jar != null && Files.isReadable(Path.of(jar));
    List<String> command = new ArrayList<>();
    command.add(
        built && available()
            ? TEMURIN_25.toString()
            : Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("@" + Path.of("jvm.options").toAbsolutePath());
    if (built) {
      command.addAll(List.of("-jar", jar));
    } else {
      command.addAll(
          List.of("-cp", System.getProperty("java.class.path"), "io.etcdcrypt.cli.Main"));
    }
    return command;
  }

  /**
   * Starts {@code serve} as shipped in front of etcd at {@code endpoint}, with the encryption
   * config at {@code encryptionConfig} and any further {@code flags}, and returns once it is ready.
   */
  public static ProxyProcess startProxy(
      Path dir, String endpoint, Path encryptionConfig, String... flags) {
    List<String> args = new ArrayList<>();
    args.addAll(
        List.of(
            "--endpoints", endpoint, "--encryption-provider-config", encryptionConfig.toString()));
    args.addAll(List.of(flags));
    return ProxyProcess.startWithCommand(dir, command(), args);
  }
}
