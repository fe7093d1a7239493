package io.etcdcrypt.log;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.event.Level;

/**
 * Logs when something the proxy depends on (an etcd member, etcd as a whole, a KMS plugin) is lost
 * and when it recovers: one WARN line when it is lost, with the cause, and one INFO line when it
 * recovers, with how long it was gone; nothing while its state stays the same, however often it is
 * checked.
 *
 * <p>A dependency that flaps does not flood the log: at most {@link #BURST} lines are written at
 * once, then one per {@link #REFILL}. A change that falls in a quiet period is not lost: the next
 * check after it ends logs the state then in effect, with how many changes went unlogged.
 *
 * <p>Thread-safe; reports may come from any thread. The first report only logs when it is a loss: a
 * dependency that is there from the start is not news.
 */
public final class StateChangeLog {

  /** Lines written at once before the rate limit applies: two whole outages. */
  public static final int BURST = 4;

  /** After the burst, one line per this period. */
  public static final Duration REFILL = Duration.ofSeconds(30);

  /** Where lines go: a logger, nowhere, or a list in tests. */
  public interface Sink {

    /** Drops every line (a second connection to what another one already reports on). */
    Sink NOWHERE = (level, line) -> {};

    static Sink of(Logger log) {
      return (level, line) -> log.atLevel(level).log("{}", line);
    }

    void write(Level level, String line);
  }

  private final Sink sink;
  private final Function<String, String> lostLine;
  private final Function<Duration, String> recoveredLine;
  private final Clock clock;
  private final int burst;
  private final Duration refill;

  private Boolean up; // null before the first report
  private Boolean loggedUp; // the state the last line said (null: none yet)
  private String cause; // why it is down, while it is
  private Instant downSince; // when the current (or last) outage began
  private Instant upSince; // when it last recovered
  private double tokens;
  private Instant refilledAt;
  private int unlogged; // changes not logged since the last line
  private Instant firstUnlogged;

  /**
   * Logs to {@code log}: {@code lostLine} turns the cause into the WARN line, {@code recoveredLine}
   * turns how long it was lost into the INFO line. Neither line may carry values or key material.
   */
  public StateChangeLog(
      Logger log, Function<String, String> lostLine, Function<Duration, String> recoveredLine) {
    this(Sink.of(log), lostLine, recoveredLine);
  }

  /** Writes to {@code sink}, with the rate limit above. */
  public StateChangeLog(
      Sink sink, Function<String, String> lostLine, Function<Duration, String> recoveredLine) {
    this(sink, lostLine, recoveredLine, Clock.systemUTC(), BURST, REFILL);
  }

  /** With the sink, clock and rate limit given (tests). */
  public StateChangeLog(
      Sink sink,
      Function<String, String> lostLine,
      Function<Duration, String> recoveredLine,
      Clock clock,
      int burst,
      Duration refill) {
    this.sink = sink;
    this.lostLine = lostLine;
    this.recoveredLine = recoveredLine;
    this.clock = clock;
    this.burst = burst;
    this.refill = refill;
    this.tokens = burst;
    this.refilledAt = clock.instant();
  }

  /** The dependency works (again). */
  public synchronized void up() {
    Instant now = clock.instant();
    if (!Boolean.TRUE.equals(up)) {
      boolean first = up == null;
      up = true;
      upSince = now;
      cause = null;
      if (first) {
        loggedUp = true; // there from the start: nothing to say
        return;
      }
      changed(now);
    }
    flushIfDue(now);
  }

  /**
   * The dependency is lost; {@code cause} says why (one line; newlines are folded). While it stays
   * lost, a different cause is not logged.
   */
  public synchronized void down(String cause) {
    Instant now = clock.instant();
    if (!Boolean.FALSE.equals(up)) {
      up = false;
      downSince = now;
      this.cause = oneLine(cause);
      changed(now);
    }
    flushIfDue(now);
  }

  private void changed(Instant now) {
    if (unlogged++ == 0) {
      firstUnlogged = now;
    }
  }

  /** Logs the current state if it was not logged since it changed and the rate limit allows. */
  private void flushIfDue(Instant now) {
    if (unlogged == 0) {
      return;
    }
    refill(now);
    if (tokens < 1) {
      return;
    }
    tokens -= 1;
    int skipped = unlogged - (up.equals(loggedUp) ? 0 : 1);
    String line =
        up ? recoveredLine.apply(Duration.between(downSince, upSince)) : lostLine.apply(cause);
    if (skipped > 0) {
      line +=
          " (it flaps: "
              + skipped
              + " more change"
              + (skipped == 1 ? "" : "s")
              + " of state in the last "
              + Durations.brief(Duration.between(firstUnlogged, now))
              + " went unlogged)";
    }
    sink.write(up ? Level.INFO : Level.WARN, line);
    loggedUp = up;
    unlogged = 0;
    firstUnlogged = null;
  }

  private void refill(Instant now) {
    long nanos = Duration.between(refilledAt, now).toNanos();
    if (nanos <= 0) {
      return;
    }
    tokens = Math.min(burst, tokens + (double) nanos / refill.toNanos());
    refilledAt = now;
  }

  private static String oneLine(String s) {
    return s == null ? "no cause given" : s.strip().replaceAll("\\s*[\\r\\n]+\\s*", " | ");
  }
}
