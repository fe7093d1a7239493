package io.etcdcrypt.log;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * A WARN line that a burst cannot repeat: at most one per interval, each saying how many like it
 * went unlogged since the last. For what clients can cause as fast as they send (refusals, memory
 * shortage), where a line per event would flood the log.
 */
public final class RateLimitedWarning {

  private final Logger log;
  private final long intervalNanos;
  private final AtomicLong unlogged = new AtomicLong();
  private final AtomicLong lastLogged;

  public RateLimitedWarning(Logger log, Duration interval) {
    this.log = log;
    this.intervalNanos = interval.toNanos();
    this.lastLogged = new AtomicLong(System.nanoTime() - intervalNanos);
  }

  /**
   * Logs {@code format} with {@code args} (SLF4J style) unless a line was logged less than an
   * interval ago; the line ends with the count of those that were not.
   */
  public void warn(String format, Object... args) {
    long now = System.nanoTime();
    long last = lastLogged.get();
    if (now - last < intervalNanos || !lastLogged.compareAndSet(last, now)) {
      unlogged.incrementAndGet();
      return;
    }
    long skipped = unlogged.getAndSet(0);
    if (log.isWarnEnabled()) {
      String line =
          skipped == 0 ? format : format + " (and " + skipped + " more since the last such line)";
      log.warn(line, args);
    }
  }
}
