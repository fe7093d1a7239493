package io.etcdcrypt.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.KmsPluginFixture;
import io.etcdcrypt.testing.ProxyProcess;
import io.etcdcrypt.testing.RealComponents;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code serve}, as a process, says in its log when what it depends on goes away and when it comes
 * back: one WARN line per outage with the address and the cause, one INFO line when it is back,
 * nothing repeated while the outage lasts (the proxy probes etcd every second, and the plugins are
 * checked at every {@code /readyz} here).
 */
@RealComponents
@Timeout(240)
class DependencyStateLoggedTest {

  /** Long enough for a handful of probes (etcd: every second; KMS: every /readyz, below). */
  private static final Duration OUTAGE = Duration.ofSeconds(8);

  private static final Duration LIMIT = Duration.ofSeconds(60);

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  /** Lines of the proxy's log before this many are not looked at. */
  private long from;

  @Test
  void anEtcdMemberAndTheWholeClusterLostAndBackAreOneLineEach(@TempDir Path dir) throws Exception {
    List<EtcdProcess> members = EtcdProcess.startCluster(3);
    try (ProxyProcess proxy =
        ProxyProcess.start(
            dir,
            List.of(
                "--endpoints",
                members.stream().map(EtcdProcess::endpoint).collect(Collectors.joining(",")),
                "--encryption-provider-config",
                config(dir, "providers: [{identity: {}}]").toString(),
                // a second connection to every member, for the rewrites, which must not log again
                "--rewrite-stale-on-read"))) {
      EtcdProcess victim = members.get(2);
      String victimLost = "etcd member " + victim.endpoint() + " ";
      String victimBack =
          "etcd member "
              + victim.endpoint()
              + " is reachable again and serves with a leader (it did not for ";

      // One member: its line, and calls go on to the others.
      victim.kill();
      awaitLine(proxy, "WARN", victimLost + "is unreachable (UNAVAILABLE: ", 1);
      Thread.sleep(OUTAGE.toMillis());
      victim.relaunch();
      victim.awaitReady(LIMIT);
      awaitLine(proxy, "INFO", victimBack, 1);
      assertEquals(1, count(proxy, "WARN", victimLost), proxy::output);
      assertEquals(0, count(proxy, "no etcd member is reachable"), proxy::output);

      // All of them: a line per member, and one for etcd as a whole. (The survivors may have logged
      // a line each while they elected a new leader, when the victim was the leader.)
      Map<EtcdProcess, Long> before = new HashMap<>();
      Map<EtcdProcess, Long> backBefore = new HashMap<>();
      for (EtcdProcess m : members) {
        before.put(m, count(proxy, "WARN", "etcd member " + m.endpoint() + " "));
        backBefore.put(m, count(proxy, "INFO", back(m)));
      }
      members.forEach(EtcdProcess::kill);
      String clusterLost = "no etcd member is reachable (" + members.get(0).endpoint() + ": ";
      awaitLine(proxy, "WARN", clusterLost, 1);
      Thread.sleep(OUTAGE.toMillis());
      assertEquals(1, count(proxy, "no etcd member is reachable"), proxy::output);
      assertTrue(
          line(proxy, clusterLost)
              .endsWith(
                  "): every call fails with UNAVAILABLE until one is; check that etcd runs and"
                      + " listens at --endpoints "
                      + members.stream().map(EtcdProcess::endpoint).collect(Collectors.joining(","))
                      + "; the proxy retries every 1 s"),
          proxy::output);
      for (EtcdProcess m : members) {
        assertEquals(
            before.get(m) + 1,
            count(proxy, "WARN", "etcd member " + m.endpoint() + " "),
            proxy::output);
      }
      members.forEach(EtcdProcess::relaunch);
      for (EtcdProcess m : members) {
        m.awaitReady(LIMIT);
      }
      awaitLine(proxy, "INFO", "etcd is reachable again at ", 1);
      for (EtcdProcess m : members) {
        awaitLine(proxy, "INFO", back(m), (int) (backBefore.get(m) + 1));
      }
      Thread.sleep(OUTAGE.toMillis());
      assertEquals(1, count(proxy, "no etcd member is reachable"), proxy::output);
      assertEquals(1, count(proxy, "etcd is reachable again"), proxy::output);
      assertEquals(2, count(proxy, "WARN", victimLost), proxy::output);
      assertEquals(2, count(proxy, victimBack), proxy::output);
    } finally {
      members.forEach(EtcdProcess::close);
    }
  }

  @Test
  void aKmsPluginUnhealthyAndRecoveredIsOneLineEachForV2AndV1(@TempDir Path dir) throws Exception {
    try (KmsPluginFixture plugin =
            KmsPluginFixture.start(Files.createDirectory(dir.resolve("kms")));
        ProxyProcess proxy =
            ProxyProcess.start(
                dir,
                List.of(
                    "--endpoints",
                    etcd.endpoint(),
                    "--encryption-provider-config",
                    config(
                            dir,
                            "providers: [{kms: {apiVersion: v2, name: current, endpoint: '"
                                + plugin.endpoint()
                                + "'}}]",
                            "  - resources: [configmaps]",
                            "    providers: [{kms: {apiVersion: v1, name: legacy, endpoint: '"
                                + plugin.endpoint()
                                + "', cachesize: 10}}]")
                        .toString()))) {
      String v2 = "KMS v2 provider current at " + plugin.endpoint();
      String v1 = "KMS v1 provider legacy at " + plugin.endpoint();
      // A cold JVM may miss the first Status call's deadline: that start-up outage is logged too.
      from = logLines(proxy).count();

      plugin.stop();
      // kubelet asks /readyz every few seconds; the KMS v1 check runs only then.
      awaitLine(proxy, "WARN", v2 + " is unhealthy: ", 1);
      awaitLine(proxy, "WARN", v1 + " is unhealthy: ", 1);
      long until = System.nanoTime() + OUTAGE.toNanos();
      while (System.nanoTime() < until) {
        assertTrue(!proxy.ready(), "/readyz passes without the plugin");
        Thread.sleep(500); // as often as a readiness probe, and more
      }
      assertEquals(1, count(proxy, v2 + " is unhealthy"), proxy::output);
      assertEquals(1, count(proxy, v1 + " is unhealthy"), proxy::output);
      String v2Lost = line(proxy, v2 + " is unhealthy");
      assertTrue(v2Lost.endsWith("; checking it again every 10 s"), "the v2 line is: " + v2Lost);
      assertTrue(
          line(proxy, v1 + " is unhealthy")
              .endsWith(
                  "; it is checked again with the readiness checks (every few seconds with"
                      + " --metrics-addr)"),
          proxy::output);

      plugin.restart();
      awaitLine(proxy, "INFO", v2 + " recovered (it was unhealthy for ", 1);
      awaitLine(proxy, "INFO", v1 + " recovered (it was unhealthy for ", 1);
      Await.until("/readyz passes again", LIMIT, proxy::ready);
      Thread.sleep(OUTAGE.toMillis() / 2);
      proxy.ready();
      assertEquals(1, count(proxy, v2 + " recovered"), proxy::output);
      assertEquals(1, count(proxy, v1 + " recovered"), proxy::output);
      assertEquals(1, count(proxy, v2 + " is unhealthy"), proxy::output);
      assertEquals(1, count(proxy, v1 + " is unhealthy"), proxy::output);
      assertEquals(0, count(proxy, "\tat "), "no stack trace in the log:\n" + proxy.output());
    }
  }

  private static String back(EtcdProcess member) {
    return "etcd member " + member.endpoint() + " is reachable again";
  }

  /** An EncryptionConfiguration whose first rule, for secrets, has {@code providers}. */
  private static Path config(Path dir, String providers, String... moreRules) throws Exception {
    StringBuilder yaml =
        new StringBuilder(
            "apiVersion: apiserver.config.k8s.io/v1\n"
                + "kind: EncryptionConfiguration\n"
                + "resources:\n"
                + "  - resources: [secrets]\n"
                + "    "
                + providers
                + "\n");
    for (String line : moreRules) {
      yaml.append(line).append('\n');
    }
    return Files.writeString(dir.resolve("encryption.yaml"), yaml);
  }

  /**
   * Waits until {@code n} lines of the proxy's log contain {@code text}, asking /readyz every 250
   * ms meanwhile (as a readiness probe would, more often); each at {@code level}.
   */
  private void awaitLine(ProxyProcess proxy, String level, String text, int n) throws Exception {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (count(proxy, text) < n) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "no " + n + " line(s) with \"" + text + "\" in the proxy's log:\n" + proxy.output());
      }
      proxy.ready();
      Thread.sleep(250);
    }
    assertEquals(n, count(proxy, text), proxy::output);
    assertEquals(n, count(proxy, level, text), () -> "not at " + level + ":\n" + proxy.output());
  }

  private java.util.stream.Stream<String> logLines(ProxyProcess proxy) {
    return proxy.output().lines().skip(from);
  }

  private long count(ProxyProcess proxy, String text) {
    return logLines(proxy).filter(l -> l.contains(text)).count();
  }

  /** Lines at {@code level} ({@code WARN}, {@code INFO}) that contain {@code text}. */
  private long count(ProxyProcess proxy, String level, String text) {
    return logLines(proxy).filter(l -> l.contains(" " + level + " ") && l.contains(text)).count();
  }

  private String line(ProxyProcess proxy, String text) {
    return logLines(proxy)
        .filter(l -> l.contains(text))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no line with " + text + ":\n" + proxy.output()));
  }
}
