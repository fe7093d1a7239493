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

  @Option(
      names = "--log-level",
      defaultValue = "info",
      description = "Log level: error, warn, info, debug or trace. Default: ${DEFAULT-VALUE}")
  String level;

  void apply() {
    Logging.configure(format, level);
  }
}
