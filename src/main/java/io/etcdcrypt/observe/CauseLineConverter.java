package io.etcdcrypt.observe;

import ch.qos.logback.classic.pattern.ThrowableHandlingConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.CoreConstants;

/**
 * {@code %cause}: an event's exception as one {@code caused by} line under the message, instead of
 * its stack trace. Below debug, operators want to know what failed, not where in the code; with
 * {@code --log-level debug} the text pattern prints the whole trace instead (see {@link Logging}).
 *
 * <p>The line names the exception and, when the chain goes deeper, its innermost cause, which is
 * usually the actionable one (a missing socket under a gRPC status, a refused connection under a
 * timeout). Only the first line of each message is kept, and the line is capped.
 */
public final class CauseLineConverter extends ThrowableHandlingConverter {

  static final int MAX_LINE = 400;

  @Override
  public String convert(ILoggingEvent event) {
    IThrowableProxy thrown = event.getThrowableProxy();
    if (thrown == null) {
      return "";
    }
    IThrowableProxy root = thrown;
    // A chain may loop (a cause set to an ancestor); bounded like logback's own printer.
    for (int depth = 0; root.getCause() != null && depth < 32; depth++) {
      root = root.getCause();
    }
    StringBuilder line = new StringBuilder(CoreConstants.LINE_SEPARATOR).append("  caused by: ");
    describe(thrown, line);
    if (root != thrown) {
      line.append("; root cause: ");
      describe(root, line);
    }
    if (line.length() > MAX_LINE) {
      line.setLength(MAX_LINE - 3);
      line.append("...");
    }
    return line.toString();
  }

  private static void describe(IThrowableProxy t, StringBuilder into) {
    into.append(t.getClassName());
    String message = t.getMessage();
    if (message != null && !message.isEmpty()) {
      int newline = message.indexOf('\n');
      into.append(": ")
          .append(newline < 0 ? message : message.substring(0, newline).stripTrailing());
    }
  }
}
