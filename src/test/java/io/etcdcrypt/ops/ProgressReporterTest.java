package io.etcdcrypt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressReporterTest {

  @Test
  void theBarShowsDoneTotalPercentRateAndEta() {
    RewrapStats s = new RewrapStats();
    s.total.set(10_000);
    s.resolved.set(2_500);
    s.rewritten.set(2_400);

    String bar = ProgressReporter.barLine(s);
    assertTrue(
        bar.startsWith("[#######......................." + "] 2500/10000 (25%), 2400 rewritten, "),
        bar);
    assertTrue(bar.matches(".*, \\d+/s, ETA \\d+:\\d\\d(:\\d\\d)?$"), bar);
  }

  @Test
  void aFinishedRunShowsAFullBarAndNoTimeLeft() {
    RewrapStats s = new RewrapStats();
    assertTrue(
        ProgressReporter.line(s).startsWith("0/0 (100%), 0 rewritten, "), ProgressReporter.line(s));
    assertTrue(ProgressReporter.line(s).endsWith("ETA 0:00"), ProgressReporter.line(s));

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ProgressReporter bar =
        ProgressReporter.bar(s, new PrintStream(out, true, StandardCharsets.UTF_8))) {
      s.total.set(4);
      s.resolved.set(4);
    }
    String printed = out.toString(StandardCharsets.UTF_8);
    String last = printed.substring(printed.lastIndexOf('\r') + 1).strip();
    assertTrue(last.startsWith("[" + "#".repeat(30) + "] 4/4 (100%), 0 rewritten, "), last);
    assertTrue(last.endsWith("ETA 0:00"), last);
    assertEquals(1, printed.lines().count(), "one line, redrawn in place");
  }
}
