package io.etcdcrypt.testing;

import io.etcdcrypt.kmsplugin.KeyFileKekStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The bundled KMS plugin as operators run it, {@code kms-plugin} in a JVM of its own on {@code
 * dir/plugin.sock} with a fresh key file ({@code dir/keks}, one KEK): a process that can be killed
 * (SIGKILL), hung (SIGSTOP) and resumed (SIGCONT) like a real one. Each start writes its own log
 * ({@code plugin-1.log}, {@code plugin-2.log}, ...).
 */
public final class KmsPluginProcess implements AutoCloseable {

  private static final Duration START_LIMIT = Duration.ofSeconds(60);

  private final Path dir;
  private final Path socket;
  private final List<String> extraArgs;
  private JavaProcess process;
  private boolean paused;
  private int starts;

  private KmsPluginProcess(Path dir, List<String> extraArgs) {
    this.dir = dir;
    this.socket = dir.toAbsolutePath().resolve("plugin.sock");
    this.extraArgs = extraArgs;
  }

  /**
   * Generates a key file in {@code dir}, starts the plugin and returns once it listens; {@code
   * extraArgs} go after {@code --key-file} and {@code --listen} ({@code --log-level debug}, say).
   */
  public static KmsPluginProcess start(Path dir, String... extraArgs) throws Exception {
    KeyFileKekStore.generateKey(dir.resolve("keks"), "kek-1", Clock.systemUTC());
    KmsPluginProcess p = new KmsPluginProcess(dir, List.of(extraArgs));
    p.launch();
    return p;
  }

  /** {@code unix:///.../plugin.sock}, as an EncryptionConfiguration's KMS endpoint names it. */
  public String endpointUrl() {
    return "unix://" + socket;
  }

  /** Kills the plugin at once (SIGKILL), as a crash would: its socket file stays, refusing. */
  public void kill() throws InterruptedException {
    process.kill();
  }

  /**
   * Starts the plugin again on the same socket with the same key file, after {@link #kill()}, and
   * returns once it listens.
   */
  public void restart() throws Exception {
    if (process.isAlive()) {
      throw new IllegalStateException("the plugin still runs");
    }
    launch();
  }

  /** Freezes the plugin (SIGSTOP): connections are accepted and nothing is answered. */
  public void pause() throws Exception {
    process.signal("STOP");
    paused = true;
  }

  /** Lets a paused plugin run again (SIGCONT). */
  public void resume() throws Exception {
    process.signal("CONT");
    paused = false;
  }

  /** The log of the current (or last) start. */
  public String output() {
    return process.output();
  }

  private void launch() throws IOException {
    List<String> args =
        new ArrayList<>(
            List.of(
                "kms-plugin",
                "--key-file",
                dir.resolve("keks").toString(),
                "--listen",
                endpointUrl()));
    args.addAll(extraArgs);
    JavaProcess p =
        JavaProcess.start(
            dir.resolve("plugin-" + (++starts) + ".log"), Map.of(), args.toArray(String[]::new));
    process = p;
    Await.until(
        "the KMS plugin to listen on " + socket,
        START_LIMIT,
        () -> {
          if (!p.isAlive()) {
            throw new AssertionError("the KMS plugin exited at start:\n" + p.output());
          }
          return Files.exists(socket) && p.output().contains("KMS plugin listening on");
        });
  }

  @Override
  public void close() throws Exception {
    if (process != null) {
      if (paused) {
        process.kill(); // a stopped process handles no SIGTERM
      } else {
        process.close();
      }
    }
  }
}
