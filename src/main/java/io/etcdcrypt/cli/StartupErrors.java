package io.etcdcrypt.cli;

import java.io.PrintWriter;
import java.util.Locale;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Start-up failures as one line a person can act on: what is wrong, which flag, what to do. A stack
 * trace helps nobody who mistyped a flag or started a second proxy on the same port.
 */
final class StartupErrors {

  private StartupErrors() {}

  /** A listener that could not bind: names the flag, the address and why. */
  static String cannotListen(String flag, String address, Throwable e) {
    String cause = rootMessage(e);
    String lower = cause.toLowerCase(Locale.ROOT);
    if (lower.contains("already in use")) {
      return flag
          + " "
          + address
          + ": the address is already in use (another etcd-crypt-proxy or etcd?): stop what"
          + " listens there or give another "
          + flag;
    }
    if (lower.contains("cannot assign requested address")) {
      return flag
          + " "
          + address
          + ": no network interface of this host has that address: give one of its addresses,"
          + " or 0.0.0.0";
    }
    return flag + " " + address + ": cannot listen: " + cause;
  }

  /** The message of the innermost cause that has one. */
  static String rootMessage(Throwable e) {
    String message = e.toString();
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t.getMessage() != null) {
        message = t.getMessage();
      }
    }
    return message;
  }

  /**
   * A flag that does not parse: the message (with picocli's suggestions for a mistyped flag name)
   * and where to find the flags, not the whole usage text.
   */
  static final IParameterExceptionHandler USAGE =
      (ParameterException e, String[] args) -> {
        CommandLine cl = e.getCommandLine();
        PrintWriter err = cl.getErr();
        err.println(cl.getCommandName() + ": " + e.getMessage());
        UnmatchedArgumentException.printSuggestions(e, err);
        err.println("'" + cl.getCommandSpec().qualifiedName() + " --help' lists the flags");
        err.flush();
        return cl.getCommandSpec().exitCodeOnInvalidInput();
      };

  /**
   * Whatever a command did not handle itself: one line on standard error, exit 1; the stack trace
   * only at debug level.
   */
  static final IExecutionExceptionHandler HANDLER =
      (Exception e, CommandLine cl, ParseResult parsed) -> {
        LoggerFactory.getLogger(StartupErrors.class).debug("{} failed", cl.getCommandName(), e);
        String message = e.getMessage() != null ? e.getMessage() : rootMessage(e);
        cl.getErr()
            .println(
                cl.getCommandName()
                    + ": "
                    + message
                    + " (run with --log-level debug for the details)");
        cl.getErr().flush();
        return 1;
      };
}
