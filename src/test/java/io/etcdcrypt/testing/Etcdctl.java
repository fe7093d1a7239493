package io.etcdcrypt.testing;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs the real Go etcd client, {@code etcdctl} (Debian: {@code etcd-client}), against an endpoint.
 */
public final class Etcdctl {

  private final String endpoint;

  public Etcdctl(String endpoint) {
    this.endpoint = endpoint;
  }

  public static String binary() {
    String env = System.getenv("ETCDCTL_BIN");
    if (env != null && !env.isBlank()) {
      return env;
    }
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
      if (Files.isExecutable(Paths.get(dir, "etcdctl"))) {
        return Paths.get(dir, "etcdctl").toString();
      }
    }
    throw new IllegalStateException("no etcdctl: install Debian's etcd-client or set ETCDCTL_BIN");
  }

  public Command.Result run(String... args) {
    return runWithInput(null, args);
  }

  /** Runs etcdctl with {@code stdin} fed to it (for {@code txn -i}). */
  public Command.Result runWithInput(String stdin, String... args) {
    RealComponentsGuard.starting("etcdctl");
    List<String> cmd =
        new ArrayList<>(List.of(binary(), "--endpoints=" + endpoint, "--command-timeout=10s"));
    cmd.addAll(List.of(args));
    return Command.run(Duration.ofSeconds(60), cmd, stdin, Map.of("ETCDCTL_API", "3"));
  }
}
