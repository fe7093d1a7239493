package io.etcdcrypt.observe;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Readiness checks run on their own threads, every {@code interval}, so that {@code /readyz},
 * {@code /livez} and a metrics scrape only read the last results and never wait on a dependency (a
 * hung KMS plugin held both of the admin endpoint's threads for seconds, and the kubelet's liveness
 * probe timed out with them).
 *
 * <p>Each check has its own thread: one that hangs delays only its own result. Until a check has
 * run once it reports "not checked yet", so a proxy is not ready before its first checks pass.
 */
public final class BackgroundChecks implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(BackgroundChecks.class);
  static final String NOT_CHECKED_YET = "not checked yet";

  private final ScheduledExecutorService runner;
  private final List<HealthCheck> cached = new ArrayList<>();

  private BackgroundChecks(List<HealthCheck> checks, Duration interval) {
    runner =
        Executors.newScheduledThreadPool(
            Math.max(1, checks.size()),
            r -> {
              Thread t = new Thread(r, "readiness-checks");
              t.setDaemon(true);
              return t;
            });
    for (HealthCheck check : checks) {
      AtomicReference<Optional<String>> last = new AtomicReference<>(Optional.of(NOT_CHECKED_YET));
      runner.scheduleWithFixedDelay(
          () -> last.set(run(check)), 0, interval.toMillis(), TimeUnit.MILLISECONDS);
      cached.add(HealthCheck.of(check.name(), last::get));
    }
  }

  /** Starts running {@code checks}; {@link #checks()} reads their last results. */
  public static BackgroundChecks start(List<HealthCheck> checks, Duration interval) {
    return new BackgroundChecks(checks, interval);
  }

  /** The checks as the admin endpoint and the metrics see them: the last result, at once. */
  public List<HealthCheck> checks() {
    return List.copyOf(cached);
  }

  private static Optional<String> run(HealthCheck check) {
    try {
      return check.check();
    } catch (RuntimeException e) {
      // A check that throws fails; the scheduled task must survive to run again.
      log.debug("readiness check {} threw", check.name(), e);
      return Optional.of(String.valueOf(e));
    }
  }

  @Override
  public void close() {
    runner.shutdownNow();
  }
}
