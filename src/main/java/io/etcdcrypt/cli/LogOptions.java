package io.etcdcrypt.cli;

import io.etcdcrypt.observe.Logging;
import picocli.CommandLine.Option;

/** Log format and level; every long-running command takes them. */
final class LogOptions {

  @Option(
      names = "--log-format",
      defaultValue = "text",
      description =
          "Log line format on standard error: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}")
  Logging.Format format;

  /** The levels --log-level takes; picocli refuses any other value, listing these. */
  enum Level {
    ERROR,
    WARN,
    INFO,
    DEBUG,
    TRACE
  }

  @Option(
      names = "--log-level",
      defaultValue = "info",
      description = "Log level: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}")
  Level level;

  void apply() {
    Logging.configure(format, level.name());
  }
}
