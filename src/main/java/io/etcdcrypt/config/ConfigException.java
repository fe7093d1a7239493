package io.etcdcrypt.config;

import java.util.List;

/**
 * An EncryptionConfiguration file could not be read or is invalid; {@link #errors()} lists every
 * problem found.
 */
public final class ConfigException extends Exception {

  private final String source;
  private final List<ConfigError> errors;

  public ConfigException(String source, List<ConfigError> errors) {
    super(render(source, errors));
    if (errors.isEmpty()) {
      throw new IllegalArgumentException("a ConfigException needs at least one error");
    }
    this.source = source;
    this.errors = List.copyOf(errors);
  }

  /** The file name (or other label) the configuration was read from. */
  public String source() {
    return source;
  }

  public List<ConfigError> errors() {
    return errors;
  }

  private static String render(String source, List<ConfigError> errors) {
    StringBuilder sb =
        new StringBuilder("invalid encryption configuration ").append(source).append(':');
    for (ConfigError e : errors) {
      sb.append(System.lineSeparator()).append("  ").append(e);
    }
    return sb.toString();
  }
}
