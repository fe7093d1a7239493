package io.etcdcrypt.ops;

import io.etcdcrypt.config.GroupResource;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which resources an operation covers, by the names an EncryptionConfiguration uses: exact names
 * ({@code secrets}, {@code deployments.apps}) and wildcards ({@code *.apps}, {@code *.} for the
 * core group, {@code *.*}).
 */
public final class ResourceSelection {

  private static final ResourceSelection ALL = new ResourceSelection(Set.of(), true);

  private final Set<GroupResource> names;
  private final boolean all;

  private ResourceSelection(Set<GroupResource> names, boolean all) {
    this.names = names;
    this.all = all;
  }

  public static ResourceSelection all() {
    return ALL;
  }

  /** The resources named by {@code configNames}; an empty list selects every resource. */
  public static ResourceSelection of(List<String> configNames) {
    if (configNames.isEmpty()) {
      return ALL;
    }
    return new ResourceSelection(
        configNames.stream().map(GroupResource::parse).collect(Collectors.toUnmodifiableSet()),
        false);
  }

  /**
   * Whether the resource a census or rewrap inspection names ({@code secrets}, {@code
   * deployments.apps}) counts.
   */
  public boolean includes(String resourceConfigName) {
    if (all) {
      return true;
    }
    GroupResource gr = GroupResource.parse(resourceConfigName);
    return names.contains(gr)
        || names.contains(new GroupResource(gr.group(), "*"))
        || names.contains(GroupResource.ANY);
  }

  public boolean isAll() {
    return all;
  }

  @Override
  public String toString() {
    return all
        ? "all resources"
        : names.stream().map(GroupResource::configName).sorted().collect(Collectors.joining(","));
  }
}
