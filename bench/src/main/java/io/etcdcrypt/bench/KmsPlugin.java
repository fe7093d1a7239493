package io.etcdcrypt.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The bundled KMS plugin as a child process: a fresh key file, one socket for v2 and v1. */
final class KmsPlugin {

  private KmsPlugin() {}

  /**
   * Generates a key file in {@code work} and starts {@code kms-plugin} on {@code socket}; does not
   * wait for the socket.
   */
  static Process start(Procs procs, Path jar, Path work, Path socket)
      throws IOException, InterruptedException {
    Path keks = work.resolve("keks");
    Path log = work.resolve("generate-key.log");
    Process gen =
        new ProcessBuilder(
                "java",
                "-jar",
                jar.toString(),
                "kms-plugin",
                "generate-key",
                "--key-file",
                keks.toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    if (gen.waitFor() != 0) {
      throw new IOException("kms-plugin generate-key failed: " + Files.readString(log));
    }
    return procs.start(
        "kms-plugin",
        List.of(
            "java",
            "-Xmx128m",
            "-XX:+UseSerialGC",
            "-jar",
            jar.toString(),
            "kms-plugin",
            "--listen",
            "unix://" + socket,
            "--key-file",
            keks.toString()));
  }
}
