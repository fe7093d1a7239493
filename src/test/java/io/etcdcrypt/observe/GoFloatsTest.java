package io.etcdcrypt.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GoFloatsTest {

  /** Expected values are what Go's strconv.FormatFloat(v, 'g', -1, 64) prints. */
  @ParameterizedTest
  @CsvSource({
    "5e-6, 5e-06",
    "1e-5, 1e-05",
    "8e-5, 8e-05",
    "0.00016, 0.00016",
    "0.0001, 0.0001",
    "0.00512, 0.00512",
    "1, 1",
    "10, 10",
    "2.5, 2.5",
    "0.005, 0.005",
    "83.88608, 83.88608",
    "52.4288, 52.4288",
    "123456, 123456",
    "1000000, 1e+06",
    "1.5e-7, 1.5e-07",
    "-0.25, -0.25",
    "0, 0",
    "3.2768, 3.2768",
    "1.23456789e8, 1.23456789e+08",
  })
  void formatsAsGo(double value, String go) {
    assertEquals(go, GoFloats.format(value));
  }

  @Test
  void rewritesOnlyBucketBounds() {
    String java =
        "x_bucket{a=\"le=\\\"1.0\\\"\",le=\"5.0E-6\"} 0\nx_bucket{le=\"1.0\"} 2\nx_bucket{le=\"+Inf\"} 2\n"
            + "x_sum 1.0\n";
    String go =
        "x_bucket{a=\"le=\\\"1.0\\\"\",le=\"5e-06\"} 0\nx_bucket{le=\"1\"} 2\nx_bucket{le=\"+Inf\"} 2\n"
            + "x_sum 1.0\n";
    assertEquals(go, GoFloats.rewriteBucketBounds(java));
  }
}
