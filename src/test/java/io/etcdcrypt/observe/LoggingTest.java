package io.etcdcrypt.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.util.ContextInitializer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The text line carries the request-scoped fields (MDC and key-value pairs) and nothing when there
 * are none.
 */
class LoggingTest {

  private final PrintStream originalErr = System.err;

  @AfterEach
  void restore() throws Exception {
    System.setErr(originalErr);
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    ctx.reset();
    new ContextInitializer(ctx).autoConfig(); // back to logback-test.xml for the tests that follow
  }

  @Test
  void textLinesCarryMdcAndKeyValuesWhenPresent() {
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    Logging.configure(Logging.Format.TEXT, "debug");
    Logger log = LoggerFactory.getLogger("io.etcdcrypt.test.Example");

    MDC.put("method", "etcdserverpb.KV/Range");
    try {
      log.atWarn()
          .addKeyValue("key", "/registry/secrets/ns/a")
          .addKeyValue("resource", "secrets")
          .log("cannot decrypt a value: {}", "cipher: message authentication failed");
    } finally {
      MDC.remove("method");
    }
    log.info("plain event");
    log.debug("debug is on");
    LoggerFactory.getLogger("io.grpc.Something").info("grpc chatter stays below WARN");

    List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals(3, lines.size(), String.join("\n", lines));
    assertTrue(
        lines
            .get(0)
            .matches(
                "\\S+ WARN  io\\.etcdcrypt\\.test\\.Example method=etcdserverpb\\.KV/Range"
                    + " key=\"/registry/secrets/ns/a\" resource=\"secrets\" - cannot decrypt a value: cipher: message"
                    + " authentication failed"),
        lines.get(0));
    assertTrue(
        lines.get(1).matches("\\S+ INFO  io\\.etcdcrypt\\.test\\.Example - plain event"),
        lines.get(1));
    assertTrue(lines.get(2).endsWith(" - debug is on"), lines.get(2));
  }

  @Test
  void belowDebugAnExceptionIsOneCausedByLineNamingTheRootCause() {
    List<String> lines = logWarningWithNestedCause("info");
    assertEquals(2, lines.size(), String.join("\n", lines));
    assertTrue(lines.get(0).endsWith(" - KMS plugin call failed"), lines.get(0));
    assertEquals(
        "  caused by: java.lang.IllegalStateException: Encrypt failed; root cause:"
            + " java.io.FileNotFoundException: /run/kms/plugin.sock (no such file)",
        lines.get(1));
  }

  @Test
  void atDebugTheWholeTraceIsPrinted() {
    List<String> lines = logWarningWithNestedCause("debug");
    assertTrue(lines.size() > 4, String.join("\n", lines));
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("\tat ")), String.join("\n", lines));
    assertTrue(
        lines.stream().anyMatch(l -> l.startsWith("Caused by: java.io.FileNotFoundException")),
        String.join("\n", lines));
  }

  private List<String> logWarningWithNestedCause(String level) {
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    Logging.configure(Logging.Format.TEXT, level);
    Exception root = new java.io.FileNotFoundException("/run/kms/plugin.sock (no such file)");
    Exception middle = new RuntimeException("Status{code=UNAVAILABLE}\n\tat a dump", root);
    LoggerFactory.getLogger("io.etcdcrypt.test.Example")
        .warn("KMS plugin call failed", new IllegalStateException("Encrypt failed", middle));
    return captured.toString(StandardCharsets.UTF_8).lines().toList();
  }
}
