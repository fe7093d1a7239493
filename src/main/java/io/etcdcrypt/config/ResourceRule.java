package io.etcdcrypt.config;

import java.util.List;

/**
 * One entry of the configuration's top-level {@code resources:} list: the resource strings exactly
 * as written and the ordered providers that apply to them (the first one encrypts, all of them are
 * tried for decryption).
 */
public record ResourceRule(List<String> resources, List<ProviderConfig> providers) {

  public ResourceRule {
    resources = List.copyOf(resources);
    providers = List.copyOf(providers);
  }
}
