package io.etcdcrypt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.Gson;
import com.google.gson.reflect.TypeToken;
import com.google.protobuf.ByteString;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.options.GetOption;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.KmsTransformerFactory;
import io.etcdcrypt.etcd.etcdserverpb.DeleteRangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.IntFunction;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Configurations, codecs and raw etcd access shared by the census, rewrap, reload and stale-rewrite
 * tests.
 */
public final class OpsFixtures {

  /** Test-only AES keys (random, base64). */
  public static final String KEY1 = "P3fqRREKNdXNRpKj2cvsBA==";

  public static final String KEY2 = "DoKJyPzloQdKfNdybeAfpdMzYIWxYHepxH7XbvX8xFw=";
  public static final String KEY3 = "IUZNvmQ9V4p97H84HIGapOr9JnOh52Eh";

  public static final String AESGCM_KEY1 = "aesgcm: {keys: [{name: key1, secret: '" + KEY1 + "'}]}";
  public static final String AESGCM_KEY2_KEY1 =
      "aesgcm: {keys: [{name: key2, secret: '"
          + KEY2
          + "'}, {name: key1, secret: '"
          + KEY1
          + "'}]}";
  public static final String AESCBC_KEY1 = "aescbc: {keys: [{name: cbc1, secret: '" + KEY2 + "'}]}";
  public static final String SECRETBOX =
      "secretbox: {keys: [{name: box1, secret: '" + KEY2 + "'}]}";
  public static final String IDENTITY = "identity: {}";

  public static final String PREFIX_KEY1 = "k8s:enc:aesgcm:v1:key1:";
  public static final String PREFIX_KEY2 = "k8s:enc:aesgcm:v1:key2:";

  /** How long a test waits for a write (or a window of pipelined writes) to be acknowledged. */
  private static final Duration WRITE_LIMIT = Duration.ofSeconds(60);

  private static final String HEADER =
      "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n";

  private OpsFixtures() {}

  /**
   * A configuration with one rule for {@code resources} (comma-separated) and the given providers
   * in order.
   */
  public static String config(String resources, String... providers) {
    StringBuilder sb = new StringBuilder(HEADER).append("resources:\n");
    appendRule(sb, resources, providers);
    return sb.toString();
  }

  /** Adds a rule to a configuration made by {@link #config}. */
  public static String withRule(String config, String resources, String... providers) {
    StringBuilder sb = new StringBuilder(config);
    appendRule(sb, resources, providers);
    return sb.toString();
  }

  private static void appendRule(StringBuilder sb, String resources, String... providers) {
    sb.append("- resources: [").append(resources).append("]\n  providers:\n");
    for (String p : providers) {
      sb.append("  - ").append(p).append('\n');
    }
  }

  /** A KMS v2 provider entry for the plugin at {@code endpointUrl}. */
  public static String kmsV2(String name, String endpointUrl) {
    return "kms: {apiVersion: v2, name: "
        + name
        + ", endpoint: '"
        + endpointUrl
        + "', timeout: 2s}";
  }

  /**
   * The arguments of {@code rewrap} of the etcd at {@code endpoint} with {@code config}, its
   * progress kept in {@code state}, followed by {@code more}.
   */
  public static List<String> rewrapArgs(String endpoint, Path config, Path state, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "rewrap",
                "--endpoints",
                endpoint,
                "--encryption-provider-config",
                config.toString(),
                "--state-file",
                state.toString()));
    args.addAll(List.of(more));
    return args;
  }

  public static Path write(Path file, String yaml) throws Exception {
    Files.writeString(file, yaml);
    return file;
  }

  /** {@code dir/enc.yaml}: secrets under identity, a configuration that needs no key or plugin. */
  public static Path identityConfig(Path dir) throws Exception {
    return write(dir.resolve("enc.yaml"), config("secrets", IDENTITY));
  }

  public static EncryptionConfiguration parse(String yaml) throws Exception {
    return EncryptionConfigLoader.parse(yaml, "test.yaml");
  }

  public static EncryptionCodec codec(String yaml, KmsTransformerFactory kms) {
    return TestCodecs.fromYaml(yaml, kms);
  }

  public static EncryptionCodec codec(String yaml) {
    return codec(yaml, KmsTransformerFactory.UNAVAILABLE);
  }

  public static ByteString key(String key) {
    return ByteString.copyFromUtf8(key);
  }

  public static ByteSequence bs(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  /** {@code /registry/secrets/ns<i % 10>/s-<i>}, zero-padded so that key order is index order. */
  public static String secretKey(int i) {
    return String.format("/registry/secrets/ns%d/s-%05d", i % 10, i);
  }

  /**
   * Writes {@code values.apply(i)} at {@code keys.apply(i)} for i in [0, n), pipelined, through
   * {@code client}.
   */
  public static void putAll(
      Client client, int n, IntFunction<String> keys, IntFunction<String> values) {
    KV kv = client.getKVClient();
    List<CompletableFuture<?>> window = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      window.add(kv.put(bs(keys.apply(i)), bs(values.apply(i))));
      if (window.size() == 256) {
        awaitWrites(window);
        window.clear();
      }
    }
    awaitWrites(window);
  }

  private static void awaitWrites(List<CompletableFuture<?>> window) {
    Await.join(
        window.size() + " pipelined writes",
        WRITE_LIMIT,
        CompletableFuture.allOf(window.toArray(CompletableFuture[]::new)));
  }

  /** The plaintext at {@code key} as read through {@code client} (a proxy), or null. */
  public static String get(Client client, String key) throws Exception {
    var kvs = client.getKVClient().get(bs(key)).get(10, TimeUnit.SECONDS).getKvs();
    return kvs.isEmpty() ? null : kvs.get(0).getValue().toString(StandardCharsets.UTF_8);
  }

  /** Every plaintext under {@code prefix}, read through {@code client} (a proxy) in one Range. */
  public static Map<String, String> getAll(Client client, String prefix) throws Exception {
    Map<String, String> out = new TreeMap<>();
    client
        .getKVClient()
        .get(bs(prefix), GetOption.builder().isPrefix(true).build())
        .get(60, TimeUnit.SECONDS)
        .getKvs()
        .forEach(
            kv ->
                out.put(
                    kv.getKey().toString(StandardCharsets.UTF_8),
                    kv.getValue().toString(StandardCharsets.UTF_8)));
    return out;
  }

  /** Parses census {@code --output json}. */
  public static Map<String, Map<String, Long>> censusJson(String json) {
    return new Gson()
        .fromJson(json, new TypeToken<TreeMap<String, TreeMap<String, Long>>>() {}.getType());
  }

  public static Map<String, Map<String, Long>> counts(Object... resourceLabelCount) {
    Map<String, Map<String, Long>> m = new TreeMap<>();
    for (int i = 0; i < resourceLabelCount.length; i += 3) {
      m.computeIfAbsent((String) resourceLabelCount[i], r -> new TreeMap<>())
          .put(
              (String) resourceLabelCount[i + 1], ((Number) resourceLabelCount[i + 2]).longValue());
    }
    return m;
  }

  /**
   * {@code channel}, with the write {@code beforeFirstTxn} makes run once, and waited for, just
   * before the first Txn whose compare is on {@code key} is sent: a client's write landing between
   * a rewrite's read and its write, on cue.
   */
  public static Channel interceptFirstTxn(
      Channel channel, String key, Function<String, CompletableFuture<?>> beforeFirstTxn) {
    AtomicBoolean done = new AtomicBoolean();
    ClientInterceptor interceptor =
        new ClientInterceptor() {
          @Override
          public <Q, R> ClientCall<Q, R> interceptCall(
              MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
            return new ForwardingClientCall.SimpleForwardingClientCall<>(
                next.newCall(method, options)) {
              @Override
              public void sendMessage(Q message) {
                if (message instanceof TxnRequest txn
                    && txn.getCompareCount() > 0
                    && txn.getCompare(0).getKey().toStringUtf8().equals(key)
                    && done.compareAndSet(false, true)) {
                  Await.join(
                      "the write cued before the first Txn on " + key,
                      WRITE_LIMIT,
                      beforeFirstTxn.apply(key));
                }
                super.sendMessage(message);
              }
            };
          }
        };
    return ClientInterceptors.intercept(channel, interceptor);
  }

  /**
   * Two proxies in front of the same etcd, one writing with an old configuration and one with the
   * new, each with a jetcd client: the setting of the rewrite tests. A JUnit extension beside the
   * class's {@link EtcdExtension}: started before the first test (not before all: JUnit does not
   * promise which extension field runs first, and etcd has started by then), closed after all.
   */
  public static final class OldAndNewProxies implements BeforeEachCallback, AfterAllCallback {
    private final EtcdExtension etcd;
    private final String oldConfig;
    private final String newConfig;
    private ProxyFixture oldProxy;
    private ProxyFixture newProxy;
    private Client oldClient;
    private Client newClient;
    private EncryptionCodec newCodec;

    public OldAndNewProxies(EtcdExtension etcd, String oldConfig, String newConfig) {
      this.etcd = etcd;
      this.oldConfig = oldConfig;
      this.newConfig = newConfig;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
      if (oldProxy != null) {
        return;
      }
      oldProxy = ProxyFixture.start(codec(oldConfig), etcd.endpoint());
      newCodec = codec(newConfig);
      newProxy = ProxyFixture.start(newCodec, etcd.endpoint());
      oldClient = oldProxy.client();
      newClient = newProxy.client();
    }

    @Override
    public void afterAll(ExtensionContext context) {
      if (oldProxy == null) {
        return;
      }
      newClient.close();
      oldClient.close();
      newProxy.close();
      oldProxy.close();
    }

    /** A client of the proxy with the old configuration. */
    public Client oldClient() {
      return oldClient;
    }

    /** A client of the proxy with the new configuration. */
    public Client newClient() {
      return newClient;
    }

    /** The new configuration's codec, the one the new proxy uses. */
    public EncryptionCodec newCodec() {
      return newCodec;
    }
  }

  /**
   * Direct access to etcd's stored bytes, bypassing every proxy. A JUnit extension beside the
   * class's {@link EtcdExtension}: it connects before the first test (JUnit does not promise which
   * extension field runs first; etcd has started by then), empties the store before each test and
   * disconnects after all.
   */
  public static final class RawEtcd implements BeforeEachCallback, AfterAllCallback {
    private final EtcdExtension etcd;
    private ManagedChannel channel;
    private KVGrpc.KVBlockingStub kv;

    public RawEtcd(EtcdExtension etcd) {
      this.etcd = etcd;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
      if (channel == null) {
        channel =
            NettyChannelBuilder.forTarget(etcd.endpoint())
                .usePlaintext()
                .maxInboundMessageSize(Integer.MAX_VALUE)
                .build();
        kv = KVGrpc.newBlockingStub(channel).withInterceptors(Channels.DEFAULT_DEADLINE);
      }
      clear();
    }

    @Override
    public void afterAll(ExtensionContext context) {
      if (channel != null) {
        channel.shutdownNow();
      }
    }

    public ManagedChannel channel() {
      return channel;
    }

    public KeyValue kv(String key) {
      RangeResponse r = kv.range(RangeRequest.newBuilder().setKey(key(key)).build());
      return r.getKvsCount() == 0 ? null : r.getKvs(0);
    }

    public String stored(String key) {
      KeyValue kv = kv(key);
      return kv == null ? null : kv.getValue().toString(StandardCharsets.ISO_8859_1);
    }

    public void put(String key, String value) {
      kv.put(
          PutRequest.newBuilder()
              .setKey(key(key))
              .setValue(ByteString.copyFromUtf8(value))
              .build());
    }

    public void put(String key, ByteString value, long lease) {
      kv.put(PutRequest.newBuilder().setKey(key(key)).setValue(value).setLease(lease).build());
    }

    /** Every key-value under {@code prefix}, by key. */
    public Map<String, KeyValue> all(String prefix) {
      ByteString start = key(prefix);
      RangeResponse r =
          kv.range(
              RangeRequest.newBuilder()
                  .setKey(start)
                  .setRangeEnd(io.etcdcrypt.config.EtcdKeys.prefixRangeEnd(start))
                  .build());
      Map<String, KeyValue> out = new LinkedHashMap<>();
      r.getKvsList().forEach(kv -> out.put(kv.getKey().toStringUtf8(), kv));
      return out;
    }

    /** The current revision of the store. */
    public long revision() {
      return kv.range(RangeRequest.newBuilder().setKey(key("/")).setCountOnly(true).build())
          .getHeader()
          .getRevision();
    }

    /** Removes every key: each test starts from an empty store. */
    public void clear() {
      kv.deleteRange(
          DeleteRangeRequest.newBuilder()
              .setKey(ByteString.copyFrom(new byte[] {0}))
              .setRangeEnd(ByteString.copyFrom(new byte[] {0}))
              .build());
    }

    /**
     * Asserts that every value under {@code prefix} is stored with {@code storedPrefix}; returns
     * how many.
     */
    public int assertAllStoredWith(String prefix, String storedPrefix) {
      Map<String, KeyValue> all = all(prefix);
      for (Map.Entry<String, KeyValue> e : all.entrySet()) {
        String stored = e.getValue().getValue().toString(StandardCharsets.ISO_8859_1);
        assertEquals(
            storedPrefix,
            stored.substring(0, Math.min(stored.length(), storedPrefix.length())),
            "value of " + e.getKey());
      }
      return all.size();
    }
  }
}
