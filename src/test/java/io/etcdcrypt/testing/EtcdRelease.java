package io.etcdcrypt.testing;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The etcd server releases the tests run against, and the one place that decides which: the system
 * property {@code etcd.release} ({@code 3.4}, {@code 3.5}, {@code 3.6} or {@code 3.7}; default
 * {@value #DEFAULT}).
 *
 * <p>3.4 is Debian's {@code etcd-server} ({@code etcd} on {@code PATH}, or {@code $ETCD_BIN}); 3.5,
 * 3.6 and 3.7 are built from etcd's published Go modules by {@code testenv/build.sh} and linked as
 * {@code testenv/bin/etcd-3.x} ({@code -Dtestenv.bin} elsewhere). The README's test command builds
 * them.
 */
public enum EtcdRelease {
  V3_4("3.4"),
  V3_5("3.5"),
  V3_6("3.6"),
  V3_7("3.7");

  public static final String DEFAULT = "3.6";

  private final String name;

  EtcdRelease(String name) {
    this.name = name;
  }

  /** The release chosen for this test run. */
  public static EtcdRelease current() {
    return named(System.getProperty("etcd.release", DEFAULT));
  }

  public static EtcdRelease named(String name) {
    for (EtcdRelease r : values()) {
      if (r.name.equals(name)) {
        return r;
      }
    }
    throw new IllegalArgumentException("etcd.release=" + name + ": not one of 3.4, 3.5, 3.6, 3.7");
  }

  /** {@code 3.6}. */
  public String version() {
    return name;
  }

  public boolean atLeast(EtcdRelease other) {
    return compareTo(other) >= 0;
  }

  /** The etcd server binary of this release. */
  public Path binary() {
    if (this == V3_4) {
      return debianEtcd();
    }
    return Testenv.require("etcd-" + name);
  }

  private static Path debianEtcd() {
    String env = System.getenv("ETCD_BIN");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
      Path candidate = Path.of(dir, "etcd");
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    throw new IllegalStateException(
        "no etcd 3.4 binary: install Debian's etcd-server (the README's test command does) or set ETCD_BIN");
  }

  @Override
  public String toString() {
    return "etcd " + name;
  }
}
