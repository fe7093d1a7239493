package io.etcdcrypt.cli;

import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY2_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.IDENTITY;
import static io.etcdcrypt.ops.OpsFixtures.PREFIX_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.codec;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.counts;
import static io.etcdcrypt.ops.OpsFixtures.putAll;
import static io.etcdcrypt.ops.OpsFixtures.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.Client;
import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.Etcdctl;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestPki;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

@RealComponents
class CensusCommandTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
  @RegisterExtension static final OpsFixtures.RawEtcd raw = new OpsFixtures.RawEtcd(etcd);

  @TempDir Path dir;

  @BeforeEach
  void threeSecretsAndAConfigMap() throws Exception {
    try (ProxyFixture proxy =
            ProxyFixture.start(codec(config("secrets", AESGCM_KEY1)), etcd.endpoint());
        Client client = proxy.client()) {
      putAll(client, 3, OpsFixtures::secretKey, i -> "v" + i);
    }
    raw.put("/registry/configmaps/ns/cm", "data");
  }

  private CliRun census(String yaml, String... more) throws Exception {
    Path config = write(dir.resolve("enc.yaml"), yaml);
    return CliRun.of(
        CliRun.args(
            List.of(
                "census",
                "--endpoints",
                etcd.endpoint(),
                "--encryption-provider-config",
                config.toString()),
            more));
  }

  @Test
  void jsonIsResourceToLabelToCount() throws Exception {
    CliRun r = census(config("secrets", AESGCM_KEY2_KEY1), "--output", "json");
    assertEquals(0, r.exitCode(), r::toString);
    assertEquals(
        counts("configmaps", "identity", 1, "secrets", PREFIX_KEY1, 3),
        OpsFixtures.censusJson(r.out()));

    CliRun secretsOnly =
        census(config("secrets", AESGCM_KEY2_KEY1), "--output", "json", "--resources", "secrets");
    assertEquals(counts("secrets", PREFIX_KEY1, 3), OpsFixtures.censusJson(secretsOnly.out()));
  }

  @Test
  void theTableSaysWhatIsStale() throws Exception {
    CliRun r = census(config("secrets", AESGCM_KEY2_KEY1));
    assertEquals(0, r.exitCode(), r::toString);
    List<String> lines = r.out().lines().toList();
    assertEquals("RESOURCE    STORED AS                VALUES  STATE", lines.get(0));
    assertEquals(
        "configmaps  identity                      1  plaintext (the resource has no rule)",
        lines.get(1));
    assertEquals("secrets     k8s:enc:aesgcm:v1:key1:       3  stale", lines.get(2));
    assertTrue(lines.get(4).endsWith(": 3 stale (rewrap rewrites them)"), lines.get(4));
  }

  @Test
  void undecryptableValuesAreListedAndExitOne() throws Exception {
    CliRun r =
        census(
            config(
                "secrets", "aesgcm: {keys: [{name: other, secret: '" + OpsFixtures.KEY3 + "'}]}"));
    assertEquals(1, r.exitCode(), r::toString);
    assertTrue(r.out().contains("secrets     undecryptable       3  cannot be read"), r.out());
    assertTrue(
        r.err()
            .contains(
                "undecryptable: /registry/secrets/ns0/s-00000: no matching key was found for the"
                    + " provided AES transformer"),
        r.err());
  }

  @Test
  void anInvalidConfigurationExitsTwo() throws Exception {
    CliRun r = census(config("secrets", "aesgcm: {keys: [{name: k, secret: 'c2hvcnQ='}]}"));
    assertEquals(2, r.exitCode(), r::toString);
    assertTrue(r.err().startsWith("census: invalid --encryption-provider-config"), r.err());
    assertTrue(!r.err().contains("c2hvcnQ="), "no key material: " + r.err());
  }

  @Test
  void censusAndRewrapReachATlsEtcdWithTheServeFlags() throws Exception {
    TestPki pki = new TestPki(java.nio.file.Files.createDirectories(dir.resolve("pki")), "etcd-ca");
    TestPki.Leaf client = pki.issue("etcd-crypt-proxy");
    try (EtcdProcess tlsEtcd = EtcdProcess.startSingleTls(pki)) {
      List<String> tls =
          List.of("--cacert=" + pki.caCert(), "--cert=" + client.cert(), "--key=" + client.key());
      new Etcdctl(tlsEtcd.clientUrl())
          .run(CliRun.args(tls, "put", "/registry/secrets/ns/tls", "plain").toArray(String[]::new))
          .assertOk();
      Path config = write(dir.resolve("tls.yaml"), config("secrets", AESGCM_KEY1, IDENTITY));
      List<String> common =
          CliRun.args(
              tls,
              "--endpoints",
              tlsEtcd.clientUrl(),
              "--encryption-provider-config",
              config.toString());

      CliRun before =
          CliRun.of(
              CliRun.args(
                  CliRun.args(List.of("census"), common.toArray(String[]::new)),
                  "--output",
                  "json"));
      assertEquals(0, before.exitCode(), before::toString);
      assertEquals(counts("secrets", "identity", 1), OpsFixtures.censusJson(before.out()));
      CliRun rewrap =
          CliRun.of(
              CliRun.args(
                  CliRun.args(List.of("rewrap"), common.toArray(String[]::new)),
                  "--state-file",
                  dir.resolve("s.json").toString()));
      assertEquals(0, rewrap.exitCode(), rewrap::toString);
      CliRun after =
          CliRun.of(
              CliRun.args(
                  CliRun.args(List.of("census"), common.toArray(String[]::new)),
                  "--output",
                  "json"));
      assertEquals(counts("secrets", PREFIX_KEY1, 1), OpsFixtures.censusJson(after.out()));
    }
  }
}
