package io.etcdcrypt.cli;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarFile;
import picocli.CommandLine.IVersionProvider;

/**
 * Reports the version and the commit Maven wrote into the jar's manifest ({@code
 * Implementation-Version}, {@code Build-Commit}); classes run from a build folder are a development
 * build.
 */
final class VersionProvider implements IVersionProvider {

  @Override
  public String[] getVersion() {
    String version = Main.class.getPackage().getImplementationVersion();
    if (version == null) {
      return new String[] {"etcd-crypt-proxy (development build)"};
    }
    String commit = buildCommit();
    return new String[] {
      "etcd-crypt-proxy " + version + (commit == null ? "" : " (commit " + commit + ")")
    };
  }

  /** The commit the jar was built from, or null when its manifest does not say. */
  private static String buildCommit() {
    try {
      Path jar = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      if (!Files.isRegularFile(jar)) {
        return null;
      }
      try (JarFile file = new JarFile(jar.toFile())) {
        String commit = file.getManifest().getMainAttributes().getValue("Build-Commit");
        // Unset (a build outside a git checkout) leaves Maven's placeholder.
        return commit == null || commit.startsWith("${") ? null : commit;
      }
    } catch (IOException | URISyntaxException | RuntimeException e) {
      return null;
    }
  }
}
