package io.etcdcrypt.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class BackgroundChecksTest {

  @Test
  void resultsFollowTheCheckAndAThrowingCheckFailsWithoutStoppingTheOthers() throws Exception {
    AtomicReference<Optional<String>> etcd = new AtomicReference<>(Optional.of("no member"));
    HealthCheck throwing =
        HealthCheck.of(
            "kms",
            () -> {
              throw new IllegalStateException("plugin gone");
            });
    try (BackgroundChecks background =
        BackgroundChecks.start(
            List.of(HealthCheck.of("etcd", etcd::get), throwing), Duration.ofMillis(20))) {
      HealthCheck cachedEtcd = background.checks().get(0);
      HealthCheck cachedKms = background.checks().get(1);
      awaitResult(cachedEtcd, Optional.of("no member"));
      awaitResult(cachedKms, Optional.of("java.lang.IllegalStateException: plugin gone"));

      etcd.set(Optional.empty());
      awaitResult(cachedEtcd, Optional.empty());
      assertEquals("etcd", cachedEtcd.name());
      assertEquals("kms", cachedKms.name());
    }
  }

  private static void awaitResult(HealthCheck check, Optional<String> expected)
      throws InterruptedException {
    for (int attempt = 0; attempt < 500 && !check.check().equals(expected); attempt++) {
      Thread.sleep(10);
    }
    assertEquals(expected, check.check());
  }
}
