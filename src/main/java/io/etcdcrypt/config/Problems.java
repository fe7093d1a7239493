package io.etcdcrypt.config;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Collects every error (and warning) found while reading a configuration, so the user sees all of
 * them at once.
 */
final class Problems {

  private final List<ConfigError> errors = new ArrayList<>();
  private final List<ConfigError> warnings = new ArrayList<>();
  private final Set<String> erroneousPaths = new HashSet<>();

  void error(String path, String message) {
    errors.add(new ConfigError(path, message));
    erroneousPaths.add(path);
  }

  void warning(String path, String message) {
    warnings.add(new ConfigError(path, message));
  }

  /**
   * Whether an error was already reported at exactly this path; lets a validator skip "is required"
   * for a field whose value was present but of the wrong type.
   */
  boolean hasErrorAt(String path) {
    return erroneousPaths.contains(path);
  }

  boolean hasErrors() {
    return !errors.isEmpty();
  }

  List<ConfigError> errors() {
    return List.copyOf(errors);
  }

  List<ConfigError> warnings() {
    return List.copyOf(warnings);
  }
}
