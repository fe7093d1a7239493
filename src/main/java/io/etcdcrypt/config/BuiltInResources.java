package io.etcdcrypt.config;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Where kube-apiserver stores its built-in resources, relative to the etcd prefix. Built-ins are
 * keyed {@code <path>/<namespace>/<name>} or {@code <path>/<name>} where {@code <path>} is the
 * lower-case resource name without its group, or an override from {@code
 * SpecialDefaultResourcePrefixes}; since the group is not in the key, this table is the only way
 * back from a key to a group-resource. Sources: encryption-format.md §6 ({@code
 * test/integration/etcd/data.go}), kube-apiserver's storage factory and its non-REST storage.
 *
 * <p>API groups served by kube-aggregator and apiextensions-apiserver (including every custom
 * resource) are stored as {@code <group>/<resource>/...}; they need no entry because their first
 * path segment contains a dot.
 */
final class BuiltInResources {

  /**
   * One storage location.
   *
   * @param path the key path after the etcd prefix, without a trailing slash; object names follow
   *     {@code path + "/"}
   * @param resource the group-resource whose transformer kube-apiserver uses for values there
   */
  record Location(String path, GroupResource resource) {}

  /**
   * First path segments that kube-apiserver writes through its raw storage factory, which carries
   * no transformer (encryption is applied only on the REST storage path): the service IP and node
   * port allocator bitmaps ({@code ranges/serviceips}, {@code ranges/secondaryserviceips}, {@code
   * ranges/servicenodeports}), the lease endpoint reconcilers' {@code masterleases/<ip>} and {@code
   * peerserverleases/<id>}, and the {@code health} key its etcd health check reads. Their values
   * are plaintext whatever the configuration says, so they must never be resolved to a resource
   * (not even by the unknown-segment rule of {@link ResourceResolver}).
   */
  static final List<String> RAW_STORAGE_SEGMENTS =
      List.of("health", "ranges", "masterleases", "peerserverleases");

  private static final String CORE = "";

  static final List<Location> LOCATIONS =
      List.of(
          // core
          at("configmaps", CORE, "configmaps"),
          at("services/specs", CORE, "services"),
          at("podtemplates", CORE, "podtemplates"),
          at("pods", CORE, "pods"),
          at("services/endpoints", CORE, "endpoints"),
          at("resourcequotas", CORE, "resourcequotas"),
          at("limitranges", CORE, "limitranges"),
          at("namespaces", CORE, "namespaces"),
          at("minions", CORE, "nodes"),
          at("persistentvolumes", CORE, "persistentvolumes"),
          at("events", CORE, "events"), // events.k8s.io events share this storage
          at("persistentvolumeclaims", CORE, "persistentvolumeclaims"),
          at("serviceaccounts", CORE, "serviceaccounts"),
          at("secrets", CORE, "secrets"),
          at("controllers", CORE, "replicationcontrollers"),
          // apps
          at("daemonsets", "apps", "daemonsets"),
          at("deployments", "apps", "deployments"),
          at("statefulsets", "apps", "statefulsets"),
          at("replicasets", "apps", "replicasets"),
          at("controllerrevisions", "apps", "controllerrevisions"),
          at("horizontalpodautoscalers", "autoscaling", "horizontalpodautoscalers"),
          at("jobs", "batch", "jobs"),
          at("cronjobs", "batch", "cronjobs"),
          at("certificatesigningrequests", "certificates.k8s.io", "certificatesigningrequests"),
          at("clustertrustbundles", "certificates.k8s.io", "clustertrustbundles"),
          at("podcertificaterequests", "certificates.k8s.io", "podcertificaterequests"),
          at("leases", "coordination.k8s.io", "leases"),
          at("leasecandidates", "coordination.k8s.io", "leasecandidates"),
          at("endpointslices", "discovery.k8s.io", "endpointslices"),
          at("ingress", "networking.k8s.io", "ingresses"),
          at("ingressclasses", "networking.k8s.io", "ingressclasses"),
          at("networkpolicies", "networking.k8s.io", "networkpolicies"),
          at("ipaddresses", "networking.k8s.io", "ipaddresses"),
          at("servicecidrs", "networking.k8s.io", "servicecidrs"),
          at("poddisruptionbudgets", "policy", "poddisruptionbudgets"),
          at(
              "podsecuritypolicy",
              "policy",
              "podsecuritypolicies"), // removed in 1.25; old data may remain
          at("storageversionmigrations", "storagemigration.k8s.io", "storageversionmigrations"),
          at("flowschemas", "flowcontrol.apiserver.k8s.io", "flowschemas"),
          at(
              "prioritylevelconfigurations",
              "flowcontrol.apiserver.k8s.io",
              "prioritylevelconfigurations"),
          at("volumeattachments", "storage.k8s.io", "volumeattachments"),
          at("volumeattributesclasses", "storage.k8s.io", "volumeattributesclasses"),
          at("storageclasses", "storage.k8s.io", "storageclasses"),
          at("csistoragecapacities", "storage.k8s.io", "csistoragecapacities"),
          at("csinodes", "storage.k8s.io", "csinodes"),
          at("csidrivers", "storage.k8s.io", "csidrivers"),
          at("roles", "rbac.authorization.k8s.io", "roles"),
          at("clusterroles", "rbac.authorization.k8s.io", "clusterroles"),
          at("rolebindings", "rbac.authorization.k8s.io", "rolebindings"),
          at("clusterrolebindings", "rbac.authorization.k8s.io", "clusterrolebindings"),
          at(
              "validatingwebhookconfigurations",
              "admissionregistration.k8s.io",
              "validatingwebhookconfigurations"),
          at(
              "mutatingwebhookconfigurations",
              "admissionregistration.k8s.io",
              "mutatingwebhookconfigurations"),
          at(
              "validatingadmissionpolicies",
              "admissionregistration.k8s.io",
              "validatingadmissionpolicies"),
          at(
              "validatingadmissionpolicybindings",
              "admissionregistration.k8s.io",
              "validatingadmissionpolicybindings"),
          at(
              "mutatingadmissionpolicies",
              "admissionregistration.k8s.io",
              "mutatingadmissionpolicies"),
          at(
              "mutatingadmissionpolicybindings",
              "admissionregistration.k8s.io",
              "mutatingadmissionpolicybindings"),
          at("priorityclasses", "scheduling.k8s.io", "priorityclasses"),
          at("workloads", "scheduling.k8s.io", "workloads"),
          at("podgroups", "scheduling.k8s.io", "podgroups"),
          at("runtimeclasses", "node.k8s.io", "runtimeclasses"),
          at("deviceclasses", "resource.k8s.io", "deviceclasses"),
          at("resourceclaims", "resource.k8s.io", "resourceclaims"),
          at("resourceclaimtemplates", "resource.k8s.io", "resourceclaimtemplates"),
          at("resourceslices", "resource.k8s.io", "resourceslices"),
          at("devicetaintrules", "resource.k8s.io", "devicetaintrules"),
          at("resourcepoolstatusrequests", "resource.k8s.io", "resourcepoolstatusrequests"),
          at("storageversions", "internal.apiserver.k8s.io", "storageversions"),
          // Alpha resources of earlier releases, since removed; a cluster upgraded past them may
          // still hold their keys.
          at("clustercidrs", "networking.k8s.io", "clustercidrs"),
          at("podschedulings", "resource.k8s.io", "podschedulings"),
          at("podschedulingcontexts", "resource.k8s.io", "podschedulingcontexts"),
          at("resourceclasses", "resource.k8s.io", "resourceclasses"),
          at("resourceclaimparameters", "resource.k8s.io", "resourceclaimparameters"),
          at("resourceclassparameters", "resource.k8s.io", "resourceclassparameters"));

  /** Groups whose resources kube-apiserver itself stores with the group-less layout. */
  static final Set<String> BUILT_IN_GROUPS;

  static {
    Set<String> groups = new LinkedHashSet<>();
    for (Location l : LOCATIONS) {
      groups.add(l.resource().group());
    }
    BUILT_IN_GROUPS = Set.copyOf(groups);
  }

  private BuiltInResources() {}

  /** True if kube-apiserver stores {@code gr} in one of {@link #LOCATIONS}. */
  static boolean contains(GroupResource gr) {
    for (Location l : LOCATIONS) {
      if (l.resource().equals(gr)) {
        return true;
      }
    }
    return false;
  }

  private static Location at(String path, String group, String resource) {
    return new Location(path, new GroupResource(group, resource));
  }
}
