package io.etcdcrypt.config;

import java.util.List;

/**
 * What {@link EncryptionConfiguration#providersFor} found for a group-resource.
 *
 * @param configName the rule that matched, in configuration spelling: {@code secrets}, {@code
 *     *.apps}, {@code *.*}
 * @param providers the providers in order; for a resource listed explicitly in several rules, the
 *     providers of all those rules concatenated in file order (as kube-apiserver does)
 */
public record ResolvedRule(String configName, List<ProviderConfig> providers) {

  public ResolvedRule {
    providers = List.copyOf(providers);
  }
}
