package io.etcdcrypt.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a Python script with the interpreter that has Debian's {@code python3-etcd3} (the system
 * {@code /usr/bin/python3}; override with {@code PYTHON3_BIN}).
 */
public final class Python {
  private Python() {}

  public record Result(int exitCode, String output) {}

  public static String binary() {
    String env = System.getenv("PYTHON3_BIN");
    return env != null && !env.isBlank() ? env : "/usr/bin/python3";
  }

  public static Result run(String script, String... args) {
    RealComponentsGuard.starting("python3");
    try {
      Path file = Files.createTempFile("etcd3-client", ".py");
      File out = File.createTempFile("python", ".out");
      try {
        Files.writeString(file, script);
        List<String> cmd = new java.util.ArrayList<>(List.of(binary(), file.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out);
        // The etcd3 package generates old protobuf code; the pure-Python runtime accepts it everywhere.
        pb.environment().put("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python");
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new AssertionError("python script did not finish in 120 s: " + Files.readString(out.toPath()));
        }
        return new Result(p.exitValue(), Files.readString(out.toPath()));
      } finally {
        Files.deleteIfExists(file);
        out.delete();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
