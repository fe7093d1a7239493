package io.etcdcrypt.ops;

import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.GroupResource;
import io.etcdcrypt.config.ResourceResolver;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** Turns a {@code --resources} list into the key ranges to scan. */
public final class Scopes {

  private Scopes() {}

  /**
   * {@link #select(ResourceResolver, List)} after refusing names that neither {@code config} nor
   * the built-in resource table knows ({@link ResourceNameCheck}).
   */
  public static List<Scope> select(
      ResourceResolver resolver, EncryptionConfiguration config, List<String> resourceNames) {
    ResourceNameCheck.check(resourceNames, config, resolver);
    return select(resolver, resourceNames);
  }

  /**
   * No names: the whole {@code --etcd-prefix}, every resource (wildcard rules cannot be mapped to
   * key prefixes, so this is the only range that covers them). Exact names only: one range per
   * storage prefix of each resource (see {@link ResourceResolver#keyPrefixesFor}). Any wildcard
   * among them: the whole prefix, restricted to the names.
   *
   * @throws IllegalArgumentException for a name whose storage location is unknown, saying so
   */
  public static List<Scope> select(ResourceResolver resolver, List<String> resourceNames) {
    ResourceSelection selection = ResourceSelection.of(resourceNames);
    if (resourceNames.isEmpty()) {
      return List.of(Scope.ofPrefix(resolver.prefix(), selection));
    }
    boolean wildcard = false;
    Set<String> prefixes = new LinkedHashSet<>();
    for (String name : resourceNames) {
      GroupResource gr = GroupResource.parse(name.trim());
      if (gr.isWildcard() || gr.group().equals("*")) {
        wildcard = true;
        continue;
      }
      List<String> known;
      try {
        known = resolver.keyPrefixesFor(gr);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--resources: " + e.getMessage(), e);
      }
      if (known.isEmpty()) {
        throw new IllegalArgumentException(
            "--resources: the etcd key prefix of \""
                + name
                + "\" is not known (a"
                + " built-in resource of a non-core group this proxy has no table entry for, or a name that is raw"
                + " storage); leave --resources out to scan everything under "
                + resolver.prefix());
      }
      prefixes.addAll(known);
    }
    if (wildcard) {
      return List.of(Scope.ofPrefix(resolver.prefix(), selection));
    }
    List<Scope> scopes = new ArrayList<>();
    for (String p : prefixes) {
      scopes.add(Scope.ofPrefix(p, selection));
    }
    return List.copyOf(scopes);
  }
}
