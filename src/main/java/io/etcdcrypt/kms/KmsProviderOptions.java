package io.etcdcrypt.kms;

import java.time.Clock;
import java.time.Duration;
import java.util.Objects;

/**
 * The knobs of KMS providers that kube-apiserver hard-codes. {@link #defaults()} are upstream's
 * values; tests shorten them or inject a clock so that nothing has to wait for minutes.
 *
 * @param clock the time source for write-window expiry, health caching and DEK cache TTLs
 * @param observer receives plugin calls, cache hits/misses and key ids (for metrics)
 * @param statusPollInterval KMS v2: time between Status calls while the plugin is healthy (60 s)
 * @param failingStatusPollInterval KMS v2: time between Status calls while it is not (10 s)
 * @param writeWindow KMS v2: how long after the last good Status the current seed may still encrypt
 *     (3 min)
 * @param healthyResultTtl how long a passing health check is reused (20 s)
 * @param failedResultTtl how long a failing health check is reused (3 s)
 * @param dekSourceCacheTtl KMS v2: TTL of read-cache entries (24 h; expired entries are still
 *     served)
 * @param readOnly KMS v2: the providers only read (census, verify-backup, rewrap --dry-run): Status
 *     alone tells the current key id, the plugin's Encrypt is never called, and writes are refused
 * @param maxPendingCalls how many calls may wait on one plugin at once; more fail at once with
 *     RESOURCE_EXHAUSTED (serve's {@code --kms-max-pending-calls})
 */
public record KmsProviderOptions(
    Clock clock,
    KmsObserver observer,
    Duration statusPollInterval,
    Duration failingStatusPollInterval,
    Duration writeWindow,
    Duration healthyResultTtl,
    Duration failedResultTtl,
    Duration dekSourceCacheTtl,
    boolean readOnly,
    int maxPendingCalls) {

  /**
   * Calls that may wait on one plugin at once. kube-apiserver has no bound; each waiting write also
   * holds its value, so a hung plugin must not gather them without end. A healthy plugin answering
   * in milliseconds keeps a few dozen pending at thousands of writes per second.
   */
  public static final int DEFAULT_MAX_PENDING_CALLS = 256;

  public KmsProviderOptions {
    Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(observer, "observer");
    Objects.requireNonNull(statusPollInterval, "statusPollInterval");
    Objects.requireNonNull(failingStatusPollInterval, "failingStatusPollInterval");
    Objects.requireNonNull(writeWindow, "writeWindow");
    Objects.requireNonNull(healthyResultTtl, "healthyResultTtl");
    Objects.requireNonNull(failedResultTtl, "failedResultTtl");
    Objects.requireNonNull(dekSourceCacheTtl, "dekSourceCacheTtl");
  }

  /** kube-apiserver's values, the system clock, no observer. */
  public static KmsProviderOptions defaults() {
    return new KmsProviderOptions(
        Clock.systemUTC(),
        KmsObserver.NONE,
        Duration.ofSeconds(60),
        Duration.ofSeconds(10),
        Duration.ofMinutes(3),
        Duration.ofSeconds(20),
        Duration.ofSeconds(3),
        Duration.ofHours(24),
        false,
        DEFAULT_MAX_PENDING_CALLS);
  }

  public KmsProviderOptions withClock(Clock c) {
    return new KmsProviderOptions(
        c,
        observer,
        statusPollInterval,
        failingStatusPollInterval,
        writeWindow,
        healthyResultTtl,
        failedResultTtl,
        dekSourceCacheTtl,
        readOnly,
        maxPendingCalls);
  }

  public KmsProviderOptions withObserver(KmsObserver o) {
    return new KmsProviderOptions(
        clock,
        o,
        statusPollInterval,
        failingStatusPollInterval,
        writeWindow,
        healthyResultTtl,
        failedResultTtl,
        dekSourceCacheTtl,
        readOnly,
        maxPendingCalls);
  }

  /**
   * How long a passing health result is reused: about how long a plugin that died still reads as
   * healthy.
   */
  public KmsProviderOptions withHealthyResultTtl(Duration ttl) {
    return new KmsProviderOptions(
        clock,
        observer,
        statusPollInterval,
        failingStatusPollInterval,
        writeWindow,
        ttl,
        failedResultTtl,
        dekSourceCacheTtl,
        readOnly,
        maxPendingCalls);
  }

  /** Providers that only read: no Encrypt call, ever (see {@link #readOnly}). */
  public KmsProviderOptions readingOnly() {
    return new KmsProviderOptions(
        clock,
        observer,
        statusPollInterval,
        failingStatusPollInterval,
        writeWindow,
        healthyResultTtl,
        failedResultTtl,
        dekSourceCacheTtl,
        true,
        maxPendingCalls);
  }

  public KmsProviderOptions withStatusPollIntervals(Duration healthy, Duration failing) {
    return new KmsProviderOptions(
        clock,
        observer,
        healthy,
        failing,
        writeWindow,
        healthyResultTtl,
        failedResultTtl,
        dekSourceCacheTtl,
        readOnly,
        maxPendingCalls);
  }

  public KmsProviderOptions withMaxPendingCalls(int max) {
    return new KmsProviderOptions(
        clock,
        observer,
        statusPollInterval,
        failingStatusPollInterval,
        writeWindow,
        healthyResultTtl,
        failedResultTtl,
        dekSourceCacheTtl,
        readOnly,
        max);
  }
}
