package io.etcdcrypt.ops;

import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY2_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.IDENTITY;
import static io.etcdcrypt.ops.OpsFixtures.PREFIX_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.PREFIX_KEY2;
import static io.etcdcrypt.ops.OpsFixtures.SECRETBOX;
import static io.etcdcrypt.ops.OpsFixtures.bs;
import static io.etcdcrypt.ops.OpsFixtures.codec;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.counts;
import static io.etcdcrypt.ops.OpsFixtures.withRule;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.Client;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.kms.KmsV2Transformer;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.KmsPluginFixture;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

@RealComponents
class CensusTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
  @RegisterExtension static final OpsFixtures.RawEtcd raw = new OpsFixtures.RawEtcd(etcd);

  private static final String OLD = config("secrets", AESGCM_KEY1);
  private static final String NEW =
      withRule(config("secrets", AESGCM_KEY2_KEY1, IDENTITY), "deployments.apps", SECRETBOX);

  @TempDir Path dir;

  private static void writeThrough(EncryptionCodec codec, String... keyValues) throws Exception {
    try (ProxyFixture proxy = ProxyFixture.start(codec, etcd.endpoint());
        Client client = proxy.client()) {
      for (int i = 0; i < keyValues.length; i += 2) {
        client.getKVClient().put(bs(keyValues[i]), bs(keyValues[i + 1])).get(10, TimeUnit.SECONDS);
      }
    }
  }

  private static CensusResult census(EncryptionCodec codec, List<String> resources)
      throws Exception {
    List<Scope> scopes = Scopes.select(ResourceResolver.withDefaultPrefix(), resources);
    return new Census(codec, raw.channel(), 2, Duration.ofSeconds(10)).run(scopes);
  }

  private void mixedStore() throws Exception {
    writeThrough(
        codec(OLD),
        "/registry/secrets/a/k1-1",
        "v",
        "/registry/secrets/a/k1-2",
        "v",
        "/registry/secrets/b/k1-3",
        "v");
    writeThrough(
        codec(NEW),
        "/registry/secrets/b/k2-1",
        "v",
        "/registry/secrets/c/k2-2",
        "v",
        "/registry/deployments/default/web",
        "{}");
    raw.put("/registry/secrets/c/plain", "plaintext secret");
    raw.put("/registry/secrets/c/lost", "k8s:enc:aesgcm:v1:gone:0123456789abcdef0123456789abcdef");
    raw.put("/registry/configmaps/kube-system/cm1", "data");
    raw.put("/registry/configmaps/kube-system/cm2", "data");
    // Not objects: never counted.
    raw.put("compact_rev_key", "42");
    raw.put("/registry/ranges/serviceips", "range");
    raw.put("/registry/health", "{\"health\":\"true\"}");
  }

  @Test
  void countsEveryResourceByProviderKeyPlaintextAndUndecryptable() throws Exception {
    mixedStore();

    CensusResult r = census(codec(NEW), List.of());

    assertEquals(
        counts(
            "configmaps",
            "identity",
            2,
            "deployments.apps",
            "k8s:enc:secretbox:v1:box1:",
            1,
            "secrets",
            PREFIX_KEY1,
            3,
            "secrets",
            PREFIX_KEY2,
            2,
            "secrets",
            "identity",
            1,
            "secrets",
            "undecryptable",
            1),
        r.counts());
    assertEquals(10, r.values());
    assertEquals(
        4,
        r.staleCount(),
        "key1 and plaintext secrets are stale under [aesgcm(key2,key1), identity]");
    assertEquals(
        List.of(
            "/registry/secrets/a/k1-1",
            "/registry/secrets/a/k1-2",
            "/registry/secrets/b/k1-3",
            "/registry/secrets/c/plain"),
        r.staleKeys());
    assertEquals(1, r.undecryptableCount());
    assertEquals("/registry/secrets/c/lost", r.undecryptable().get(0).key());
    assertEquals(
        "no matching key was found for the provided AES transformer",
        r.undecryptable().get(0).reason());
    assertEquals(raw.revision(), r.revision());

    Map<String, CensusResult.Bucket> secrets = r.buckets().get("secrets");
    assertEquals(StoredAs.State.STALE, secrets.get(PREFIX_KEY1).state());
    assertEquals(StoredAs.State.CURRENT, secrets.get(PREFIX_KEY2).state());
    assertEquals(StoredAs.State.NO_RULE, r.buckets().get("configmaps").get("identity").state());
  }

  @Test
  void jsonAndTableNameResourcesAsTheConfigurationDoes() throws Exception {
    mixedStore();
    CensusResult r = census(codec(NEW), List.of());

    assertEquals(r.counts(), OpsFixtures.censusJson(r.toJson()));
    assertTrue(r.toJson().contains("\"deployments.apps\""), r.toJson());
    List<String> table = r.toTable();
    assertEquals("RESOURCE          STORED AS                   VALUES  STATE", table.get(0));
    assertTrue(
        table.contains("secrets           k8s:enc:aesgcm:v1:key1:          3  stale"),
        String.join("\n", table));
    assertTrue(
        table.contains("secrets           undecryptable                    1  cannot be read"),
        String.join("\n", table));
    assertTrue(
        table.contains(
            "configmaps        identity                         2  plaintext (the resource has no rule)"),
        String.join("\n", table));
    assertTrue(r.summary().startsWith("10 values in 3 resources at revision "), r.summary());
    assertTrue(
        r.summary()
            .endsWith(
                "4 stale (rewrap rewrites them), 1 undecryptable (no configured provider or key"
                    + " opens them)"),
        r.summary());
  }

  @Test
  void resourcesSelectWhatIsCounted() throws Exception {
    mixedStore();
    EncryptionCodec codec = codec(NEW);

    assertEquals(
        counts(
            "secrets",
            PREFIX_KEY1,
            3,
            "secrets",
            PREFIX_KEY2,
            2,
            "secrets",
            "identity",
            1,
            "secrets",
            "undecryptable",
            1),
        census(codec, List.of("secrets")).counts());
    assertEquals(
        counts("deployments.apps", "k8s:enc:secretbox:v1:box1:", 1),
        census(codec, List.of("*.apps")).counts());
    assertEquals(
        counts("configmaps", "identity", 2, "deployments.apps", "k8s:enc:secretbox:v1:box1:", 1),
        census(codec, List.of("configmaps", "deployments.apps")).counts());
  }

  @Test
  void kmsV2ValuesAreCountedPerKeyId() throws Exception {
    try (KmsPluginFixture plugin = KmsPluginFixture.start(dir);
        KmsProviders kms = new KmsProviders()) {
      String yaml = config("secrets", OpsFixtures.kmsV2("kms1", plugin.endpoint().url()));
      EncryptionCodec codec = codec(yaml, kms);
      writeThrough(codec, "/registry/secrets/a/one", "1", "/registry/secrets/a/two", "2");

      plugin.addKek("kek-2");
      Await.until(
          "the plugin uses kek-2",
          Duration.ofSeconds(10),
          () -> plugin.currentKekId().equals("kek-2"));
      KmsV2Transformer provider = (KmsV2Transformer) kms.providers().get(0);
      assertTrue(provider.checkNow().ok());
      assertEquals("kek-2", provider.currentKeyId());
      writeThrough(codec, "/registry/secrets/b/three", "3");

      CensusResult r = census(codec, List.of());
      assertEquals(
          counts(
              "secrets",
              "k8s:enc:kms:v2:kms1: key_id=kek-1",
              2,
              "secrets",
              "k8s:enc:kms:v2:kms1: key_id=kek-2",
              1),
          r.counts());
      assertEquals(2, r.staleCount(), "values under the previous key id are stale");
    }
  }
}
