package io.etcdcrypt.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The test parser reads what Prometheus reads and rejects what Prometheus rejects or misreads. */
class PrometheusTextTest {

  private static final String GO_STYLE =
      String.join(
          "\n",
          "# HELP grpc_server_handled_total Total number of RPCs completed on the server, regardless of success or failure.",
          "# TYPE grpc_server_handled_total counter",
          "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\","
              + "grpc_type=\"unary\"} 7",
          "grpc_server_handled_total{grpc_code=\"Internal\",grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\","
              + "grpc_type=\"unary\",} 1 1700000000000",
          "# A comment that is neither HELP nor TYPE.",
          "# HELP escaped Help with a \\\\ backslash and a \\n newline.",
          "# TYPE escaped gauge",
          "escaped{path=\"C:\\\\dir\",quote=\"say \\\"hi\\\"\",nl=\"a\\nb\"} -1.5e-3",
          "# TYPE lat_seconds histogram",
          "lat_seconds_bucket{le=\"5e-06\"} 0",
          "lat_seconds_bucket{le=\"0.1\"} 2",
          "lat_seconds_bucket{le=\"+Inf\"} 3",
          "lat_seconds_sum 0.7",
          "lat_seconds_count 3",
          "untyped_thing NaN",
          "");

  @Test
  void readsTheFormatAsPrometheusDoes() {
    PrometheusText.Exposition e = PrometheusText.parse(GO_STYLE);
    assertEquals("counter", e.family("grpc_server_handled_total").type());
    assertEquals(
        7,
        e.value(
            "grpc_server_handled_total",
            "grpc_code",
            "OK",
            "grpc_method",
            "Range",
            "grpc_service",
            "etcdserverpb.KV",
            "grpc_type",
            "unary"));
    assertEquals(8, e.sum("grpc_server_handled_total", "grpc_method", "Range"));
    PrometheusText.Sample escaped = e.samples("escaped").get(0);
    assertEquals(Map.of("path", "C:\\dir", "quote", "say \"hi\"", "nl", "a\nb"), escaped.labels());
    assertEquals(-0.0015, escaped.value());
    assertEquals("Help with a \\ backslash and a \n newline.", e.family("escaped").help());
    assertEquals("histogram", e.family("lat_seconds").type());
    assertEquals(3, e.samples("lat_seconds_bucket").size());
    assertEquals("untyped", e.family("untyped_thing").type());
    assertTrue(Double.isNaN(e.value("untyped_thing")));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "a 1\na 2", // duplicate series
        "a{x=\"1\",x=\"2\"} 1", // label given twice
        "a{x=\"1\"} 1\nb 1\na{x=\"2\"} 1", // family not one group
        "a 1\n# TYPE a counter", // TYPE after samples
        "# TYPE a counter\n# TYPE a counter\na 1", // second TYPE
        "# HELP a x\n# HELP a y\na 1", // second HELP
        "# TYPE a countr\na 1", // unknown type
        "# TYPE a counter\na -1", // negative counter
        "1a 1", // invalid metric name
        "a{1x=\"v\"} 1", // invalid label name
        "a{__name__=\"v\"} 1", // reserved label name
        "a{x=\"\\t\"} 1", // invalid escape
        "a{x=\"v} 1", // unterminated value
        "a{x=\"v\" y=\"w\"} 1", // missing comma
        "a 1.0d", // Java-only number syntax
        "a 0x1p3", // hex float
        "a 1 12.5", // fractional timestamp
        "a 1 2 3", // trailing text
        "a1", // no value
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1", // not cumulative
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2", // no +Inf
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3", // count != +Inf
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2", // no sum
        "# TYPE h histogram\nh_bucket 2\nh_sum 1\nh_count 2", // bucket without le
        "# TYPE h histogram\nh 2", // wrong sample name
      })
  void rejectsWhatPrometheusWouldNotRead(String text) {
    assertThrows(PrometheusText.FormatException.class, () -> PrometheusText.parse(text));
  }
}
