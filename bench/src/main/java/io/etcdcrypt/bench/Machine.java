package io.etcdcrypt.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** A description of the machine a run was measured on. */
final class Machine {

  private Machine() {}

  static Map<String, String> describe(String etcdBinary, String etcdCommand) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("nproc", "" + Runtime.getRuntime().availableProcessors());
    m.put("memory", meminfo("MemTotal:"));
    m.put("cpu", cpuModel());
    m.put("kernel", read("/proc/sys/kernel/osrelease"));
    m.put(
        "load generator jdk",
        System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
    m.put("etcd", command(etcdBinary, "--version").lines().findFirst().orElse("?"));
    m.put("etcd_command", etcdCommand);
    m.put("etcd_data", "tmpfs (/dev/shm)");
    return m;
  }

  /**
   * The runtime {@code java} is, as its {@code -version} names it ("OpenJDK Runtime ... 25.0.3+9").
   */
  static String javaVersion(String java) {
    return command(java, "-version")
        .lines()
        .filter(l -> l.contains("Runtime Environment"))
        .findFirst()
        .orElse(java);
  }

  static String loadAverage() {
    String s = read("/proc/loadavg");
    String[] f = s.split(" ");
    return f.length >= 3 ? f[0] + " " + f[1] + " " + f[2] : s;
  }

  private static String cpuModel() {
    try {
      return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
          .filter(l -> l.startsWith("model name"))
          .map(l -> l.substring(l.indexOf(':') + 1).trim())
          .findFirst()
          .orElse("?");
    } catch (IOException e) {
      return "?";
    }
  }

  private static String meminfo(String field) {
    try {
      return Files.readAllLines(Path.of("/proc/meminfo")).stream()
          .filter(l -> l.startsWith(field))
          .map(
              l -> {
                long kib = Long.parseLong(l.substring(field.length()).trim().split("\\s+")[0]);
                return String.format("%.1f GiB", kib / 1024.0 / 1024.0);
              })
          .findFirst()
          .orElse("?");
    } catch (IOException e) {
      return "?";
    }
  }

  private static String read(String path) {
    try {
      return Files.readString(Path.of(path)).trim();
    } catch (IOException e) {
      return "?";
    }
  }

  static String command(String... cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes()).trim();
      p.waitFor();
      return out;
    } catch (IOException e) {
      return "?";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "?";
    }
  }
}
