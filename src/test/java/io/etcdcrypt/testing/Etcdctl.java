package io.etcdcrypt.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the real Go etcd client, {@code etcdctl} (Debian: {@code etcd-client}), against an endpoint. */
public final class Etcdctl {

  /** What a run printed and how it exited. */
  public record Result(int exitCode, String stdout, String stderr) {
    public Result assertOk() {
      if (exitCode != 0) {
        throw new AssertionError("etcdctl exited " + exitCode + ": " + stderr + stdout);
      }
      return this;
    }
  }

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

  public Result run(String... args) {
    return runWithInput(null, args);
  }

  /** Runs etcdctl with {@code stdin} fed to it (for {@code txn -i}). */
  public Result runWithInput(String stdin, String... args) {
    RealComponentsGuard.starting("etcdctl");
    List<String> cmd = new ArrayList<>(List.of(binary(), "--endpoints=" + endpoint, "--command-timeout=10s"));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("ETCDCTL_API", "3");
    try {
      File out = File.createTempFile("etcdctl", ".out");
      File err = File.createTempFile("etcdctl", ".err");
      try {
        pb.redirectOutput(out).redirectError(err);
        Process p = pb.start();
        if (stdin != null) {
          p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        p.getOutputStream().close();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new AssertionError("etcdctl " + String.join(" ", args) + " did not finish in 60 s");
        }
        // Lenient decoding: raw reads of encrypted values are not UTF-8 (their ASCII prefix survives).
        return new Result(
            p.exitValue(),
            new String(Files.readAllBytes(out.toPath()), StandardCharsets.UTF_8),
            new String(Files.readAllBytes(err.toPath()), StandardCharsets.UTF_8));
      } finally {
        out.delete();
        err.delete();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
