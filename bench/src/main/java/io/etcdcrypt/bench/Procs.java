package io.etcdcrypt.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The child processes of one benchmark run (etcd, etcd's grpc-proxy, the KMS plugin, one proxy per
 * provider), and what the run reads about them from /proc. Every child is ended by its own handle
 * when the run ends.
 */
final class Procs implements AutoCloseable {

  private static final long CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux
  private final List<Process> started = new ArrayList<>();
  private final Path logDir;

  Procs(Path logDir) throws IOException {
    this.logDir = Files.createDirectories(logDir);
    Runtime.getRuntime().addShutdownHook(new Thread(this::close, "bench-children"));
  }

  /**
   * Starts {@code command}, its stdout and stderr appended to {@code <logDir>/<name>.log} (a
   * restarted process keeps its earlier log).
   */
  synchronized Process start(String name, List<String> command) throws IOException {
    Path log = logDir.resolve(name + ".log");
    Process p =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    started.add(p);
    return p;
  }

  Path log(String name) {
    return logDir.resolve(name + ".log");
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /**
   * A single-member etcd named {@code bench}: {@code etcd} and its data, client and peer flags, the
   * logger at warn and the quota at 8 GiB (tmpfs holds everything); callers add their own flags.
   */
  static List<String> etcdCommand(String etcd, Path dataDir, String clientUrl, String peerUrl) {
    return new ArrayList<>(
        List.of(
            etcd,
            "--name",
            "bench",
            "--data-dir",
            dataDir.toString(),
            "--listen-client-urls",
            clientUrl,
            "--advertise-client-urls",
            clientUrl,
            "--listen-peer-urls",
            peerUrl,
            "--initial-advertise-peer-urls",
            peerUrl,
            "--initial-cluster",
            "bench=" + peerUrl,
            "--quota-backend-bytes",
            "" + (8L << 30),
            "--logger",
            "zap",
            "--log-level",
            "warn"));
  }

  /** Waits until something accepts TCP connections on 127.0.0.1:port, or the process died. */
  static void awaitPort(Process p, String what, int port, long timeoutMillis)
      throws IOException, InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    while (System.currentTimeMillis() < deadline) {
      if (!p.isAlive()) {
        throw new IOException(
            what + " exited with " + p.exitValue() + " before listening on " + port);
      }
      try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
        return;
      } catch (IOException e) {
        Thread.sleep(50);
      }
    }
    throw new IOException(what + " did not listen on " + port + " within " + timeoutMillis + " ms");
  }

  /** Resident set size of {@code pid} in KiB (VmRSS), or -1. */
  static long rssKiB(long pid) {
    return statusField(pid, "VmRSS:");
  }

  /** Peak resident set size of {@code pid} in KiB (VmHWM), or -1. */
  static long peakRssKiB(long pid) {
    return statusField(pid, "VmHWM:");
  }

  private static long statusField(long pid, String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith(field)) {
          return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // the process is gone
    }
    return -1;
  }

  /** CPU time (user + system) {@code pid} has used, in nanoseconds, at clock-tick resolution. */
  static long cpuNanos(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      // Fields after the ")" closing the command name: state is field 3, utime 14, stime 15.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      return ticks * (1_000_000_000L / CLOCK_TICKS_PER_SECOND);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  @Override
  public synchronized void close() {
    for (Process p : started) {
      p.destroy();
    }
    for (Process p : started) {
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
    started.clear();
  }
}
