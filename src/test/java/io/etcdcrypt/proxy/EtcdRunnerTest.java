package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.testing.Command;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.OutputLines;
import io.etcdcrypt.testing.Processes;
import io.etcdcrypt.testing.ProxyExtension;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.StoredWrites;
import io.etcdcrypt.testing.TestCodecs;
import io.etcdcrypt.testing.Testenv;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * etcd's own client stress tool, etcd-runner, through the proxy on keys the proxy encrypts:
 * election, lock-racer and watcher finish their rounds (etcd-runner exits non-zero on any
 * inconsistency it sees: two lock holders, a leader other than the one observed, a watch event out
 * of order or missing), and lease-renewer keeps its lease alive. Release 3.4 is built from Debian's
 * sources, 3.5 from etcd's tests module; later releases no longer ship it.
 */
@RealComponents
class EtcdRunnerTest {

  private static final String ENCRYPTED = "k8s:enc:aesgcm:v1:key1:";

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @RegisterExtension
  static final ProxyExtension proxy = new ProxyExtension(etcd, TestCodecs.secretsUnderAesGcm());

  private static StoredWrites stored;

  @BeforeAll
  static void watchWhatIsStored() {
    stored = StoredWrites.of(etcd.process());
  }

  @AfterAll
  static void stopWatching() {
    if (stored != null) {
      stored.close();
    }
  }

  /**
   * {@code etcd-runner <command> <args>} against the proxy: {@code rounds} rounds, not rate-limited
   * to 30 requests/s.
   */
  private static Command.Result run(String runner, int rounds, String command, String... args) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Testenv.require(runner).toString(),
                command,
                "--endpoints",
                proxy.endpoint(),
                "--rounds",
                String.valueOf(rounds),
                "--req-rate",
                "1000"));
    cmd.addAll(List.of(args));
    return Command.run(Duration.ofSeconds(90), cmd);
  }

  /**
   * Four clients race for one election (leader checked against what each observed) or one lock, ten
   * rounds.
   */
  @ParameterizedTest
  @CsvSource({
    "etcd-runner-3.4, election",
    "etcd-runner-3.4, lock-racer",
    "etcd-runner-3.5, election",
    "etcd-runner-3.5, lock-racer"
  })
  void clientsRacing(String runner, String command) {
    String name = "/registry/secrets/runner/" + runner + "/" + command;
    run(runner, 10, command, name, "--total-client-connections", "4").assertOk();
    StoredWrites.assertAllStoredAs(stored.takeAll(), name, ENCRYPTED);
  }

  @ParameterizedTest
  @ValueSource(strings = {"etcd-runner-3.4", "etcd-runner-3.5"})
  void watcher(String runner) {
    String prefix = "/registry/secrets/runner/" + runner + "/watch";
    Command.Result r =
        run(
                runner,
                3,
                "watcher",
                "--prefix",
                prefix,
                "--total-keys",
                "40",
                "--total-prefixes",
                "4",
                "--watch-per-prefix",
                "2")
            .assertOk();
    assertTrue(r.stdout().contains("round 2"), r.stdout());
    StoredWrites.assertAllStoredAs(stored.takeAll(), prefix, ENCRYPTED);
  }

  /**
   * lease-renewer never ends by itself: it renews a 3 s lease every second and exits (1) only when
   * the lease is lost. Four renewals with it still running show keep-alives getting through in
   * time.
   */
  @ParameterizedTest
  @ValueSource(strings = {"etcd-runner-3.4", "etcd-runner-3.5"})
  void leaseRenewer(String runner) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(
                Testenv.require(runner).toString(),
                "lease-renewer",
                "--ttl",
                "3",
                "--endpoints",
                proxy.endpoint())
            .redirectErrorStream(true)
            .start();
    try {
      OutputLines out = OutputLines.of(p);
      List<String> seen = new ArrayList<>();
      while (seen.stream().filter(l -> l.contains("renewed lease")).count() < 4) {
        String line = out.next(Duration.ofSeconds(10));
        assertNotNull(line, () -> "lease-renewer ended: " + seen);
        seen.add(line);
      }
      assertTrue(p.isAlive(), seen::toString);
    } finally {
      Processes.stop(p, Duration.ofSeconds(5));
    }
  }
}
