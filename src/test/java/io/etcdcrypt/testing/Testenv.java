package io.etcdcrypt.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where {@code testenv/build.sh} links the Go fixtures (kube-apiserver, kubectl, etcd servers). */
public final class Testenv {

  private Testenv() {}

  /** {@code testenv/bin/<name>}, or under {@code -Dtestenv.bin}. */
  public static Path bin(String name) {
    return Path.of(System.getProperty("testenv.bin", "testenv/bin")).toAbsolutePath().resolve(name);
  }

  /** The fixture binary {@code name}, failing with what to run when it has not been built. */
  public static Path require(String name) {
    Path p = bin(name);
    if (!Files.isExecutable(p)) {
      throw new IllegalStateException(
          "no "
              + name
              + " at "
              + p
              + ": run testenv/build.sh (the README's test command does) to build it from the published Go modules");
    }
    return p;
  }
}
