package io.etcdcrypt.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs a Python script with the interpreter that has Debian's {@code python3-etcd3} (the system
 * {@code /usr/bin/python3}; override with {@code PYTHON3_BIN}).
 */
public final class Python {
  private Python() {}

  public static String binary() {
    String env = System.getenv("PYTHON3_BIN");
    return env != null && !env.isBlank() ? env : "/usr/bin/python3";
  }

  /**
   * Runs {@code script} with {@code args}; what it printed is the standard output, a traceback the
   * error.
   */
  public static Command.Result run(String script, String... args) {
    RealComponentsGuard.starting("python3");
    try {
      Path file = Files.createTempFile("etcd3-client", ".py");
      try {
        Files.writeString(file, script);
        List<String> cmd = new ArrayList<>(List.of(binary(), file.toString()));
        cmd.addAll(List.of(args));
        // The etcd3 package generates old protobuf code; the pure-Python runtime accepts it
        // everywhere.
        return Command.run(
            Duration.ofSeconds(120),
            cmd,
            null,
            Map.of("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python"));
      } finally {
        Files.deleteIfExists(file);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
