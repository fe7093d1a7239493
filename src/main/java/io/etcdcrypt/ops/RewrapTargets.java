package io.etcdcrypt.ops;

import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.GroupResource;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.config.ResolvedRule;
import io.etcdcrypt.config.ResourceRule;
import java.util.List;
import java.util.TreeSet;

/**
 * What every configured resource is written with now, by name only: {@code secrets=aesgcm:key2},
 * {@code *.apps=kms:v2:vault}, {@code configmaps=identity}. Saved rewrap progress is only valid for
 * the same targets.
 */
public final class RewrapTargets {

  private RewrapTargets() {}

  public static List<String> of(EncryptionConfiguration config) {
    TreeSet<String> out = new TreeSet<>();
    for (ResourceRule rule : config.rules()) {
      for (String resource : rule.resources()) {
        config
            .providersFor(GroupResource.parse(resource))
            .map(ResolvedRule::providers)
            .filter(p -> !p.isEmpty())
            .ifPresent(p -> out.add(resource + "=" + describe(p.get(0))));
      }
    }
    return List.copyOf(out);
  }

  private static String describe(ProviderConfig p) {
    if (p instanceof ProviderConfig.AesCbc c) {
      return c.describe() + ":" + c.keys().get(0).name();
    }
    if (p instanceof ProviderConfig.AesGcm g) {
      return g.describe() + ":" + g.keys().get(0).name();
    }
    if (p instanceof ProviderConfig.Secretbox s) {
      return s.describe() + ":" + s.keys().get(0).name();
    }
    return p.describe();
  }
}
