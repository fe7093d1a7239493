package io.etcdcrypt.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The rules kube-apiserver applies to the strings of one {@code resources:} list
 * (validation_encryption.go): each string on its own, then the list as a whole (duplicates,
 * overlapping wildcards).
 */
final class ResourceNameRules {

  /**
   * Objects kube-apiserver stores without a REST API; naming them in a config has no effect, so it
   * is refused.
   */
  private static final Set<String> NON_REST_RESOURCES =
      Set.of("apiserveripinfo", "serviceipallocations", "servicenodeportallocations");

  private ResourceNameRules() {}

  /** Checks each string of one list; at most one error per string, in kube-apiserver's order. */
  static void checkNames(List<String> resources, String listPath, Problems problems) {
    for (int j = 0; j < resources.size(); j++) {
      String res = resources.get(j);
      String p = YamlObject.index(listPath, j);
      if (!res.toLowerCase(Locale.ROOT).equals(res)) {
        problems.error(p, quote(res) + ": resource names must not contain capital letters");
        continue;
      }
      if (res.equals("*")) {
        problems.error(
            p,
            "\"*\" is not allowed: use \"*.\" for every resource of the core group,"
                + " or \"*.*\" for every resource of every group");
        continue;
      }
      if (NON_REST_RESOURCES.contains(res)) {
        problems.error(p, quote(res) + " has no REST API and cannot be encrypted");
        continue;
      }
      GroupResource gr = GroupResource.parse(res);
      if (gr.group().equals("events.k8s.io")) {
        problems.error(
            p,
            quote(res)
                + ": events.k8s.io events are stored as core events in etcd;"
                + " write \"events\" instead");
        continue;
      }
      if (gr.group().equals("extensions")) {
        problems.error(
            p,
            quote(res)
                + ": the extensions group has been removed and cannot be used for encryption");
        continue;
      }
      if (gr.group().equals("*") && !gr.resource().equals("*")) {
        problems.error(
            p,
            quote(res)
                + ": encrypting the same resource across all groups (\"resource.*\")"
                + " is not supported; name the group, or use \"*.*\"");
      }
    }
  }

  /**
   * Within one list, the same group-resource twice is an error, and so is a wildcard together with
   * anything else of its group (or {@code *.*} with anything at all), because the wildcard would
   * mask it.
   */
  static void checkOverlap(List<String> resources, String listPath, Problems problems) {
    if (resources.size() < 2) {
      return;
    }
    List<GroupResource> parsed = new ArrayList<>(resources.size());
    for (String r : resources) {
      parsed.add(GroupResource.parse(r));
    }
    boolean duplicate = false;
    boolean overlap = false;
    for (int i = 0; i < parsed.size(); i++) {
      for (int j = 0; j < parsed.size(); j++) {
        if (i == j) {
          continue;
        }
        GroupResource a = parsed.get(i);
        GroupResource b = parsed.get(j);
        duplicate |= a.equals(b);
        overlap |=
            a.equals(GroupResource.ANY)
                || a.group().equals(b.group()) && (a.isWildcard() || b.isWildcard());
      }
    }
    if (duplicate) {
      problems.error(listPath, "the same resource is listed more than once");
    }
    if (overlap) {
      problems.error(
          listPath,
          "a wildcard and other resources it covers (such as \"secrets\" and \"*.\")"
              + " may not share one list: the wildcard would mask them");
    }
  }

  private static String quote(String s) {
    return "\"" + s + "\"";
  }
}
