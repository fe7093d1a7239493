package io.etcdcrypt.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class GoDurationTest {

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "3s, 3000000000",
    "500ms, 500000000",
    "1m30s, 90000000000",
    "1h, 3600000000000",
    "1.5h, 5400000000000",
    "-2h45m, -9900000000000",
    "+5s, 5000000000",
    "0, 0",
    "-0, 0",
    "0s, 0",
    "1us, 1000",
    "1\u00b5s, 1000",
    "1\u03bcs, 1000",
    "7ns, 7",
    ".5s, 500000000",
    "1.s, 1000000000",
    "1h1m1s1ms1us1ns, 3661001001001",
    "0.000000001s, 1",
    "2562047h, 9223369200000000000",
  })
  void parsesGoSyntax(String text, long nanos) throws Exception {
    assertEquals(Duration.ofNanos(nanos), GoDuration.parse(text));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"", "s", "3", "1.5", "3x", "3 s", ".s", "-", "1h-1m", "3S", "9999999999h", "1e3s"})
  void rejectsAnythingElse(String text) {
    assertThrows(GoDuration.InvalidDurationException.class, () -> GoDuration.parse(text));
  }
}
