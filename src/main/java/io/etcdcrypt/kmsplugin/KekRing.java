package io.etcdcrypt.kmsplugin;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The KEKs a plugin knows at one moment: every one can unwrap, the current one (the newest) wraps.
 * Immutable; a store publishes a new ring when its keys change, which is how adding a KEK rotates
 * without a restart.
 */
public final class KekRing {

  /**
   * What a KEK id may look like: it is stored in every wrapped DEK and shown to kube-apiserver as
   * key_id.
   */
  public static final Pattern ID_PATTERN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  private final Map<String, Kek> byId;
  private final Kek current;

  /**
   * {@code keks} in age order, oldest first: the last one is current. Ids must be unique and valid.
   */
  public KekRing(List<Kek> keks) {
    if (keks.isEmpty()) {
      throw new IllegalArgumentException("no KEK: add at least one key (kms-plugin generate-key)");
    }
    Map<String, Kek> map = new LinkedHashMap<>();
    for (Kek k : keks) {
      if (!ID_PATTERN.matcher(k.id()).matches()) {
        throw new IllegalArgumentException(
            "KEK id '"
                + k.id()
                + "' is invalid: use 1-128 characters of"
                + " A-Z a-z 0-9 . _ - starting with a letter or digit");
      }
      if (map.put(k.id(), k) != null) {
        throw new IllegalArgumentException(
            "KEK id '" + k.id() + "' appears twice; ids must be unique");
      }
    }
    this.byId = Map.copyOf(map);
    this.current = keks.get(keks.size() - 1);
  }

  public Kek current() {
    return current;
  }

  /** The KEK with that id, or {@code null}. */
  public Kek get(String id) {
    return byId.get(id);
  }

  public java.util.Set<String> ids() {
    return byId.keySet();
  }

  @Override
  public String toString() {
    return "KekRing[current=" + current.id() + ", ids=" + byId.keySet() + "]";
  }
}
