package io.etcdcrypt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.testing.JavaProcess;
import io.etcdcrypt.testing.RealComponents;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The built jar names its version and the commit it was built from. */
@RealComponents
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class VersionTest {

  @Test
  void theJarNamesItsVersionAndCommit(@TempDir Path dir) throws Exception {
    try (JavaProcess version =
        JavaProcess.start(dir.resolve("version.log"), Map.of(), "--version")) {
      assertEquals(0, version.waitFor(), version.output());
      assertTrue(
          version
              .output()
              .strip()
              .matches("etcd-crypt-proxy \\d+\\.\\d+\\.\\d+(-SNAPSHOT)? \\(commit [0-9a-f]{12}\\)"),
          version.output());
    }
  }
}
