package io.etcdcrypt.kube;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.testing.Await;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PodTemplate;
import io.fabric8.kubernetes.api.model.PodTemplateBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The objects the kube-apiserver tests write and read back, one of each kind the test configuration encrypts
 * differently, each carrying one string value: Secret (KMS v2), ConfigMap (aesgcm), PodTemplate (aescbc) and the
 * custom resource Widget (secretbox). Plus byte helpers for what etcd stores.
 */
final class KubeObjects {

  static final ResourceDefinitionContext WIDGETS = new ResourceDefinitionContext.Builder()
      .withGroup("example.com").withVersion("v1").withPlural("widgets").withKind("Widget").withNamespaced(true)
      .build();

  /** kube-apiserver's protobuf envelope, its storage format for built-in types. */
  static final byte[] K8S_PROTOBUF = {'k', '8', 's', 0};

  /** The kinds, with the etcd key each object of that kind is stored under. */
  enum Kind {
    SECRET("/registry/secrets/"),
    CONFIGMAP("/registry/configmaps/"),
    PODTEMPLATE("/registry/podtemplates/"),
    WIDGET("/registry/example.com/widgets/");

    private final String keyPrefix;

    Kind(String keyPrefix) {
      this.keyPrefix = keyPrefix;
    }

    String key(String ns, String name) {
      return keyPrefix + ns + "/" + name;
    }
  }

  private final KubernetesClient k;

  KubeObjects(KubernetesClient k) {
    this.k = k;
  }

  void createNamespace(String ns) {
    k.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
  }

  /** Creates the Widget CRD and waits until its objects are served. */
  void createWidgetDefinition() {
    k.apiextensions().v1().customResourceDefinitions().resource(new CustomResourceDefinitionBuilder()
        .withNewMetadata().withName("widgets.example.com").endMetadata()
        .withNewSpec().withGroup("example.com").withScope("Namespaced")
        .withNewNames().withPlural("widgets").withSingular("widget").withKind("Widget").endNames()
        .addNewVersion().withName("v1").withServed(true).withStorage(true)
        .withNewSchema().withNewOpenAPIV3Schema().withType("object").withXKubernetesPreserveUnknownFields(true)
        .endOpenAPIV3Schema().endSchema().endVersion()
        .endSpec().build()).create();
    k.apiextensions().v1().customResourceDefinitions().withName("widgets.example.com").waitUntilCondition(
        c -> c != null && c.getStatus() != null && c.getStatus().getConditions().stream()
            .anyMatch(cond -> "Established".equals(cond.getType()) && "True".equals(cond.getStatus())),
        60, TimeUnit.SECONDS);
    // Serving a new CRD's objects takes a moment after Established (discovery, handlers).
    awaitWidgetsServed();
  }

  /** Waits until this API server serves Widgets (after a restart it loads the CRD first). */
  void awaitWidgetsServed() {
    Await.until("widgets served", Duration.ofSeconds(60), () -> {
      try {
        k.genericKubernetesResources(WIDGETS).inNamespace("default").list();
        return true;
      } catch (RuntimeException notYet) {
        return false;
      }
    });
  }

  /** Creates an object of {@code kind} named {@code name} holding {@code value}. */
  void create(Kind kind, String ns, String name, String value) {
    switch (kind) {
      case SECRET -> k.secrets().inNamespace(ns).resource(new SecretBuilder().withNewMetadata().withName(name)
          .endMetadata().addToStringData("value", value).build()).create();
      case CONFIGMAP -> k.configMaps().inNamespace(ns).resource(new ConfigMapBuilder().withNewMetadata()
          .withName(name).endMetadata().addToData("value", value).build()).create();
      case PODTEMPLATE -> k.resources(PodTemplate.class).inNamespace(ns).resource(new PodTemplateBuilder()
          .withNewMetadata().withName(name).addToAnnotations("value", value).endMetadata()
          .withNewTemplate().withNewSpec().addNewContainer().withName("c").withImage("registry.example/app:1")
          .endContainer().endSpec().endTemplate().build()).create();
      case WIDGET -> k.genericKubernetesResources(WIDGETS).inNamespace(ns).resource(
          new GenericKubernetesResourceBuilder().withApiVersion("example.com/v1").withKind("Widget")
              .withNewMetadata().withName(name).endMetadata()
              .addToAdditionalProperties("spec", Map.of("value", value)).build()).create();
      default -> throw new IllegalArgumentException(kind.toString());
    }
  }

  /** The value the object holds, read through the API; null when the object does not exist. */
  String read(Kind kind, String ns, String name) {
    switch (kind) {
      case SECRET:
        return secretValue(k.secrets().inNamespace(ns).withName(name).get(), "value");
      case CONFIGMAP:
        var cm = k.configMaps().inNamespace(ns).withName(name).get();
        return cm == null ? null : cm.getData().get("value");
      case PODTEMPLATE:
        var pt = k.resources(PodTemplate.class).inNamespace(ns).withName(name).get();
        return pt == null ? null : pt.getMetadata().getAnnotations().get("value");
      case WIDGET:
        GenericKubernetesResource w = k.genericKubernetesResources(WIDGETS).inNamespace(ns).withName(name).get();
        if (w == null) {
          return null;
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> spec = (Map<String, Object>) w.getAdditionalProperties().get("spec");
        return (String) spec.get("value");
      default:
        throw new IllegalArgumentException(kind.toString());
    }
  }

  static String secretValue(Secret s, String key) {
    String b64 = s == null || s.getData() == null ? null : s.getData().get(key);
    return b64 == null ? null : new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
  }

  static boolean startsWith(byte[] b, String prefix) {
    return b != null && new String(b, 0, Math.min(b.length, prefix.length()), StandardCharsets.ISO_8859_1)
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
    return b == null ? "(absent)"
        : Pattern.compile("[^\\x20-\\x7e]").matcher(new String(b, 0, Math.min(b.length, 48),
            StandardCharsets.ISO_8859_1)).replaceAll("?");
  }

  static void assertStoredUnder(byte[] stored, String prefix) {
    assertTrue(startsWith(stored, prefix), "expected " + prefix + "..., etcd holds " + head(stored));
  }
}
