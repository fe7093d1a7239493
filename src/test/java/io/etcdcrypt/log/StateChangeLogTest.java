package io.etcdcrypt.log;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.etcdcrypt.testing.MutableClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** One line per change of state, none while it holds, and a flapping dependency rate-limited. */
class StateChangeLogTest {

  private final MutableClock clock = MutableClock.startingNow();
  private final List<String> lines = new ArrayList<>();
  private final StateChangeLog log =
      new StateChangeLog(
          (level, line) -> lines.add(level + " " + line),
          cause -> "lost: " + cause,
          down -> "back after " + Durations.brief(down),
          clock,
          4,
          Duration.ofSeconds(30));

  @Test
  void aDependencyThereFromTheStartIsNotNews() {
    log.up();
    clock.advance(Duration.ofSeconds(5));
    log.up();
    assertEquals(List.of(), lines);
  }

  @Test
  void oneLineWhenLostAndOneWhenBackNothingInBetween() {
    log.up();
    clock.advance(Duration.ofSeconds(1));
    log.down("connection refused");
    for (int i = 0; i < 100; i++) {
      clock.advance(Duration.ofSeconds(1));
      log.down(i % 2 == 0 ? "connection refused" : "deadline exceeded"); // another cause: no line
    }
    log.up();
    log.up();
    assertEquals(List.of("WARN lost: connection refused", "INFO back after 1 min 40 s"), lines);
  }

  @Test
  void lostAtTheFirstReportIsLogged() {
    log.down("no such socket");
    clock.advance(Duration.ofSeconds(3));
    log.up();
    assertEquals(List.of("WARN lost: no such socket", "INFO back after 3 s"), lines);
  }

  @Test
  void theCauseIsOneLine() {
    log.down("first line\n  at Some.frame(Some.java:1)\r\n");
    assertEquals(List.of("WARN lost: first line | at Some.frame(Some.java:1)"), lines);
  }

  @Test
  void aFlappingDependencyLogsTheBurstThenOneLinePerRefillSayingHowManyWentUnlogged() {
    log.up();
    for (int i = 0; i < 60; i++) { // down and up every second for two minutes
      clock.advance(Duration.ofSeconds(1));
      log.down("refused");
      clock.advance(Duration.ofSeconds(1));
      log.up();
    }
    assertEquals(
        List.of(
            "WARN lost: refused",
            "INFO back after 1 s",
            "WARN lost: refused",
            "INFO back after 1 s",
            // then a line every 30 s or so, for the state then, with the changes it stands for
            "INFO back after 1 s (it flaps: 28 more changes of state in the last 27 s went unlogged)",
            "INFO back after 1 s (it flaps: 30 more changes of state in the last 29 s went unlogged)",
            "INFO back after 1 s (it flaps: 30 more changes of state in the last 29 s went unlogged)"),
        lines);
  }

  @Test
  void aChangeInAQuietPeriodIsLoggedWhenItEndsNotLost() {
    log.up();
    for (int i = 0; i < 2; i++) { // uses up the burst
      clock.advance(Duration.ofSeconds(1));
      log.down("refused");
      clock.advance(Duration.ofSeconds(1));
      log.up();
    }
    clock.advance(Duration.ofSeconds(1));
    log.down("refused again");
    assertEquals(4, lines.size(), "the loss falls in a quiet period: " + lines);
    clock.advance(Duration.ofSeconds(25));
    log.down("refused again");
    assertEquals(4, lines.size(), "still quiet: " + lines);
    clock.advance(Duration.ofSeconds(5));
    log.down("still refused");
    assertEquals("WARN lost: refused again", lines.get(4));
    clock.advance(Duration.ofMinutes(10));
    log.down("still refused");
    assertEquals(5, lines.size(), "nothing while it stays lost: " + lines);
    log.up();
    assertEquals("INFO back after 10 min 30 s", lines.get(5));
  }

  @Test
  void durationsReadAsAPersonWritesThem() {
    assertEquals("850 ms", Durations.brief(Duration.ofMillis(850)));
    assertEquals("12 s", Durations.brief(Duration.ofMillis(12_900)));
    assertEquals("3 min", Durations.brief(Duration.ofMinutes(3)));
    assertEquals("2 h 5 min", Durations.brief(Duration.ofMinutes(125)));
    assertEquals("1 d 1 h", Durations.brief(Duration.ofHours(25)));
  }
}
