package io.etcdcrypt.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.platform.commons.support.AnnotationSupport;

/**
 * Keeps {@code mvn test} free of real components: a test class that starts one without carrying
 * {@link RealComponents} fails at once, saying so, instead of slowing the unit suite down (or
 * failing there on a machine without etcd). The fixtures that start etcd, kube-apiserver, a KMS
 * plugin, a child JVM, an in-process proxy, etcdctl, python3, SoftHSM2 or helm call {@link
 * #starting} first. As an auto-detected JUnit extension ({@code META-INF/services}) this learns
 * which class is running; the suite runs classes one at a time.
 */
public final class RealComponentsGuard implements BeforeAllCallback, AfterAllCallback {

  private static volatile Class<?> running;

  /** Fails unless the running test class (if any) is tagged {@link RealComponents}. */
  public static void starting(String component) {
    Class<?> c = running;
    if (c != null && !AnnotationSupport.isAnnotated(c, RealComponents.class)) {
      throw new IllegalStateException(
          c.getName()
              + " starts "
              + component
              + " but is not tagged @RealComponents;"
              + " tag it, so that it runs in failsafe's integration-test phase instead of among the unit tests");
    }
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    running = context.getRequiredTestClass();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    running = null;
  }
}
