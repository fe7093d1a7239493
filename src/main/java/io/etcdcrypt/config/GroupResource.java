package io.etcdcrypt.config;

import java.util.Objects;

/**
 * A Kubernetes API group and resource, the unit an EncryptionConfiguration rule names. The core
 * group is the empty string; {@code "*"} in either part is a wildcard and only ever comes from a
 * configuration rule.
 */
public record GroupResource(String group, String resource) {

  /** The core-group wildcard, written {@code *.} in a configuration. */
  public static final GroupResource ANY_CORE = new GroupResource("", "*");

  /** Every resource of every group, written {@code *.*} in a configuration. */
  public static final GroupResource ANY = new GroupResource("*", "*");

  public GroupResource {
    Objects.requireNonNull(group, "group");
    Objects.requireNonNull(resource, "resource");
  }

  /**
   * Parses a configuration string the way kube-apiserver does: split at the <em>first</em> dot,
   * left is the resource, right is the group; no dot means the core group. {@code deployments.apps}
   * is {apps, deployments}, {@code pandas.awesome.bears.example} is {awesome.bears.example,
   * pandas}, {@code *.} is the core wildcard.
   */
  public static GroupResource parse(String configName) {
    int dot = configName.indexOf('.');
    if (dot < 0) {
      return new GroupResource("", configName);
    }
    return new GroupResource(configName.substring(dot + 1), configName.substring(0, dot));
  }

  /**
   * The string a configuration would use for this group-resource: {@code secrets}, {@code
   * deployments.apps}, {@code *.apps}, {@code *.*}, and {@code *.} for the core wildcard (a bare
   * {@code *} is not valid in a config).
   */
  public String configName() {
    if (group.isEmpty()) {
      return resource.equals("*") ? "*." : resource;
    }
    return resource + "." + group;
  }

  /** True for {@code *.group} and {@code *.*}. */
  public boolean isWildcard() {
    return resource.equals("*");
  }
}
