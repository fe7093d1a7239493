package io.etcdcrypt.kube;

import static io.etcdcrypt.kube.KubeObjects.assertStoredUnder;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.testing.EtcdRelease;
import io.etcdcrypt.testing.KubeTestBed;
import io.etcdcrypt.testing.PrometheusText;
import io.etcdcrypt.testing.RealComponents;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.SecretList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * kube-apiserver 1.37 on etcd 3.7, where lists and the initial sync of watches may be read with
 * {@code KV/RangeStream} (the {@code EtcdRangeStream} feature, beta and on): lists, paginated lists
 * and watch-list initialisation return plaintext, with and without the watch cache, kube-apiserver
 * logs no storage error, and the proxy's metrics show that it read through RangeStream with every
 * call ending OK (no fallback to Range).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@RealComponents
class KubeOnEtcd37IT {

  @RegisterExtension
  static final KubeTestBed bed =
      KubeTestBed.withConfig(EtcdRelease.V3_7, KubeTestBed.ALL_PROVIDERS);

  private static final int SECRETS = 30;

  @Test
  void listsAndWatchInitialisationReturnPlaintext() throws Exception {
    int logMark = bed.apiserver().logLines();
    KubernetesClient k = bed.client();
    String ns = "etcd37";
    new KubeObjects(k).createNamespace(ns);
    for (int i = 0; i < SECRETS; i++) {
      k.secrets()
          .inNamespace(ns)
          .resource(
              new SecretBuilder()
                  .withNewMetadata()
                  .withName(String.format("s-%02d", i))
                  .endMetadata()
                  .addToStringData("v", "value-" + i)
                  .build())
          .create();
    }
    assertStoredUnder(bed.rawValue("/registry/secrets/" + ns + "/s-00"), KubeTestBed.KMS_PREFIX);

    // With the watch cache (the default), then without it, so that every list and watch start reads
    // etcd.
    assertListsAndWatchListInPlaintext(k, ns);
    bed.apiserver().restart(bed.throughProxy().withArgs("--watch-cache=false"));
    assertListsAndWatchListInPlaintext(k, ns);

    List<String> errors = bed.apiserver().storageErrorsSince(logMark);
    assertTrue(
        errors.isEmpty(), "kube-apiserver logged storage errors:\n" + String.join("\n", errors));

    // kube-apiserver read through RangeStream, and the proxy served every call of it.
    PrometheusText.Exposition metrics = PrometheusText.parse(bed.proxy().metrics());
    double streamed =
        metrics.sum("grpc_server_handled_total", "grpc_method", "RangeStream", "grpc_code", "OK");
    double streamCalls = metrics.sum("grpc_server_handled_total", "grpc_method", "RangeStream");
    System.out.printf(
        "kube-apiserver 1.37 on etcd 3.7 through the proxy: %.0f RangeStream calls, %.0f OK%n",
        streamCalls, streamed);
    assertTrue(streamed > 0, "kube-apiserver 1.37 did not read through KV/RangeStream");
    assertEquals(streamCalls, streamed, "RangeStream calls that did not end OK");
  }

  private static void assertListsAndWatchListInPlaintext(KubernetesClient k, String ns)
      throws Exception {
    SecretList all = k.secrets().inNamespace(ns).list();
    assertEquals(SECRETS, all.getItems().size());
    for (Secret s : all.getItems()) {
      assertEquals(
          "value-" + Integer.parseInt(s.getMetadata().getName().substring(2)),
          KubeObjects.secretValue(s, "v"));
    }

    List<String> paged = new ArrayList<>();
    String token = null;
    do {
      SecretList page =
          k.secrets()
              .inNamespace(ns)
              .list(new ListOptionsBuilder().withLimit(7L).withContinue(token).build());
      page.getItems()
          .forEach(
              s -> paged.add(s.getMetadata().getName() + "=" + KubeObjects.secretValue(s, "v")));
      token = page.getMetadata().getContinue();
    } while (token != null && !token.isEmpty());
    assertEquals(SECRETS, paged.size());
    assertEquals("s-29=value-29", paged.get(SECRETS - 1));

    BlockingQueue<String> events = new LinkedBlockingQueue<>();
    try (Watch ignored =
        k.secrets()
            .inNamespace(ns)
            .watch(
                new ListOptionsBuilder()
                    .withSendInitialEvents(true)
                    .withResourceVersionMatch("NotOlderThan")
                    .withAllowWatchBookmarks(true)
                    .build(),
                new Watcher<Secret>() {
                  @Override
                  public void eventReceived(Action action, Secret s) {
                    boolean end =
                        action == Action.BOOKMARK
                            && s.getMetadata().getAnnotations() != null
                            && "true"
                                .equals(
                                    s.getMetadata()
                                        .getAnnotations()
                                        .get("k8s.io/initial-events-end"));
                    events.add(end ? "END" : action + " " + KubeObjects.secretValue(s, "v"));
                  }

                  @Override
                  public void onClose(WatcherException cause) {
                    events.add("CLOSED " + cause);
                  }
                })) {
      List<String> initial = new ArrayList<>();
      for (String e = events.poll(30, TimeUnit.SECONDS);
          !"END".equals(e);
          e = events.poll(30, TimeUnit.SECONDS)) {
        assertNotNull(e, "no initial-events-end bookmark within 30 s; got " + initial);
        if (!e.startsWith("BOOKMARK")) {
          initial.add(e);
        }
      }
      assertEquals(SECRETS, initial.size(), initial.toString());
      assertTrue(initial.contains("ADDED value-17"), initial.toString());
    }
  }
}
