package io.etcdcrypt.observe;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.PatternLayout;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * Configures logging for a command: one line per event on stderr, as text or as JSON (logback's own
 * {@link JsonEncoder}), at the chosen level. In text, an event's exception adds one {@code caused
 * by} line, or its stack trace at debug and trace. gRPC's java.util.logging output is routed
 * through the same sink.
 *
 * <p>Values, plaintexts and key material are never logged anywhere in this project; keys (object
 * names) may be. Request-scoped fields travel as the MDC ({@code method}, set while the proxy
 * transforms a call's messages) and as key-value pairs on the event ({@code key}, {@code resource},
 * {@code transformer_prefix}, {@code provider}, {@code kms_uid}, ...); the JSON encoder writes them
 * as {@code mdc} and {@code kvpList}.
 */
public final class Logging {

  /** Line format on stderr. */
  public enum Format {
    TEXT,
    JSON
  }

  /** The text line: time, level, logger, MDC and key-value pairs when present, message. */
  static final String TEXT_PATTERN =
      "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level %logger{30}"
          + "%replace( %mdc){'^ $', ''}%replace( %kvp){'^ $', ''} - %msg";

  /** What follows the message: one {@code caused by} line, or (at debug and below) the trace. */
  private static final String CAUSE_LINE = "%cause%n";

  private static final String FULL_TRACE = "%n";

  private Logging() {}

  /**
   * Text lines. Request-scoped fields follow the logger: the MDC (method) and the event's key-value
   * pairs (key, resource, provider, kms_uid, ...), each left out when empty. An exception adds one
   * {@code caused by} line unless {@code quietCauses} is off (debug and trace), where logback
   * appends the whole stack trace.
   */
  private static Encoder<ILoggingEvent> textEncoder(LoggerContext ctx, boolean quietCauses) {
    PatternLayout layout = new PatternLayout();
    layout.setContext(ctx);
    layout.getInstanceConverterMap().put("cause", CauseLineConverter::new);
    layout.setPattern(TEXT_PATTERN + (quietCauses ? CAUSE_LINE : FULL_TRACE));
    layout.start();
    LayoutWrappingEncoder<ILoggingEvent> text = new LayoutWrappingEncoder<>();
    text.setLayout(layout);
    return text;
  }

  public static void configure(Format format, String level) {
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    ctx.reset();

    Encoder<ILoggingEvent> encoder;
    if (format == Format.JSON) {
      JsonEncoder json = new JsonEncoder();
      json.setWithFormattedMessage(true);
      json.setWithMessage(false);
      json.setWithArguments(false);
      json.setWithSequenceNumber(false);
      json.setWithNanoseconds(false);
      encoder = json;
    } else {
      encoder = textEncoder(ctx, Level.toLevel(level, Level.INFO).isGreaterOrEqual(Level.INFO));
    }
    encoder.setContext(ctx);
    encoder.start();

    ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
    appender.setContext(ctx);
    appender.setName("stderr");
    appender.setTarget("System.err");
    appender.setEncoder(encoder);
    appender.start();

    ch.qos.logback.classic.Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.toLevel(level, Level.INFO));
    root.addAppender(appender);
    // gRPC's transport chatter is useful only when debugging gRPC itself.
    ctx.getLogger("io.grpc").setLevel(Level.WARN);
    ctx.getLogger("io.grpc.netty.shaded").setLevel(Level.WARN);
    // grpc-netty sets SO_KEEPALIVE on every channel; on the KMS plugins' unix sockets Netty warns
    // it is unknown.
    ctx.getLogger("io.grpc.netty.shaded.io.netty.bootstrap.Bootstrap").setLevel(Level.ERROR);
    // grpc-netty warns once per message it refuses for its size, which the client is told: under
    // attack, a flood. The proxy's own refusals are counted and logged rate-limited.
    ctx.getLogger("io.grpc.netty.shaded.io.grpc.netty.NettyServerStream").setLevel(Level.ERROR);

    SLF4JBridgeHandler.removeHandlersForRootLogger();
    SLF4JBridgeHandler.install();
  }
}
