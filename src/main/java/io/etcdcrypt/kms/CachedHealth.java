package io.etcdcrypt.kms;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Supplier;

/**
 * A health result reused for a while: a pass for {@code healthyTtl}, a failure for {@code
 * failedTtl}.
 */
final class CachedHealth {

  private final Clock clock;
  private final Duration healthyTtl;
  private final Duration failedTtl;
  private KmsHealth last;
  private Instant checkedAt;

  CachedHealth(Clock clock, Duration healthyTtl, Duration failedTtl) {
    this.clock = clock;
    this.healthyTtl = healthyTtl;
    this.failedTtl = failedTtl;
  }

  /**
   * The cached result while it is fresh, else the result of {@code check} (which is then cached).
   */
  synchronized KmsHealth get(Supplier<KmsHealth> check) {
    if (last != null
        && clock.instant().isBefore(checkedAt.plus(last.ok() ? healthyTtl : failedTtl))) {
      return last;
    }
    return record(check.get());
  }

  /** Caches a result obtained elsewhere (the background poller's). */
  synchronized KmsHealth record(KmsHealth health) {
    last = health;
    checkedAt = clock.instant();
    return health;
  }

  /** The last result, or {@code null} before the first check. */
  synchronized KmsHealth last() {
    return last;
  }
}
