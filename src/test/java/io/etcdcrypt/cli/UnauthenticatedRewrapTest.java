package io.etcdcrypt.cli;

import static io.etcdcrypt.ops.OpsFixtures.AESCBC_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.PREFIX_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.codec;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.putAll;
import static io.etcdcrypt.ops.OpsFixtures.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.Client;
import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.ops.UnauthenticatedFixtures;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Moving off aescbc with rewrap, with one value among them that AES-CBC opens to garbage (a value
 * moved from elsewhere, or corrupt, whose padding happens to check out). Before, rewrap sealed that
 * garbage under AES-GCM and census called it current; the damage was hidden for good.
 */
@RealComponents
@Timeout(180)
class UnauthenticatedRewrapTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
  @RegisterExtension static final OpsFixtures.RawEtcd raw = new OpsFixtures.RawEtcd(etcd);

  private static final String CBC = config("secrets", AESCBC_KEY1);
  private static final String GCM_THEN_CBC = config("secrets", AESGCM_KEY1, AESCBC_KEY1);
  private static final String GARBAGE_KEY = "/registry/secrets/moved/value";
  private static final int N = 20;
  private static final IntFunction<String> OBJECTS = i -> "{\"kind\":\"Secret\",\"n\":" + i + "}";

  @TempDir Path dir;

  @Test
  void valuesOnlyAesCbcOpenedAreLeftUntilAskedAndGarbageIsNeverRewrapped() throws Exception {
    try (ProxyFixture proxy = ProxyFixture.start(codec(CBC), etcd.endpoint());
        Client client = proxy.client()) {
      putAll(client, N, OpsFixtures::secretKey, OBJECTS);
    }
    ByteString garbage = UnauthenticatedFixtures.garbageThatOpens(codec(GCM_THEN_CBC));
    raw.put(GARBAGE_KEY, garbage, 0);
    Path config = write(dir.resolve("gcm-then-cbc.yaml"), GCM_THEN_CBC);

    CliRun dry = rewrap(config, "--dry-run");
    assertEquals(1, dry.exitCode(), dry::toString);
    assertTrue(
        dry.out().contains("0 stale, 0 current, 0 undecryptable, 21 left unauthenticated"),
        dry::toString);

    CliRun first = rewrap(config);
    assertEquals(1, first.exitCode(), first::toString);
    assertTrue(
        first.out().contains("21 stale values were opened by aescbc or KMS v1's AES-CBC fallback"),
        first::toString);
    assertTrue(first.out().contains("run rewrap --rewrite-unauthenticated"), first::toString);
    assertTrue(first.err().contains("problem: " + OpsFixtures.secretKey(0)), first::toString);
    assertEquals(N + 1, countStoredWith("k8s:enc:aescbc:v1:cbc1:"), "nothing rewritten unasked");

    CliRun asked = rewrap(config, "--rewrite-unauthenticated");
    assertEquals(1, asked.exitCode(), asked::toString);
    assertTrue(
        asked
            .err()
            .contains(
                "problem: "
                    + GARBAGE_KEY
                    + ": opened by k8s:enc:aescbc:v1:cbc1:"
                    + " without authentication, and what came out is not a Kubernetes object"),
        asked::toString);
    assertEquals(N, countStoredWith(PREFIX_KEY1), "the objects moved to AES-GCM");
    assertEquals(garbage, raw.kv(GARBAGE_KEY).getValue(), "the garbage is left as it was");

    CliRun census =
        CliRun.of(
            "census",
            "--endpoints",
            etcd.endpoint(),
            "--encryption-provider-config",
            config.toString(),
            "--output",
            "json");
    assertEquals(1, census.exitCode(), census::toString);
    assertEquals(
        Map.of("secrets", Map.of(PREFIX_KEY1, (long) N, "undecryptable", 1L)),
        OpsFixtures.censusJson(census.out()));
    assertTrue(census.err().contains("undecryptable: " + GARBAGE_KEY), census::toString);

    try (ProxyFixture proxy = ProxyFixture.start(codec(GCM_THEN_CBC), etcd.endpoint());
        Client client = proxy.client()) {
      for (int i = 0; i < N; i++) {
        assertEquals(OBJECTS.apply(i), OpsFixtures.get(client, OpsFixtures.secretKey(i)));
      }
    }
  }

  private long countStoredWith(String prefix) {
    return raw.all("/registry/secrets/").values().stream()
        .filter(kv -> kv.getValue().startsWith(ByteString.copyFromUtf8(prefix)))
        .count();
  }

  private CliRun rewrap(Path config, String... more) {
    return CliRun.of(
        OpsFixtures.rewrapArgs(etcd.endpoint(), config, dir.resolve("state.json"), more));
  }
}
