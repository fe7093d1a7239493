package io.etcdcrypt.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A validated EncryptionConfiguration, immutable. Built by {@link EncryptionConfigLoader}.
 *
 * <p>{@link #providersFor} answers the question kube-apiserver asks for every storage access: which
 * providers apply to this group-resource.
 */
public final class EncryptionConfiguration {

  private final List<ResourceRule> rules;
  private final String sha256;
  private final List<ConfigError> warnings;
  private final Map<GroupResource, ResolvedRule> byResource;

  /** The {@code *.<group>} rules by group, so that the lookup builds no key object. */
  private final Map<String, ResolvedRule> byGroupWildcard;

  EncryptionConfiguration(List<ResourceRule> rules, String sha256, List<ConfigError> warnings) {
    this.rules = List.copyOf(rules);
    this.sha256 = sha256;
    this.warnings = List.copyOf(warnings);
    this.byResource = index(this.rules);
    Map<String, ResolvedRule> wildcards = new HashMap<>();
    byResource.forEach(
        (gr, rule) -> {
          if (gr.isWildcard()) {
            wildcards.put(gr.group(), rule);
          }
        });
    this.byGroupWildcard = Map.copyOf(wildcards);
  }

  /** The top-level {@code resources:} entries in file order. */
  public List<ResourceRule> rules() {
    return rules;
  }

  /**
   * {@code sha256:<hex>} of the raw file bytes, the digest kube-apiserver compares to notice that
   * the file changed (automatic reload). Use it to detect changes, not to identify the file to
   * people: it is a digest of key material.
   */
  public String sha256() {
    return sha256;
  }

  /**
   * Things kube-apiserver accepts but that probably do not do what the author meant, such as a rule
   * for a resource whose storage location this proxy does not know. Empty for a clean file.
   */
  public List<ConfigError> warnings() {
    return warnings;
  }

  /**
   * kube-apiserver's lookup: the exact {@code {group, resource}}, else {@code {group, "*"}}, else
   * {@code {"*", "*"}}; empty if no rule applies (the resource is not configured: values pass
   * through as plaintext, and values that look encrypted must be refused).
   */
  public Optional<ResolvedRule> providersFor(GroupResource gr) {
    ResolvedRule exact = byResource.get(gr);
    if (exact != null) {
      return Optional.of(exact);
    }
    ResolvedRule group = byGroupWildcard.get(gr.group());
    if (group != null) {
      return Optional.of(group);
    }
    return Optional.ofNullable(byGroupWildcard.get("*"));
  }

  @Override
  public String toString() {
    return "EncryptionConfiguration[" + sha256 + ", " + rules.size() + " rules]";
  }

  /**
   * Every group-resource named by some rule, with the providers of all rules naming it concatenated
   * in file order. The loader has already rejected rules masked by an earlier wildcard, so no
   * wildcard is concatenated.
   */
  private static Map<GroupResource, ResolvedRule> index(List<ResourceRule> rules) {
    Map<GroupResource, List<ProviderConfig>> providers = new LinkedHashMap<>();
    for (ResourceRule rule : rules) {
      for (String resource : rule.resources()) {
        providers
            .computeIfAbsent(GroupResource.parse(resource), k -> new ArrayList<>())
            .addAll(rule.providers());
      }
    }
    Map<GroupResource, ResolvedRule> resolved = new LinkedHashMap<>();
    providers.forEach((gr, list) -> resolved.put(gr, new ResolvedRule(gr.configName(), list)));
    return Map.copyOf(resolved);
  }
}
