package io.etcdcrypt.ops;

import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.GroupResource;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.config.ResourceRule;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Refuses a {@code --resources} name that neither the configuration nor kube-apiserver's built-in
 * resource table knows: a typo ({@code sekrets}) would otherwise select an empty key range and the
 * tool would report that all is well.
 */
public final class ResourceNameCheck {

  private static final int SUGGESTIONS = 3;

  private ResourceNameCheck() {}

  /**
   * @throws IllegalArgumentException naming the first unknown name and the nearest known ones
   */
  public static void check(
      List<String> names, EncryptionConfiguration config, ResourceResolver resolver) {
    Set<String> known = knownNames(config, resolver);
    Set<String> groups = new TreeSet<>();
    for (String k : known) {
      groups.add(GroupResource.parse(k).group());
    }
    for (String raw : names) {
      String name = raw.trim();
      GroupResource gr = GroupResource.parse(name);
      if (!isKnown(gr, known, groups)) {
        throw new IllegalArgumentException(unknown(name, known, groups, gr));
      }
    }
  }

  /**
   * A wildcard is known when its group is (any group with a dot may be a custom resource's); an
   * exact name when the configuration or the built-in table names it.
   */
  private static boolean isKnown(GroupResource gr, Set<String> known, Set<String> groups) {
    if (gr.isWildcard() || gr.group().equals("*")) {
      return gr.group().equals("*") || gr.group().contains(".") || groups.contains(gr.group());
    }
    return known.contains(gr.configName());
  }

  private static String unknown(
      String name, Set<String> known, Set<String> groups, GroupResource gr) {
    Set<String> candidates =
        gr.isWildcard()
            ? groups.stream()
                .filter(g -> !g.isEmpty())
                .map(g -> "*." + g)
                .collect(Collectors.toCollection(TreeSet::new))
            : known;
    List<String> nearest = nearest(name, candidates);
    return "--resources: \""
        + name
        + "\" is neither named in the configuration nor a built-in kube resource"
        + (nearest.isEmpty() ? "" : "; did you mean " + String.join(", ", nearest) + "?")
        + " (leave --resources out to cover every resource)";
  }

  /** The configuration's resource names and the built-in table's, as configurations spell them. */
  static Set<String> knownNames(EncryptionConfiguration config, ResourceResolver resolver) {
    Set<String> known = new TreeSet<>();
    for (ResourceRule rule : config.rules()) {
      for (String r : rule.resources()) {
        GroupResource gr = GroupResource.parse(r.trim());
        if (!gr.isWildcard() && !gr.group().equals("*")) {
          known.add(gr.configName());
        }
      }
    }
    resolver.knownResources().forEach(gr -> known.add(gr.configName()));
    return known;
  }

  /** Up to three known names within a few edits of {@code name}, nearest first. */
  static List<String> nearest(String name, Set<String> known) {
    int limit = Math.max(2, name.length() / 3);
    return known.stream()
        .map(k -> new Candidate(k, distance(name, k)))
        .filter(c -> c.distance() <= limit)
        .sorted(Comparator.comparingInt(Candidate::distance))
        .limit(SUGGESTIONS)
        .map(Candidate::name)
        .toList();
  }

  private record Candidate(String name, int distance) {}

  /** Levenshtein distance: insertions, deletions and substitutions. */
  static int distance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitute = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitute, Math.min(previous[j], current[j - 1]) + 1);
      }
      int[] t = previous;
      previous = current;
      current = t;
    }
    return previous[b.length()];
  }
}
