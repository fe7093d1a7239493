package io.etcdcrypt.kube;

import static io.etcdcrypt.kube.KubeObjects.K8S_PROTOBUF;
import static io.etcdcrypt.kube.KubeObjects.assertStoredUnder;
import static io.etcdcrypt.kube.KubeObjects.contains;
import static io.etcdcrypt.kube.KubeObjects.head;
import static io.etcdcrypt.kube.KubeObjects.startsWith;
import static io.etcdcrypt.kube.KubeObjects.value;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.kube.KubeObjects.Kind;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.KubeTestBed;
import io.etcdcrypt.testing.RealComponents;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.api.model.ListOptions;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A real kube-apiserver whose {@code --etcd-servers} is the proxy, driven through the Kubernetes
 * API: every verb kube-apiserver turns into etcd traffic (create, get, list in pages with continue,
 * update, patch, delete, watch from a resourceVersion, watch-list with initial events) on Secrets
 * (KMS v2), ConfigMaps (aesgcm), PodTemplates (aescbc), custom resources (secretbox) and
 * CustomResourceDefinitions (no rule). Each step checks what the API returns and what etcd stores:
 * configured resources in kube-apiserver's encrypted format, opened by the test's own decoder to
 * kube-apiserver's serialization, the others exactly as kube-apiserver writes them.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@RealComponents
class KubeApiThroughProxyIT {

  @RegisterExtension
  static final KubeTestBed bed = KubeTestBed.withConfig(KubeTestBed.ALL_PROVIDERS);

  private static final int OBJECTS = 12;
  private static final int PAGE = 5;

  private static KubernetesClient k;
  private static KubeObjects objects;
  private static int logMark;

  @BeforeAll
  static void widgets() {
    k = bed.client();
    objects = new KubeObjects(k);
    logMark = bed.apiserver().logLines();
    objects.createWidgetDefinition();
  }

  @AfterAll
  static void noStorageErrors() {
    List<String> errors = bed.apiserver().storageErrorsSince(logMark);
    assertTrue(
        errors.isEmpty(), "kube-apiserver logged storage errors:\n" + String.join("\n", errors));
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void everyVerb(Kind kind) throws Exception {
    String ns = "verbs-" + kind.name().toLowerCase();
    objects.createNamespace(ns);
    var api = objects.in(kind, ns);
    List<String> names = new ArrayList<>();
    for (int i = 0; i < OBJECTS; i++) {
      String name = kind.name(String.format("o-%02d", i));
      names.add(name);
      objects.create(kind, ns, name, "v-" + i);
    }
    String third = names.get(3);

    // get, and what etcd stores
    assertEquals("v-3", objects.read(kind, ns, third));
    assertStored(kind, ns, third, "v-3");

    // list in pages, with continue tokens and the count of what remains
    List<String> listed = new ArrayList<>();
    String token = null;
    int pages = 0;
    do {
      GenericKubernetesResourceList page =
          api.list(new ListOptionsBuilder().withLimit((long) PAGE).withContinue(token).build());
      pages++;
      page.getItems().stream()
          .filter(o -> names.contains(o.getMetadata().getName()))
          .forEach(o -> listed.add(o.getMetadata().getName() + "=" + value(o)));
      token = page.getMetadata().getContinue();
    } while (token != null && !token.isEmpty());
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < OBJECTS; i++) {
      expected.add(names.get(i) + "=v-" + i);
    }
    assertEquals(expected, listed);
    assertTrue(pages >= (OBJECTS + PAGE - 1) / PAGE, "pages: " + pages);

    // update (with the resourceVersion read) and patch
    GenericKubernetesResource read = api.withName(third).get();
    read.getMetadata().getAnnotations().put("value", "v-3-updated");
    GenericKubernetesResource updated = api.resource(read).update();
    assertTrue(
        Long.parseLong(updated.getMetadata().getResourceVersion())
            > Long.parseLong(read.getMetadata().getResourceVersion()));
    assertEquals("v-3-updated", objects.read(kind, ns, third));
    assertStored(kind, ns, third, "v-3-updated");
    api.withName(names.get(4))
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"metadata\":{\"annotations\":{\"value\":\"v-4-patched\"}}}");
    assertEquals("v-4-patched", objects.read(kind, ns, names.get(4)));
    assertStored(kind, ns, names.get(4), "v-4-patched");

    // watch from a resourceVersion: every change, in order, in plaintext
    String from = api.list().getMetadata().getResourceVersion();
    String fresh = kind.name("fresh");
    BlockingQueue<String> events = new LinkedBlockingQueue<>();
    try (Watch ignored =
        api.watch(
            new ListOptionsBuilder().withResourceVersion(from).build(),
            recorder(events, List.of(fresh)))) {
      objects.create(kind, ns, fresh, "one");
      api.withName(fresh)
          .patch(
              PatchContext.of(PatchType.JSON_MERGE),
              "{\"metadata\":{\"annotations\":{\"value\":\"two\"}}}");
      api.withName(fresh).delete();
      assertEquals("ADDED " + fresh + "=one", next(events));
      assertEquals("MODIFIED " + fresh + "=two", next(events));
      assertEquals("DELETED " + fresh + "=two", next(events));
    }

    // watch-list: the current objects as ADDED, the initial-events-end bookmark, then changes
    events.clear();
    String later = kind.name("later");
    List<String> watched = new ArrayList<>(names);
    watched.add(later);
    ListOptions watchList =
        new ListOptionsBuilder()
            .withSendInitialEvents(true)
            .withResourceVersionMatch("NotOlderThan")
            .withAllowWatchBookmarks(true)
            .build();
    try (Watch ignored = api.watch(watchList, recorder(events, watched))) {
      List<String> initial = new ArrayList<>();
      for (String e = next(events); !e.equals("BOOKMARK initial-events-end"); e = next(events)) {
        initial.add(e);
      }
      initial.sort(null);
      List<String> added = new ArrayList<>();
      for (int i = 0; i < OBJECTS; i++) {
        added.add(
            "ADDED "
                + names.get(i)
                + "="
                + (i == 3 ? "v-3-updated" : i == 4 ? "v-4-patched" : "v-" + i));
      }
      assertEquals(added, initial);
      objects.create(kind, ns, later, "three");
      assertEquals("ADDED " + later + "=three", nextChange(events));
    }

    // delete
    for (String name : names) {
      api.withName(name).delete();
    }
    api.withName(fresh).delete();
    // Gone from etcd; a CRD at least marked for deletion there (its finalizer removes it when
    // kube-apiserver's
    // cleanup of its objects is done).
    Await.until(
        "every " + kind + " deleted in etcd",
        Duration.ofSeconds(60),
        () ->
            names.stream()
                .allMatch(
                    n -> {
                      byte[] stored = bed.rawValue(kind.key(ns, n));
                      return stored == null
                          || kind == Kind.CRD && contains(stored, "deletionTimestamp");
                    }));
    GenericKubernetesResource gone = api.withName(third).get();
    assertTrue(
        gone == null || kind == Kind.CRD && gone.getMetadata().getDeletionTimestamp() != null);
  }

  /**
   * How etcd stores the object: under the kind's provider, with kube-apiserver's serialization
   * inside (protobuf for built-in kinds, JSON for custom resources) holding the value; or, without
   * a rule, as kube-apiserver writes it.
   */
  private static void assertStored(Kind kind, String ns, String name, String value)
      throws Exception {
    String key = kind.key(ns, name);
    byte[] stored = bed.rawValue(key);
    assertNotNull(stored, key);
    if (kind.storedPrefix == null) {
      assertFalse(startsWith(stored, "k8s:enc:"), head(stored));
      assertTrue(contains(stored, value), head(stored));
      return;
    }
    assertStoredUnder(stored, kind.storedPrefix);
    assertFalse(contains(stored, value), "the value is readable in etcd: " + key);
    byte[] plain = bed.storedPlaintext(key);
    if (kind == Kind.WIDGET) {
      String json = new String(plain, StandardCharsets.UTF_8);
      assertTrue(json.startsWith("{\"apiVersion\":\"example.com/v1\""), json);
    } else {
      assertTrue(
          startsWith(plain, K8S_PROTOBUF), "kube-apiserver's protobuf inside: " + head(plain));
    }
    assertTrue(contains(plain, value), key);
  }

  @Test
  void resourcesWithoutARuleAreStoredAsKubeApiserverWritesThem() {
    assertTrue(startsWith(bed.rawValue("/registry/namespaces/default"), K8S_PROTOBUF));
    assertTrue(
        startsWith(bed.rawValue("/registry/services/specs/default/kubernetes"), K8S_PROTOBUF));
  }

  @Test
  void typedClientsSeeTheSameObjects() {
    k.secrets()
        .inNamespace("default")
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("typed")
                .endMetadata()
                .addToStringData("password", "hunter2")
                .build())
        .create();
    assertEquals(
        "hunter2",
        KubeObjects.secretValue(
            k.secrets().inNamespace("default").withName("typed").get(), "password"));
    assertStoredUnder(bed.rawValue("/registry/secrets/default/typed"), KubeTestBed.KMS_PREFIX);
  }

  /**
   * Records each event of the {@code watched} objects that changes what a client sees, as {@code
   * TYPE name=value}, and bookmarks as {@code BOOKMARK <kind>}. Skipped: a MODIFIED event that
   * leaves the value as it was (a CRD's status as its controller accepts it). A CRD's deletion
   * starts with a MODIFIED event that carries the deletion timestamp, and its finalizer removes the
   * object later at kube-apiserver's own pace: that start counts as DELETED.
   */
  private static Watcher<GenericKubernetesResource> recorder(
      BlockingQueue<String> events, List<String> watched) {
    Map<String, String> lastValue = new HashMap<>();
    Set<String> deleted = new HashSet<>();
    return new Watcher<>() {
      @Override
      public void eventReceived(Action action, GenericKubernetesResource o) {
        String name = o.getMetadata().getName();
        if (action == Action.BOOKMARK) {
          Map<String, String> a = o.getMetadata().getAnnotations();
          events.add(
              "BOOKMARK "
                  + (a != null && "true".equals(a.get("k8s.io/initial-events-end"))
                      ? "initial-events-end"
                      : "progress"));
          return;
        }
        if (!watched.contains(name)) {
          return;
        }
        boolean deleting =
            action == Action.DELETED || o.getMetadata().getDeletionTimestamp() != null;
        if (deleting) {
          if (deleted.add(name)) {
            events.add("DELETED " + name + "=" + value(o));
          }
          return;
        }
        deleted.remove(name); // created again
        String previous = lastValue.put(name, value(o));
        if (action != Action.MODIFIED || !value(o).equals(previous)) {
          events.add(action + " " + name + "=" + value(o));
        }
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

  /** The next event that is not a bookmark. */
  private static String nextChange(BlockingQueue<String> events) throws InterruptedException {
    String e = next(events);
    while (e.startsWith("BOOKMARK")) {
      e = next(events);
    }
    return e;
  }
}
