package io.etcdcrypt.kube;

import static io.etcdcrypt.kube.KubeObjects.K8S_PROTOBUF;
import static io.etcdcrypt.kube.KubeObjects.WIDGETS;
import static io.etcdcrypt.kube.KubeObjects.contains;
import static io.etcdcrypt.kube.KubeObjects.head;
import static io.etcdcrypt.kube.KubeObjects.secretValue;
import static io.etcdcrypt.kube.KubeObjects.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.KubeTestBed;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.ConfigMapList;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.ListOptions;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.PodTemplate;
import io.fabric8.kubernetes.api.model.PodTemplateBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.SecretList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A real kube-apiserver whose {@code --etcd-servers} is the proxy, driven through the Kubernetes API: every verb
 * kube-apiserver turns into etcd traffic (create, get, list with pages, update, patch, delete, watch from a
 * resourceVersion, watch-list with initial events) on Secrets (KMS v2), ConfigMaps (aesgcm), PodTemplates (aescbc),
 * a CustomResourceDefinition and its objects (secretbox). Each scenario checks what the API returns and what etcd
 * stores: configured resources in kube-apiserver's encrypted format (opened by the test's own decoder), the others
 * exactly as kube-apiserver writes them.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class KubeApiThroughProxyIT {

  @RegisterExtension static final KubeTestBed bed = KubeTestBed.withConfig(KubeTestBed.ALL_PROVIDERS);

  private static final String NS = "crud";
  private static KubernetesClient k;
  private static int logMark;

  @BeforeAll
  static void namespace() {
    k = bed.client();
    logMark = bed.apiserver().logLines();
    new KubeObjects(k).createNamespace(NS);
  }

  @AfterAll
  static void noStorageErrors() {
    List<String> errors = bed.apiserver().storageErrorsSince(logMark);
    assertTrue(errors.isEmpty(), "kube-apiserver logged storage errors:\n" + String.join("\n", errors));
  }

  @Test
  void secretsLiveThroughEveryVerbAndAreStoredUnderKmsV2() throws Exception {
    Secret created = k.secrets().inNamespace(NS).resource(new SecretBuilder()
        .withNewMetadata().withName("db").endMetadata()
        .addToStringData("password", "hunter2").build()).create();
    String key = "/registry/secrets/" + NS + "/db";

    assertEquals("hunter2", secretValue(k.secrets().inNamespace(NS).withName("db").get(), "password"));
    byte[] stored = bed.rawValue(key);
    assertTrue(startsWith(stored, KubeTestBed.KMS_PREFIX), "stored: " + head(stored));
    assertFalse(contains(stored, "hunter2"), "the password is readable in etcd");
    byte[] plain = bed.storedPlaintext(key);
    assertTrue(startsWith(plain, K8S_PROTOBUF), "kube-apiserver's protobuf inside: " + head(plain));
    assertTrue(contains(plain, "hunter2"));

    Secret updated = k.secrets().inNamespace(NS).resource(new SecretBuilder(created)
        .withStringData(Map.of("password", "correct horse")).build()).update();
    assertEquals("correct horse", secretValue(k.secrets().inNamespace(NS).withName("db").get(), "password"));
    assertTrue(Long.parseLong(updated.getMetadata().getResourceVersion())
        > Long.parseLong(created.getMetadata().getResourceVersion()));
    assertTrue(contains(bed.storedPlaintext(key), "correct horse"));

    k.secrets().inNamespace(NS).withName("db")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"stringData\":{\"user\":\"admin\"}}");
    Secret patched = k.secrets().inNamespace(NS).withName("db").get();
    assertEquals("admin", secretValue(patched, "user"));
    assertEquals("correct horse", secretValue(patched, "password"));
    assertTrue(startsWith(bed.rawValue(key), KubeTestBed.KMS_PREFIX));

    assertTrue(k.secrets().inNamespace(NS).withName("db").delete().size() == 1);
    assertNull(k.secrets().inNamespace(NS).withName("db").get());
    assertNull(bed.rawValue(key));
  }

  @Test
  void configMapsListInPagesWithContinueAndAreStoredUnderAesGcm() throws Exception {
    String ns = "pages";
    new KubeObjects(k).createNamespace(ns);
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 23; i++) {
      String name = String.format("cm-%02d", i);
      names.add(name);
      k.configMaps().inNamespace(ns).resource(new ConfigMapBuilder().withNewMetadata().withName(name).endMetadata()
          .addToData("index", Integer.toString(i)).build()).create();
    }

    List<String> seen = new ArrayList<>();
    String token = null;
    int pages = 0;
    do {
      ConfigMapList page = k.configMaps().inNamespace(ns)
          .list(new ListOptionsBuilder().withLimit(10L).withContinue(token).build());
      pages++;
      for (ConfigMap cm : page.getItems()) {
        seen.add(cm.getMetadata().getName());
        assertEquals(Integer.toString(Integer.parseInt(cm.getMetadata().getName().substring(3))),
            cm.getData().get("index"));
      }
      token = page.getMetadata().getContinue();
      if (token != null && !token.isEmpty()) {
        assertEquals(23 - seen.size(), page.getMetadata().getRemainingItemCount());
      }
    } while (token != null && !token.isEmpty());
    assertEquals(3, pages);
    assertEquals(names, seen);

    String key = "/registry/configmaps/" + ns + "/cm-07";
    assertTrue(startsWith(bed.rawValue(key), KubeTestBed.GCM_PREFIX), head(bed.rawValue(key)));
    byte[] plain = bed.storedPlaintext(key);
    assertTrue(startsWith(plain, K8S_PROTOBUF));
    assertTrue(contains(plain, "cm-07"));
  }

  @Test
  void podTemplatesAreStoredUnderAesCbc() throws Exception {
    PodTemplate pt = new PodTemplateBuilder().withNewMetadata().withName("tmpl").endMetadata()
        .withNewTemplate().withNewSpec().addNewContainer().withName("c").withImage("registry.example/app:1")
        .endContainer().endSpec().endTemplate().build();
    k.resources(PodTemplate.class).inNamespace(NS).resource(pt).create();
    assertEquals("registry.example/app:1", k.resources(PodTemplate.class).inNamespace(NS).withName("tmpl").get()
        .getTemplate().getSpec().getContainers().get(0).getImage());
    String key = "/registry/podtemplates/" + NS + "/tmpl";
    assertTrue(startsWith(bed.rawValue(key), KubeTestBed.CBC_PREFIX), head(bed.rawValue(key)));
    assertTrue(contains(bed.storedPlaintext(key), "registry.example/app:1"));
  }

  @Test
  void customResourcesAreStoredUnderSecretboxAndTheirDefinitionAsKubeWritesIt() throws Exception {
    new KubeObjects(k).createWidgetDefinition();
    GenericKubernetesResource w = new GenericKubernetesResourceBuilder()
        .withApiVersion("example.com/v1").withKind("Widget")
        .withNewMetadata().withName("w1").endMetadata()
        .addToAdditionalProperties("spec", Map.of("colour", "teal", "size", 3)).build();
    k.genericKubernetesResources(WIDGETS).inNamespace(NS).resource(w).create();

    GenericKubernetesResource got = k.genericKubernetesResources(WIDGETS).inNamespace(NS).withName("w1").get();
    assertEquals("teal", spec(got).get("colour"));
    String key = "/registry/example.com/widgets/" + NS + "/w1";
    assertTrue(startsWith(bed.rawValue(key), KubeTestBed.BOX_PREFIX), head(bed.rawValue(key)));
    String json = new String(bed.storedPlaintext(key), StandardCharsets.UTF_8);
    assertTrue(json.startsWith("{") && json.contains("\"colour\":\"teal\""), json);

    got.setAdditionalProperty("spec", Map.of("colour", "ochre", "size", 3));
    k.genericKubernetesResources(WIDGETS).inNamespace(NS).resource(got).update();
    k.genericKubernetesResources(WIDGETS).inNamespace(NS).withName("w1")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"size\":4}}");
    GenericKubernetesResource after = k.genericKubernetesResources(WIDGETS).inNamespace(NS).withName("w1").get();
    assertEquals("ochre", spec(after).get("colour"));
    assertEquals(4, ((Number) spec(after).get("size")).intValue());
    assertEquals(1, k.genericKubernetesResources(WIDGETS).inNamespace(NS).list().getItems().size());
    assertTrue(new String(bed.storedPlaintext(key), StandardCharsets.UTF_8).contains("\"size\":4"));

    // The definition itself is not a configured resource: stored exactly as kube-apiserver writes it.
    byte[] crdStored = bed.rawValue("/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com");
    assertNotNull(crdStored);
    assertFalse(startsWith(crdStored, "k8s:enc:"), head(crdStored));
    assertTrue(contains(crdStored, "widgets.example.com"));

    k.genericKubernetesResources(WIDGETS).inNamespace(NS).withName("w1").delete();
    Await.until("w1 deleted", Duration.ofSeconds(30), () -> bed.rawValue(key) == null);
  }

  @Test
  void resourcesWithoutARuleAreStoredAsKubeApiserverWritesThem() {
    byte[] ns = bed.rawValue("/registry/namespaces/" + NS);
    assertTrue(startsWith(ns, K8S_PROTOBUF), head(ns));
    byte[] svc = bed.rawValue("/registry/services/specs/default/kubernetes");
    assertTrue(startsWith(svc, K8S_PROTOBUF), head(svc));
  }

  @Test
  void watchFromAResourceVersionSeesEveryChangeInPlaintext() throws Exception {
    SecretList before = k.secrets().inNamespace(NS).list();
    BlockingQueue<String> events = new LinkedBlockingQueue<>();
    ListOptions from = new ListOptionsBuilder().withResourceVersion(before.getMetadata().getResourceVersion())
        .build();
    try (Watch ignored = k.secrets().inNamespace(NS).watch(from, recorder(events))) {
      k.secrets().inNamespace(NS).resource(new SecretBuilder().withNewMetadata().withName("w").endMetadata()
          .addToStringData("v", "one").build()).create();
      k.secrets().inNamespace(NS).withName("w")
          .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"stringData\":{\"v\":\"two\"}}");
      k.secrets().inNamespace(NS).withName("w").delete();
      assertEquals("ADDED w v=one", next(events));
      assertEquals("MODIFIED w v=two", next(events));
      assertEquals("DELETED w v=two", next(events));
    }
  }

  @Test
  void watchListSendsInitialEventsThenTheBookmarkThenChanges() throws Exception {
    String ns = "watchlist";
    new KubeObjects(k).createNamespace(ns);
    for (String name : List.of("a", "b", "c")) {
      k.secrets().inNamespace(ns).resource(new SecretBuilder().withNewMetadata().withName(name).endMetadata()
          .addToStringData("v", name + "-value").build()).create();
    }
    BlockingQueue<String> events = new LinkedBlockingQueue<>();
    ListOptions watchList = new ListOptionsBuilder().withSendInitialEvents(true)
        .withResourceVersionMatch("NotOlderThan").withAllowWatchBookmarks(true).build();
    try (Watch ignored = k.secrets().inNamespace(ns).watch(watchList, recorder(events))) {
      List<String> initial = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        initial.add(next(events));
      }
      initial.sort(null);
      assertEquals(List.of("ADDED a v=a-value", "ADDED b v=b-value", "ADDED c v=c-value"), initial);
      String bookmark = next(events);
      assertEquals("BOOKMARK initial-events-end", bookmark);
      k.secrets().inNamespace(ns).resource(new SecretBuilder().withNewMetadata().withName("d").endMetadata()
          .addToStringData("v", "d-value").build()).create();
      String next = next(events);
      while (next.startsWith("BOOKMARK")) {
        next = next(events);
      }
      assertEquals("ADDED d v=d-value", next);
    }
  }

  /** Records each event as {@code TYPE name v=<value of key v>}; a bookmark as {@code BOOKMARK <marker>}. */
  private static Watcher<Secret> recorder(BlockingQueue<String> events) {
    return new Watcher<>() {
      @Override
      public void eventReceived(Action action, Secret s) {
        if (action == Action.BOOKMARK) {
          Map<String, String> a = s.getMetadata().getAnnotations();
          events.add("BOOKMARK " + (a != null && "true".equals(a.get("k8s.io/initial-events-end"))
              ? "initial-events-end" : "progress"));
          return;
        }
        events.add(action + " " + s.getMetadata().getName() + " v=" + secretValue(s, "v"));
      }

      @Override
      public void onClose(WatcherException cause) {
        events.add("CLOSED " + cause);
      }
    };
  }

  private static String next(BlockingQueue<String> events) throws InterruptedException {
    String e = events.poll(30, TimeUnit.SECONDS);
    assertNotNull(e, "no watch event within 30 s");
    return e;
  }


  @SuppressWarnings("unchecked")
  private static Map<String, Object> spec(GenericKubernetesResource r) {
    return (Map<String, Object>) r.getAdditionalProperties().get("spec");
  }
}
