package io.etcdcrypt.crypto;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * No entry of a {@link PrefixTransformers} chain could open a value. Either no prefix matched (the
 * message is the chain's no-match message, e.g. {@code no matching prefix found}), or every
 * matching entry failed and the message aggregates their messages the way kube-apiserver does: one
 * distinct message is reported as itself, several as {@code [first, second]}.
 */
public final class UnreadableValueException extends TransformException {

  private final List<String> messages;
  private final List<String> attemptedPrefixes;
  private final List<String> attemptedProviderPrefixes;

  /**
   * {@code failures} become the cause (the first) and suppressed exceptions (the rest) for stack
   * traces.
   */
  UnreadableValueException(
      List<String> messages,
      List<String> attemptedPrefixes,
      List<String> attemptedProviderPrefixes,
      List<TransformException> failures) {
    super(aggregate(messages));
    this.messages = List.copyOf(messages);
    this.attemptedPrefixes = List.copyOf(attemptedPrefixes);
    this.attemptedProviderPrefixes = List.copyOf(attemptedProviderPrefixes);
    for (int i = 0; i < failures.size(); i++) {
      if (i == 0) {
        initCause(failures.get(0));
      } else {
        addSuppressed(failures.get(i));
      }
    }
  }

  static UnreadableValueException noMatch(String message) {
    return new UnreadableValueException(List.of(message), List.of(), List.of(), List.of());
  }

  /**
   * True when no entry's prefix matched the value, so nothing was even tried (metric label {@code
   * unknown}).
   */
  public boolean noPrefixMatched() {
    return attemptedPrefixes.isEmpty();
  }

  /** Full prefixes (across nested levels) of the entries that matched and failed, in walk order. */
  public List<String> attemptedPrefixes() {
    return attemptedPrefixes;
  }

  /**
   * Outermost-level prefixes of the entries that matched and failed ({@code transformer_prefix}
   * labels).
   */
  public List<String> attemptedProviderPrefixes() {
    return attemptedProviderPrefixes;
  }

  /**
   * The individual failure messages, nested chains flattened, as upstream's error aggregate visits
   * them.
   */
  List<String> messages() {
    return messages;
  }

  private static String aggregate(List<String> messages) {
    List<String> distinct = new ArrayList<>(new LinkedHashSet<>(messages));
    return distinct.size() == 1 ? distinct.get(0) : "[" + String.join(", ", distinct) + "]";
  }
}
