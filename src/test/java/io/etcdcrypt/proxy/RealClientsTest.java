package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.Etcdctl;
import io.etcdcrypt.testing.OutputLines;
import io.etcdcrypt.testing.ProxyExtension;
import io.etcdcrypt.testing.Python;
import io.etcdcrypt.testing.RealComponents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The Go client (etcdctl) and python-etcd3 work through the proxy exactly as against etcd. */
@RealComponents
class RealClientsTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @RegisterExtension
  static final ProxyExtension proxy = new ProxyExtension(etcd, ValueCodec.IDENTITY);

  private static Etcdctl viaProxy;
  private static Etcdctl direct;

  @BeforeAll
  static void etcdctl() {
    viaProxy = new Etcdctl(proxy.endpoint());
    direct = new Etcdctl(etcd.endpoint());
  }

  @Test
  void etcdctlKeyValueAndTxn() {
    assertEquals("OK", viaProxy.run("put", "/ctl/a", "alpha").assertOk().stdout().trim());
    viaProxy.run("put", "/ctl/b", "beta").assertOk();
    assertEquals(
        "/ctl/a\nalpha\n/ctl/b\nbeta",
        viaProxy.run("get", "--prefix", "/ctl/").assertOk().stdout().trim());
    assertEquals("/ctl/a\nalpha", direct.run("get", "/ctl/a").assertOk().stdout().trim());

    String txn = "mod(\"/ctl/a\") > \"0\"\n\nput /ctl/a updated\n\nput /ctl/a failed\n\n";
    String out = viaProxy.runWithInput(txn, "txn", "-i").assertOk().stdout();
    assertTrue(out.contains("SUCCESS\n"), out);
    assertEquals(
        "updated", direct.run("get", "/ctl/a", "--print-value-only").assertOk().stdout().trim());

    assertEquals("2", viaProxy.run("del", "--prefix", "/ctl/").assertOk().stdout().trim());
    assertEquals("", direct.run("get", "--prefix", "/ctl/").assertOk().stdout().trim());
  }

  @Test
  void etcdctlWatchSeesEventsWithPrevKv() throws Exception {
    long watchersBefore = etcd.process().watchers();
    Process watch =
        new ProcessBuilder(
                Etcdctl.binary(),
                "--endpoints=" + proxy.endpoint(),
                "watch",
                "--prev-kv",
                "/ctlw/k")
            .redirectErrorStream(true)
            .start();
    try {
      OutputLines r = OutputLines.of(watch);
      // etcdctl prints nothing when the watch is created: etcd counting one more watcher shows it
      // exists.
      Await.until(
          "etcdctl's watch to be created in etcd",
          Duration.ofSeconds(10),
          () -> etcd.process().watchers() > watchersBefore);
      viaProxy.run("put", "/ctlw/k", "first").assertOk();
      viaProxy.run("put", "/ctlw/k", "second").assertOk();
      List<String> expected =
          List.of("PUT", "/ctlw/k", "first", "PUT", "/ctlw/k", "first", "/ctlw/k", "second");
      for (String line : expected) {
        assertEquals(line, r.next(Duration.ofSeconds(10)));
      }
    } finally {
      watch.destroy();
      watch.waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void etcdctlLeaseLockMembersStatusSnapshot(@TempDir Path dir) {
    String grant = viaProxy.run("lease", "grant", "300").assertOk().stdout();
    String id = grant.split(" ")[1];
    viaProxy.run("put", "--lease=" + id, "/ctll/leased", "v").assertOk();
    assertTrue(
        viaProxy.run("lease", "keep-alive", "--once", id).assertOk().stdout().contains("TTL(300)"));
    assertTrue(
        viaProxy
            .run("lease", "timetolive", "--keys", id)
            .assertOk()
            .stdout()
            .contains("/ctll/leased"));
    viaProxy.run("lease", "revoke", id).assertOk();
    assertEquals("", direct.run("get", "/ctll/leased").assertOk().stdout().trim());

    assertEquals(
        "holding", viaProxy.run("lock", "ctl-lock", "echo", "holding").assertOk().stdout().trim());

    assertTrue(viaProxy.run("member", "list").assertOk().stdout().contains("etcd0"));
    String status = viaProxy.run("endpoint", "status", "-w", "json").assertOk().stdout();
    String directStatus = direct.run("endpoint", "status", "-w", "json").assertOk().stdout();
    assertTrue(status.contains("\"version\":\"3."), status);
    assertEquals(version(directStatus), version(status));

    Path snap = dir.resolve("snap.db");
    viaProxy.run("snapshot", "save", snap.toString()).assertOk();
    assertTrue(direct.run("snapshot", "status", snap.toString()).assertOk().stdout().contains(","));
  }

  private static String version(String statusJson) {
    int i = statusJson.indexOf("\"version\":\"");
    return statusJson.substring(i, statusJson.indexOf('"', i + 11));
  }

  @Test
  void pythonEtcd3() {
    String script =
        String.join(
            "\n",
            "import sys, etcd3",
            "host, port = sys.argv[1].split(':')",
            "c = etcd3.client(host=host, port=int(port))",
            "c.put('/py/a', 'hello')",
            "c.put('/py/b', 'world')",
            "print(c.get('/py/a')[0].decode())",
            "print(sorted(v.decode() for v, m in c.get_prefix('/py/')))",
            "ok = c.transaction(compare=[c.transactions.value('/py/a') == 'hello'],",
            "                   success=[c.transactions.put('/py/a', 'txn')], failure=[])",
            "print(ok[0], c.get('/py/a')[0].decode())",
            "events, cancel = c.watch_prefix('/py/', start_revision=1)",
            "seen = []",
            "for e in events:",
            "    seen.append(e.key.decode() + '=' + e.value.decode())",
            "    if len(seen) == 3: break",
            "cancel()",
            "print(seen)",
            "print(c.delete('/py/a'), c.get('/py/a')[0])",
            "print(c.status().version)");
    String[] lines = Python.run(script, proxy.endpoint()).assertOk().stdout().trim().split("\n");
    String tail = String.join("\n", List.of(lines).subList(lines.length - 6, lines.length));
    assertEquals(
        String.join(
            "\n",
            "hello",
            "['hello', 'world']",
            "True txn",
            "['/py/a=hello', '/py/b=world', '/py/a=txn']",
            "True None",
            lines[lines.length - 1]),
        tail);
    assertTrue(lines[lines.length - 1].startsWith("3."), tail);
  }
}
