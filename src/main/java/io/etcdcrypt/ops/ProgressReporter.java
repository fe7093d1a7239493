package io.etcdcrypt.ops;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Shows how far a rewrap is: on a terminal a bar redrawn in place ({@code done/total, percent,
 * values per second, ETA}), otherwise a log line every {@code logInterval}.
 */
public final class ProgressReporter implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ProgressReporter.class);
  private static final int BAR_WIDTH = 30;

  private final RewrapStats stats;
  private final PrintStream terminal;
  private final ScheduledExecutorService timer;
  private boolean drawn;

  private ProgressReporter(RewrapStats stats, PrintStream terminal, Duration interval) {
    this.stats = stats;
    this.terminal = terminal;
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "rewrap-progress");
              t.setDaemon(true);
              return t;
            });
    long millis = Math.max(50, interval.toMillis());
    timer.scheduleAtFixedRate(this::report, millis, millis, TimeUnit.MILLISECONDS);
  }

  /** A bar on {@code terminal}, redrawn five times a second. */
  public static ProgressReporter bar(RewrapStats stats, PrintStream terminal) {
    return new ProgressReporter(stats, terminal, Duration.ofMillis(200));
  }

  /** A log line every {@code interval}. */
  public static ProgressReporter logLines(RewrapStats stats, Duration interval) {
    return new ProgressReporter(stats, null, interval);
  }

  private synchronized void report() {
    if (terminal != null) {
      terminal.print("\r" + barLine(stats));
      terminal.flush();
      drawn = true;
    } else {
      log.info("rewrap progress: {}", line(stats));
    }
  }

  /** {@code 4123/10000 (41%), 4100 rewritten, 2051/s, ETA 0:03}. */
  static String line(RewrapStats s) {
    long done = s.done();
    long total = Math.max(s.total(), done);
    double rate = s.elapsedSeconds() > 0 ? done / s.elapsedSeconds() : 0;
    return String.format(
        Locale.ROOT,
        "%d/%d (%d%%), %d rewritten, %.0f/s, ETA %s",
        done,
        total,
        percent(done, total),
        s.rewritten(),
        rate,
        eta(total - done, rate));
  }

  static String barLine(RewrapStats s) {
    long done = s.done();
    long total = Math.max(s.total(), done);
    int filled = total == 0 ? BAR_WIDTH : (int) (BAR_WIDTH * done / total);
    return "[" + "#".repeat(filled) + ".".repeat(BAR_WIDTH - filled) + "] " + line(s);
  }

  private static long percent(long done, long total) {
    return total == 0 ? 100 : 100 * done / total;
  }

  private static String eta(long remaining, double rate) {
    if (remaining <= 0) {
      return "0:00";
    }
    if (rate <= 0) {
      return "?";
    }
    long seconds = (long) Math.ceil(remaining / rate);
    return seconds >= 3600
        ? String.format(
            Locale.ROOT, "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
        : String.format(Locale.ROOT, "%d:%02d", seconds / 60, seconds % 60);
  }

  /** Stops reporting; a bar is drawn one last time and ended with a newline. */
  @Override
  public synchronized void close() {
    timer.shutdownNow();
    if (terminal != null) {
      terminal.println((drawn ? "\r" : "") + barLine(stats));
      terminal.flush();
    }
  }
}
