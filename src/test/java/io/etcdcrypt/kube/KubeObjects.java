package io.etcdcrypt.kube;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.KubeTestBed;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.NonNamespaceOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The kinds the kube-apiserver tests write through the API, one per way {@link
 * KubeTestBed#ALL_PROVIDERS} stores them, handled alike through fabric8's generic client: each
 * object carries its test value in the annotation {@code value}, which kube-apiserver stores inside
 * the object. Plus byte helpers for what etcd stores.
 */
final class KubeObjects {

  /** kube-apiserver's protobuf envelope, its storage format for built-in types. */
  static final byte[] K8S_PROTOBUF = {'k', '8', 's', 0};

  /** The group of the CRDs the CRD kind creates (never one whose objects a test writes). */
  private static final String CRD_GROUP = "crds.example.com";

  enum Kind {
    /** KMS v2 through the bundled plugin. */
    SECRET("", "v1", "secrets", "Secret", "/registry/secrets/", KubeTestBed.KMS_PREFIX),
    /** aesgcm. */
    CONFIGMAP("", "v1", "configmaps", "ConfigMap", "/registry/configmaps/", KubeTestBed.GCM_PREFIX),
    /** aescbc. */
    PODTEMPLATE(
        "", "v1", "podtemplates", "PodTemplate", "/registry/podtemplates/", KubeTestBed.CBC_PREFIX),
    /** A custom resource, secretbox. */
    WIDGET(
        "example.com",
        "v1",
        "widgets",
        "Widget",
        "/registry/example.com/widgets/",
        KubeTestBed.BOX_PREFIX),
    /**
     * CustomResourceDefinitions themselves: no rule, stored as kube-apiserver writes them
     * (cluster-scoped).
     */
    CRD(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        "/registry/apiextensions.k8s.io/customresourcedefinitions/",
        null);

    final ResourceDefinitionContext context;
    private final String keyPrefix;

    /** The prefix etcd stores its objects under; null: not encrypted. */
    final String storedPrefix;

    Kind(
        String group,
        String version,
        String plural,
        String kind,
        String keyPrefix,
        String storedPrefix) {
      this.context =
          new ResourceDefinitionContext.Builder()
              .withGroup(group)
              .withVersion(version)
              .withPlural(plural)
              .withKind(kind)
              .withNamespaced(!kind.equals("CustomResourceDefinition"))
              .build();
      this.keyPrefix = keyPrefix;
      this.storedPrefix = storedPrefix;
    }

    boolean namespaced() {
      return context.isNamespaceScoped();
    }

    /**
     * An object name for {@code base} ({@code o-03}); a CRD's name must be {@code
     * <plural>.<group>}.
     */
    String name(String base) {
      return this == CRD ? base + "s." + CRD_GROUP : base;
    }

    /** The etcd key of object {@code name} ({@code ns} is ignored for a cluster-scoped kind). */
    String key(String ns, String name) {
      return keyPrefix + (namespaced() ? ns + "/" : "") + name;
    }

    /** A new object named {@code name} holding {@code value}. */
    GenericKubernetesResource object(String name, String value) {
      GenericKubernetesResourceBuilder b =
          new GenericKubernetesResourceBuilder()
              .withApiVersion(
                  context.getGroup().isEmpty()
                      ? "v1"
                      : context.getGroup() + "/" + context.getVersion())
              .withKind(context.getKind())
              .withNewMetadata()
              .withName(name)
              .addToAnnotations("value", value)
              .endMetadata();
      switch (this) {
        case PODTEMPLATE ->
            b.addToAdditionalProperties(
                "template",
                Map.of(
                    "spec",
                    Map.of(
                        "containers",
                        List.of(Map.of("name", "c", "image", "registry.example/app:1")))));
        case WIDGET -> b.addToAdditionalProperties("spec", Map.of("size", 3));
        case CRD -> {
          String plural = name.substring(0, name.indexOf('.'));
          b.addToAdditionalProperties(
              "spec", crdSpec(CRD_GROUP, plural, "T" + plural.replace("-", "")));
        }
        default -> {}
      }
      return b.build();
    }
  }

  private final KubernetesClient k;

  KubeObjects(KubernetesClient k) {
    this.k = k;
  }

  /**
   * The client for {@code kind}'s objects in {@code ns} (all of them, for a cluster-scoped kind).
   */
  NonNamespaceOperation<
          GenericKubernetesResource,
          GenericKubernetesResourceList,
          Resource<GenericKubernetesResource>>
      in(Kind kind, String ns) {
    var all = k.genericKubernetesResources(kind.context);
    return kind.namespaced() ? all.inNamespace(ns) : all;
  }

  void createNamespace(String ns) {
    k.namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
        .create();
  }

  /** Creates the Widget CRD and waits until its objects are served. */
  void createWidgetDefinition() {
    k.genericKubernetesResources(Kind.CRD.context).resource(widgetDefinition()).create();
    k.genericKubernetesResources(Kind.CRD.context)
        .withName("widgets.example.com")
        .waitUntilCondition(KubeObjects::established, 60, TimeUnit.SECONDS);
    awaitWidgetsServed();
  }

  private static GenericKubernetesResource widgetDefinition() {
    return new GenericKubernetesResourceBuilder()
        .withApiVersion("apiextensions.k8s.io/v1")
        .withKind("CustomResourceDefinition")
        .withNewMetadata()
        .withName("widgets.example.com")
        .endMetadata()
        .addToAdditionalProperties("spec", crdSpec("example.com", "widgets", "Widget"))
        .build();
  }

  /** The spec of a namespaced CRD with one version, v1, that keeps any field. */
  private static Map<String, Object> crdSpec(String group, String plural, String kind) {
    return Map.of(
        "group",
        group,
        "scope",
        "Namespaced",
        "names",
        Map.of("plural", plural, "kind", kind),
        "versions",
        List.of(
            Map.of(
                "name",
                "v1",
                "served",
                true,
                "storage",
                true,
                "schema",
                Map.of(
                    "openAPIV3Schema",
                    Map.of("type", "object", "x-kubernetes-preserve-unknown-fields", true)))));
  }

  @SuppressWarnings("unchecked")
  static boolean established(GenericKubernetesResource crd) {
    if (crd == null || !(crd.getAdditionalProperties().get("status") instanceof Map<?, ?> status)) {
      return false;
    }
    Object conditions = status.get("conditions");
    return conditions instanceof List<?> list
        && list.stream()
            .map(c -> (Map<String, Object>) c)
            .anyMatch(c -> "Established".equals(c.get("type")) && "True".equals(c.get("status")));
  }

  /** Waits until this API server serves Widgets (after a restart it loads the CRD first). */
  void awaitWidgetsServed() {
    Await.until(
        "widgets served",
        Duration.ofSeconds(60),
        () -> {
          try {
            k.genericKubernetesResources(Kind.WIDGET.context).inNamespace("default").list();
            return true;
          } catch (RuntimeException notYet) {
            return false;
          }
        });
  }

  /** Creates an object of {@code kind} named {@code name} holding {@code value}. */
  void create(Kind kind, String ns, String name, String value) {
    in(kind, ns).resource(kind.object(name, value)).create();
  }

  /** The value the object holds, read through the API; null when the object does not exist. */
  String read(Kind kind, String ns, String name) {
    return value(in(kind, ns).withName(name).get());
  }

  static String value(GenericKubernetesResource r) {
    return r == null || r.getMetadata().getAnnotations() == null
        ? null
        : r.getMetadata().getAnnotations().get("value");
  }

  static String secretValue(Secret s, String key) {
    String b64 = s == null || s.getData() == null ? null : s.getData().get(key);
    return b64 == null ? null : new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
  }

  static boolean startsWith(byte[] b, String prefix) {
    return b != null
        && new String(b, 0, Math.min(b.length, prefix.length()), StandardCharsets.ISO_8859_1)
            .equals(prefix);
  }

  static boolean startsWith(byte[] b, byte[] prefix) {
    if (b == null || b.length < prefix.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (b[i] != prefix[i]) {
        return false;
      }
    }
    return true;
  }

  static boolean contains(byte[] b, String s) {
    return b != null && new String(b, StandardCharsets.ISO_8859_1).contains(s);
  }

  /** The first bytes of a stored value, printable. */
  static String head(byte[] b) {
    return b == null
        ? "(absent)"
        : Pattern.compile("[^\\x20-\\x7e]")
            .matcher(new String(b, 0, Math.min(b.length, 48), StandardCharsets.ISO_8859_1))
            .replaceAll("?");
  }

  static void assertStoredUnder(byte[] stored, String prefix) {
    assertTrue(
        startsWith(stored, prefix), "expected " + prefix + "..., etcd holds " + head(stored));
  }
}
