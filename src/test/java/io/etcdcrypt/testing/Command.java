package io.etcdcrypt.testing;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a program to completion within a time limit, with its standard output and error captured
 * apart (in files, so that a chatty child never blocks on a full pipe).
 */
public final class Command {

  /** What a run printed and how it exited; {@code name} is the command line, for messages. */
  public record Result(String name, int exitCode, String stdout, String stderr) {
    public Result assertOk() {
      if (exitCode != 0) {
        throw new AssertionError(
            name + " exited " + exitCode + ":\n" + stdout + "\n--- stderr:\n" + stderr);
      }
      return this;
    }
  }

  private Command() {}

  /** Runs {@code command}; fails if it is still running after {@code limit} (and kills it). */
  public static Result run(Duration limit, List<String> command) {
    return run(limit, command, null, Map.of());
  }

  /**
   * Runs {@code command} with {@code stdin} (or nothing) as its input and {@code env} added to this
   * process's environment; fails if it is still running after {@code limit} (and kills it).
   */
  public static Result run(
      Duration limit, List<String> command, String stdin, Map<String, String> env) {
    String name =
        new File(command.get(0)).getName()
            + " "
            + String.join(" ", command.subList(1, command.size()));
    try {
      File out = File.createTempFile("command", ".out");
      File err = File.createTempFile("command", ".err");
      try {
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out).redirectError(err);
        pb.environment().putAll(env);
        Process p = pb.start();
        try (OutputStream in = p.getOutputStream()) {
          if (stdin != null) {
            in.write(stdin.getBytes(StandardCharsets.UTF_8));
          }
        }
        if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
          Processes.stop(p, Duration.ofSeconds(5));
          throw new AssertionError(
              name
                  + " did not finish within "
                  + limit.toSeconds()
                  + " s; output:\n"
                  + read(out)
                  + "\n--- stderr:\n"
                  + read(err));
        }
        return new Result(name, p.exitValue(), read(out), read(err));
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

  /**
   * Lenient decoding: raw reads of encrypted values are not UTF-8 (their ASCII prefix survives).
   */
  private static String read(File f) throws IOException {
    return new String(Files.readAllBytes(f.toPath()), StandardCharsets.UTF_8);
  }
}
