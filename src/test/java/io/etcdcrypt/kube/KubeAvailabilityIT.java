package io.etcdcrypt.kube;

import static io.etcdcrypt.kube.KubeObjects.assertStoredUnder;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.JavaProcess;
import io.etcdcrypt.testing.KubeTestBed;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * kube-apiserver keeps serving through what operators do to the proxy: a restart, a rewrap of 1,000
 * Secrets while clients update them, and a KMS plugin outage shorter than the KMS v2 write window.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@RealComponents
class KubeAvailabilityIT {

  @RegisterExtension
  static final KubeTestBed bed = KubeTestBed.withConfig(KubeTestBed.ALL_PROVIDERS);

  /** Secrets move from KMS v2 to a new secretbox key, which rewrap finishes. */
  private static final String ROTATED =
      KubeTestBed.ALL_PROVIDERS.replace(
          "      - kms: {apiVersion: v2",
          "      - secretbox: {keys: [{name: box2, secret: \""
              + TestCodecs.randomKey(32)
              + "\"}]}\n"
              + "      - kms: {apiVersion: v2");

  @Test
  @Order(1)
  void keepsServingWhileTheProxyRestarts() throws Exception {
    KubernetesClient k = bed.client();
    String ns = "restart";
    new KubeObjects(k).createNamespace(ns);
    k.configMaps()
        .inNamespace(ns)
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("counter")
                .endMetadata()
                .addToData("n", "0")
                .build())
        .create();
    BlockingQueue<String> seen = new LinkedBlockingQueue<>();
    String from =
        k.configMaps().inNamespace(ns).withName("counter").get().getMetadata().getResourceVersion();
    try (Watch w =
        k.configMaps()
            .inNamespace(ns)
            .watch(
                new ListOptionsBuilder().withResourceVersion(from).build(),
                new Watcher<ConfigMap>() {
                  @Override
                  public void eventReceived(Action action, ConfigMap cm) {
                    seen.add(action + " " + cm.getData().get("n"));
                  }

                  @Override
                  public void onClose(WatcherException cause) {
                    seen.add("CLOSED " + cause);
                  }
                })) {
      AtomicBoolean stop = new AtomicBoolean();
      ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
      AtomicInteger written = new AtomicInteger();
      ExecutorService writer = Executors.newSingleThreadExecutor();
      Future<?> loop =
          writer.submit(
              () -> {
                for (int n = 1; !stop.get(); n++) {
                  try {
                    k.configMaps()
                        .inNamespace(ns)
                        .withName("counter")
                        .patch(
                            PatchContext.of(PatchType.JSON_MERGE),
                            "{\"data\":{\"n\":\"" + n + "\"}}");
                    String read =
                        k.configMaps().inNamespace(ns).withName("counter").get().getData().get("n");
                    if (!Integer.toString(n).equals(read)) {
                      errors.add("wrote " + n + ", read " + read);
                    }
                    written.set(n);
                  } catch (KubernetesClientException e) {
                    errors.add("request " + n + ": " + e.getCode() + " " + e.getMessage());
                    n--; // the same value again
                  }
                }
              });
      awaitWrites(written, 5);
      bed.proxy().restart();
      int afterRestart = written.get();
      awaitWrites(written, afterRestart + 5);
      stop.set(true);
      loop.get(60, TimeUnit.SECONDS);
      writer.shutdown();

      assertTrue(
          errors.isEmpty(), "kube-apiserver failed requests during the proxy restart: " + errors);
      // The watch kube-apiserver serves stayed open and saw every write, in order.
      for (int n = 1; n <= written.get(); n++) {
        assertEquals("MODIFIED " + n, seen.poll(30, TimeUnit.SECONDS));
      }
    }
  }

  @Test
  @Order(2)
  void keepsServingWhileRewrapRunsUnderConcurrentUpdates() throws Exception {
    KubernetesClient k = bed.client();
    String ns = "rewrap";
    new KubeObjects(k).createNamespace(ns);
    int count = 1000;
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<?>> creates = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String name = "s-" + i;
      creates.add(
          pool.submit(
              () ->
                  k.secrets()
                      .inNamespace(ns)
                      .resource(
                          new SecretBuilder()
                              .withNewMetadata()
                              .withName(name)
                              .endMetadata()
                              .addToStringData("gen", "0")
                              .build())
                      .create()));
    }
    for (Future<?> f : creates) {
      f.get(60, TimeUnit.SECONDS);
    }
    assertStoredUnder(bed.rawValue("/registry/secrets/" + ns + "/s-0"), KubeTestBed.KMS_PREFIX);

    // The new key first, the old provider second: new writes use it, rewrap moves the rest.
    assertTrue(ROTATED.contains("name: box2"), ROTATED);
    Path rotated = bed.writeConfig("rotated.yaml", ROTATED);
    bed.proxy().restart(bed.proxyArgs(rotated));

    // Four clients update disjoint quarters of the Secrets, with update (a 409 when the object
    // changed since it
    // was read, rewrap's rewrites included) and with patch; each remembers the last value the API
    // accepted.
    Map<String, String> lastWritten = new ConcurrentHashMap<>();
    AtomicInteger updates = new AtomicInteger();
    ConcurrentLinkedQueue<String> conflicts = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
    AtomicBoolean stop = new AtomicBoolean();
    List<Future<?>> updaters = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int quarter = t;
      updaters.add(
          pool.submit(
              () -> {
                for (int round = 1; !stop.get(); round++) {
                  for (int i = quarter; i < count && !stop.get(); i += 4 * 7) {
                    String name = "s-" + i;
                    String gen = quarter + "." + round + "." + i;
                    try {
                      if (round % 2 == 0) {
                        Secret s = k.secrets().inNamespace(ns).withName(name).get();
                        k.secrets()
                            .inNamespace(ns)
                            .resource(
                                new SecretBuilder(s).withStringData(Map.of("gen", gen)).build())
                            .update();
                      } else {
                        k.secrets()
                            .inNamespace(ns)
                            .withName(name)
                            .patch(
                                PatchContext.of(PatchType.JSON_MERGE),
                                "{\"stringData\":{\"gen\":\"" + gen + "\"}}");
                      }
                      lastWritten.put(name, gen);
                      updates.incrementAndGet();
                    } catch (KubernetesClientException e) {
                      (e.getCode() == 409 ? conflicts : errors)
                          .add(name + ": " + e.getCode() + " " + e.getMessage());
                    }
                  }
                }
              }));
    }

    // The updaters are under way before rewrap starts; what counts is how many land while it runs.
    Await.until("the updaters' first updates", Duration.ofSeconds(60), () -> updates.get() >= 10);
    int updatesBefore = updates.get();
    List<String> args = new ArrayList<>(List.of("rewrap"));
    args.addAll(bed.etcdToolArgs());
    // Paced, so that the clients' updates keep landing while it runs.
    args.addAll(
        List.of(
            "--encryption-provider-config",
            rotated.toString(),
            "--resources",
            "secrets",
            "--rate",
            "150"));
    int exit;
    String rewrapOutput;
    try (JavaProcess rewrap =
        JavaProcess.start(bed.dir().resolve("rewrap.log"), Map.of(), args.toArray(String[]::new))) {
      exit = rewrap.waitFor();
      rewrapOutput = rewrap.output();
    }
    int updatesDuring = updates.get() - updatesBefore;
    stop.set(true);
    for (Future<?> f : updaters) {
      f.get(60, TimeUnit.SECONDS);
    }
    pool.shutdown();

    assertEquals(0, exit, rewrapOutput);
    assertTrue(errors.isEmpty(), "errors other than conflicts: " + errors);
    assertTrue(updatesDuring >= 10, "only " + updatesDuring + " updates landed while rewrap ran");
    System.out.printf(
        "rewrap of %d Secrets under %d concurrent updates of %d of them (%d conflicts)%n",
        count, updatesDuring, lastWritten.size(), conflicts.size());
    // No update lost: every Secret holds the last value the API accepted for it.
    for (int i = 0; i < count; i++) {
      String name = "s-" + i;
      Secret s = k.secrets().inNamespace(ns).withName(name).get();
      assertNotNull(s, name);
      assertEquals(lastWritten.getOrDefault(name, "0"), KubeObjects.secretValue(s, "gen"), name);
    }
    // And nothing is left under the old provider.
    List<String> census = new ArrayList<>(List.of("census"));
    census.addAll(bed.etcdToolArgs());
    census.addAll(
        List.of(
            "--encryption-provider-config",
            rotated.toString(),
            "--resources",
            "secrets",
            "--output",
            "json"));
    try (JavaProcess c =
        JavaProcess.start(
            bed.dir().resolve("census.log"), Map.of(), census.toArray(String[]::new))) {
      assertEquals(0, c.waitFor(), c.output());
      Map<String, Map<String, Long>> counts = OpsFixtures.censusJson(jsonDocument(c.output()));
      assertEquals(
          Map.of("k8s:enc:secretbox:v1:box2:", (long) count), counts.get("secrets"), c.output());
    }
  }

  @Test
  @Order(3)
  void keepsServingWhileTheKmsPluginIsDownForLessThanTheWriteWindow() throws Exception {
    bed.proxy().restart(bed.proxyArgs(bed.config())); // Secrets under KMS v2 again
    KubernetesClient k = bed.client();
    String ns = "kms-outage";
    new KubeObjects(k).createNamespace(ns);
    k.secrets()
        .inNamespace(ns)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("before")
                .endMetadata()
                .addToStringData("v", "before")
                .build())
        .create();

    bed.kms().stop();
    try {
      for (int i = 0; i < 20; i++) {
        String name = "during-" + i;
        k.secrets()
            .inNamespace(ns)
            .resource(
                new SecretBuilder()
                    .withNewMetadata()
                    .withName(name)
                    .endMetadata()
                    .addToStringData("v", name)
                    .build())
            .create();
        k.secrets()
            .inNamespace(ns)
            .withName(name)
            .patch(
                PatchContext.of(PatchType.JSON_MERGE),
                "{\"stringData\":{\"v\":\"" + name + "-2\"}}");
        assertEquals(
            name + "-2",
            KubeObjects.secretValue(k.secrets().inNamespace(ns).withName(name).get(), "v"));
        assertStoredUnder(
            bed.rawValue("/registry/secrets/" + ns + "/" + name), KubeTestBed.KMS_PREFIX);
      }
      assertEquals(
          "before",
          KubeObjects.secretValue(k.secrets().inNamespace(ns).withName("before").get(), "v"));
      assertEquals(21, k.secrets().inNamespace(ns).list().getItems().size());
      // kube-apiserver stays ready: its storage answers; the proxy's own /readyz reports the
      // plugin.
      assertTrue(bed.apiserver().ready());
      Await.until(
          "the proxy's /readyz reports the KMS plugin down",
          Duration.ofSeconds(60),
          () -> !bed.proxy().ready());
      assertTrue(bed.apiserver().ready());
    } finally {
      bed.kms().restart();
    }
    k.secrets()
        .inNamespace(ns)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("after")
                .endMetadata()
                .addToStringData("v", "after")
                .build())
        .create();
    assertEquals(
        "after", KubeObjects.secretValue(k.secrets().inNamespace(ns).withName("after").get(), "v"));
  }

  private static void awaitWrites(AtomicInteger written, int atLeast) {
    Await.until(atLeast + " writes", Duration.ofSeconds(60), () -> written.get() >= atLeast);
  }

  /** The JSON document census printed after its log lines. */
  private static String jsonDocument(String output) {
    int start = output.startsWith("{") ? 0 : output.indexOf("\n{") + 1;
    assertTrue(start >= 0 && output.charAt(start) == '{', output);
    return output.substring(start);
  }
}
