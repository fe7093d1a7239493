package io.etcdcrypt.testing;

import io.grpc.netty.shaded.io.netty.buffer.ByteBufAllocator;
import io.grpc.netty.shaded.io.netty.util.ResourceLeakDetector;
import io.grpc.netty.shaded.io.netty.util.ResourceLeakDetectorFactory;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Fails the test class during which Netty found a leaked buffer. The suite runs with Netty's leak
 * detection at {@code paranoid} (every buffer tracked; see {@code test.jvm.args}, the {@code
 * argLine} of surefire and failsafe). When the launcher session opens, before any buffer exists,
 * this installs Netty's leak detectors with a recording of their own, so a report is caught
 * whatever the logging configuration (the CLI tests reconfigure logback). As an auto-detected JUnit
 * extension it then collects garbage after each class, lets Netty report what it finds, and fails
 * the class if anything was.
 */
public final class NettyLeakDetector implements LauncherSessionListener, AfterAllCallback {

  private static final List<String> REPORTS = new CopyOnWriteArrayList<>();

  @Override
  public void launcherSessionOpened(LauncherSession session) {
    ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(
        new ResourceLeakDetectorFactory() {
          @Override
          public <T> ResourceLeakDetector<T> newResourceLeakDetector(
              Class<T> resource, int interval, long maxActive) {
            return new Recording<>(resource, interval);
          }
        });
  }

  /** Netty's detector, which also records what it reports. */
  private static final class Recording<T> extends ResourceLeakDetector<T> {
    Recording(Class<T> resource, int samplingInterval) {
      super(resource, samplingInterval);
    }

    @Override
    protected void reportTracedLeak(String resourceType, String records) {
      REPORTS.add(
          "LEAK: " + resourceType + ".release() was not called; recent access records:" + records);
      super.reportTracedLeak(resourceType, records);
    }

    @Override
    protected void reportUntracedLeak(String resourceType) {
      REPORTS.add("LEAK: " + resourceType + ".release() was not called (no access records)");
      super.reportUntracedLeak(resourceType);
    }
  }

  /** What was reported so far, cleared. */
  static List<String> drain() {
    List<String> seen = List.copyOf(REPORTS);
    REPORTS.removeAll(seen);
    return seen;
  }

  @Override
  public void afterAll(ExtensionContext context) {
    // A leak is reported when Netty next tracks a buffer after the leaked one was collected.
    System.gc();
    for (int i = 0; i < 4; i++) {
      ByteBufAllocator.DEFAULT.buffer(16).release();
    }
    List<String> seen = drain();
    if (!seen.isEmpty()) {
      throw new AssertionError(
          "Netty reported leaked buffers during "
              + context.getDisplayName()
              + ":\n"
              + String.join("\n", seen));
    }
  }
}
