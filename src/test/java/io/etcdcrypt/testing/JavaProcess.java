package io.etcdcrypt.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the command line in a child JVM, for what needs its own process (a PKCS#11 library
 * configured through environment variables, a proxy to restart, a tool run as operators run it).
 * Output goes to a log file. The child runs the built jar ({@code java -jar}) when {@code
 * -Dproxy.jar} names one (failsafe's tests, after {@code package}), else {@code
 * io.etcdcrypt.cli.Main} with this test's class path.
 */
public final class JavaProcess implements AutoCloseable {

  private final Process process;
  private final Path log;

  private JavaProcess(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  /** Starts {@code Main args...} with {@code env} added to this process's environment. */
  public static JavaProcess start(Path log, Map<String, String> env, String... args)
      throws IOException {
    return start(log, env, List.of(), args);
  }

  /**
   * Starts {@code java jvmOptions... Main args...} with {@code env} added to this process's
   * environment.
   */
  public static JavaProcess start(
      Path log, Map<String, String> env, List<String> jvmOptions, String... args)
      throws IOException {
    RealComponentsGuard.starting("a child JVM");
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    String jar = System.getProperty("proxy.jar");
    if (jar != null && Files.isReadable(Path.of(jar))) {
      command.addAll(List.of("-jar", jar));
    } else {
      command.addAll(
          List.of("-cp", System.getProperty("java.class.path"), "io.etcdcrypt.cli.Main"));
    }
    command.addAll(List.of(args));
    ProcessBuilder pb =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().putAll(env);
    return new JavaProcess(pb.start(), log);
  }

  /** Starts {@code javaCommand args...}: a JVM of the caller's choosing. */
  public static JavaProcess startCommand(Path log, List<String> javaCommand, List<String> args)
      throws IOException {
    RealComponentsGuard.starting("a child JVM");
    List<String> command = new ArrayList<>(javaCommand);
    command.addAll(args);
    Process p =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    return new JavaProcess(p, log);
  }

  /** Runs to completion and returns its exit code; fails if it takes more than a minute. */
  public int waitFor() throws InterruptedException {
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("child JVM did not finish within 60 s; output:\n" + output());
    }
    return process.exitValue();
  }

  /** Sends SIGTERM, as a supervisor stops a process, and returns the exit code once it ended. */
  public int terminate() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError(
          "child JVM did not stop within 30 s of SIGTERM; output:\n" + output());
    }
    return process.exitValue();
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** Kills the child at once (SIGKILL), as a crash or the OOM killer would, and waits for it. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      throw new AssertionError("child JVM " + process.pid() + " still runs 30 s after SIGKILL");
    }
  }

  /**
   * Sends {@code signal} ({@code STOP}, {@code CONT}, ...) with kill(1): SIGSTOP freezes the child
   * as a hung process, which keeps its sockets open and answers nothing, until SIGCONT.
   */
  public void signal(String signal) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).start();
    if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
      throw new AssertionError("kill -" + signal + " " + process.pid() + " failed");
    }
  }

  public String output() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "<no output: " + e.getMessage() + ">";
    }
  }

  @Override
  public void close() {
    Processes.stop(process, Duration.ofSeconds(10));
  }
}
