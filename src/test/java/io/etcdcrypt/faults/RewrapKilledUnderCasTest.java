package io.etcdcrypt.faults;

import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY2_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.PREFIX_KEY2;
import static io.etcdcrypt.ops.OpsFixtures.codec;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.JavaProcess;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rewrap}, as operators run it (a process of its own, straight to etcd), killed with SIGKILL
 * five times mid-run while clients update the same secrets through the proxy with compare-and-swap
 * Txns, then run to completion (issue 19 item 12). Checked from outside: no update lost (each key
 * holds its last successful compare-and-swap), every value under the new first key, no plaintext in
 * etcd's whole history, and reads through the proxy give the plaintext.
 */
@RealComponents
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class RewrapKilledUnderCasTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @RegisterExtension static final OpsFixtures.RawEtcd raw = new OpsFixtures.RawEtcd(etcd);

  private static final String OLD = config("secrets", AESGCM_KEY1);
  private static final String NEW = config("secrets", AESGCM_KEY2_KEY1);
  private static final String PREFIX = AtRest.PROTECTED + "faults-rewrap/";
  private static final int CLIENTS = 3;
  private static final int KEYS_PER_CLIENT = 400;
  private static final int KILLS = 5;
  private static final long SEED = 20261208L;
  private static final Pattern AFTER = Pattern.compile("\"after\"\\s*:\\s*\"([^\"]*)\"");

  @TempDir Path dir;

  @Test
  void rewrapKilledFiveTimesThenCompletedLosesNoCompareAndSwap() throws Exception {
    long from = AtRest.revision(etcd.process());
    try (ProxyFixture old = ProxyFixture.start(codec(OLD), etcd.endpoint())) {
      ManagedChannel channel = Channels.plaintext(old.endpoint());
      try {
        Load.populate(channel, PREFIX, CLIENTS, KEYS_PER_CLIENT);
      } finally {
        channel.shutdownNow();
      }
    }
    int n = CLIENTS * KEYS_PER_CLIENT;
    assertEquals(n, raw.assertAllStoredWith(PREFIX, OpsFixtures.PREFIX_KEY1));

    Path config = Files.writeString(dir.resolve("new.yaml"), NEW);
    Path state = dir.resolve("rewrap-state.json");
    List<String> rewrap =
        // a run saves its progress every second: some 100 keys per killed run
        OpsFixtures.rewrapArgs(
            etcd.endpoint(),
            config,
            state,
            "--page-size",
            "20",
            "--rate",
            "100"); // a run saves its progress every second: some 100 keys per killed run
    try (ProxyFixture proxy = ProxyFixture.start(codec(NEW), etcd.endpoint())) {
      ManagedChannel channel = Channels.plaintext(proxy.endpoint());
      try (Load load = Load.start(channel, PREFIX, CLIENTS, KEYS_PER_CLIENT, SEED, Load.Mix.CAS)) {
        load.focusOn(PREFIX); // the first keys, until the rewrap saves where it is
        load.pace(Duration.ofMillis(10));
        load.awaitCalls("before the rewrap", 100);
        for (int k = 1; k <= KILLS; k++) {
          int i = k;
          String before = savedPosition(state);
          try (JavaProcess run =
              JavaProcess.start(
                  dir.resolve("rewrap-" + i + ".log"), Map.of(), rewrap.toArray(String[]::new))) {
            Await.until(
                "rewrap run " + i + " to save progress",
                Duration.ofSeconds(60),
                () -> !run.isAlive() || !focus(load, state).equals(before));
            assertTrue(
                run.isAlive(), () -> "run " + i + " ended before its kill:\n" + run.output());
            run.kill();
            System.out.println(
                "rewrap run " + i + " killed after " + savedPosition(state) + "; " + load);
          }
          load.assertNoBrokenPromise();
        }
        try (JavaProcess last =
            JavaProcess.start(
                dir.resolve("rewrap-last.log"), Map.of(), rewrap.toArray(String[]::new))) {
          Await.until(
              "the last rewrap run to end",
              Duration.ofSeconds(90),
              () -> {
                focus(load, state);
                return !last.isAlive();
              });
          assertEquals(0, last.waitFor(), last::output);
          assertTrue(last.output().contains("verified by a census at revision"), last::output);
          System.out.println(
              "the last run: "
                  + last.output()
                      .lines()
                      .filter(l -> l.startsWith("rewrap: "))
                      .findFirst()
                      .orElse(""));
        }
        load.awaitCalls("after the rewrap", 100);
        load.stopAndAssertNoLostUpdate(() -> channel);
        System.out.println("compare-and-swap clients: " + load);
      } finally {
        channel.shutdownNow();
      }
    }
    assertEquals(n, raw.assertAllStoredWith(PREFIX, PREFIX_KEY2));
    AtRest.assertNoPlaintextSince(etcd.process(), from);
  }

  /**
   * Points the clients at the keys just after where the rewrap is, as its state file says: they
   * update what it is rewriting. Returns that position.
   */
  private static String focus(Load load, Path state) {
    String position = savedPosition(state);
    if (!position.isEmpty()) {
      load.focusOn(position);
    }
    return position;
  }

  /** The key the state file says the last run got past, or "" before any run saved progress. */
  private static String savedPosition(Path state) {
    try {
      Matcher m = AFTER.matcher(Files.exists(state) ? Files.readString(state) : "");
      return m.find() ? m.group(1) : "";
    } catch (IOException e) {
      return ""; // being replaced
    }
  }
}
