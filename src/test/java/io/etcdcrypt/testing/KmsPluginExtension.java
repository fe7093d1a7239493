package io.etcdcrypt.testing;

import io.etcdcrypt.config.KmsEndpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit 5 extension that runs the bundled KMS plugin ({@link KmsPluginFixture}) in a temporary
 * folder of its own for a test class, and removes the folder after all tests:
 * {@code @RegisterExtension static final KmsPluginExtension kms = new KmsPluginExtension();}
 */
public final class KmsPluginExtension implements BeforeAllCallback, AfterAllCallback {

  private Path dir;
  private KmsPluginFixture plugin;

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    dir = Files.createTempDirectory("kms-plugin");
    plugin = KmsPluginFixture.start(dir);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (plugin != null) {
      plugin.close();
    }
    Processes.deleteTree(dir);
  }

  public KmsPluginFixture fixture() {
    return plugin;
  }

  public KmsEndpoint endpoint() {
    return plugin.endpoint();
  }

  /**
   * The plugin's folder (its socket and key file are there); a test may put files of its own beside
   * them.
   */
  public Path dir() {
    return dir;
  }
}
