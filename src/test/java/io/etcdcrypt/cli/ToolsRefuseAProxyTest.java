package io.etcdcrypt.cli;

import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.codec;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.proxy.ProxyMarker;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * census, rewrap and verify-backup read (and rewrap writes) stored values: pointed at the proxy
 * instead of etcd, they would see plaintext and double-encrypt. Each refuses it and says what to
 * give instead; the same flags with etcd's address work.
 */
@RealComponents
@Timeout(120)
class ToolsRefuseAProxyTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @TempDir Path dir;

  @Test
  void everyToolRefusesAProxyEndpoint() throws Exception {
    Path config = write(dir.resolve("enc.yaml"), config("secrets", AESGCM_KEY1));
    try (ProxyFixture proxy =
        ProxyFixture.start(codec(config("secrets", AESGCM_KEY1)), etcd.endpoint())) {
      try (io.etcd.jetcd.Client client = proxy.client()) {
        OpsFixtures.putAll(
            client, 1, OpsFixtures::secretKey, i -> "v"); // the tools refuse an empty prefix
      }
      for (List<String> tool :
          List.of(
              List.of("census"),
              List.of("rewrap", "--state-file", dir.resolve("state.json").toString()),
              List.of("verify-backup", "--save", dir.resolve("snap.db").toString()))) {
        List<String> common =
            List.of("--encryption-provider-config", config.toString(), "--endpoints");
        CliRun throughProxy =
            CliRun.of(
                CliRun.args(CliRun.args(tool, common.toArray(String[]::new)), proxy.endpoint()));
        assertEquals(2, throughProxy.exitCode(), tool + ": " + throughProxy);
        assertTrue(
            throughProxy.err().contains(proxy.endpoint() + " is an etcd-crypt-proxy (")
                && throughProxy.err().contains("give etcd's own address"),
            tool + ": " + throughProxy);
        assertFalse(Files.exists(dir.resolve("snap.db")), "no snapshot through the proxy");

        CliRun direct =
            CliRun.of(
                CliRun.args(CliRun.args(tool, common.toArray(String[]::new)), etcd.endpoint()));
        assertEquals(0, direct.exitCode(), tool + " on etcd: " + direct);
      }
    }
  }

  /**
   * The mark: in the headers of a call that has them, in the trailers of one that fails at once.
   */
  @Test
  void everyProxyResponseIsMarkedAndNoEtcdResponseIs() throws Exception {
    try (ProxyFixture proxy =
        ProxyFixture.start(codec(config("secrets", AESGCM_KEY1)), etcd.endpoint())) {
      ManagedChannel toProxy =
          NettyChannelBuilder.forTarget(proxy.endpoint()).usePlaintext().build();
      ManagedChannel toEtcd = NettyChannelBuilder.forTarget(etcd.endpoint()).usePlaintext().build();
      try {
        Metadata[] denied = call(toProxy, "etcdserverpb.KV/RangeAll");
        assertEquals(null, denied[0], "a call refused at once sends no headers");
        assertTrue(denied[1].get(ProxyMarker.KEY) != null, "the trailers carry the mark");

        Metadata[] health = call(toProxy, "grpc.health.v1.Health/Check");
        assertTrue(health[0].get(ProxyMarker.KEY) != null, "the headers carry the mark");

        for (String method : List.of("grpc.health.v1.Health/Check", "etcdserverpb.KV/RangeAll")) {
          Metadata[] direct = call(toEtcd, method);
          for (Metadata m : direct) {
            assertTrue(m == null || m.get(ProxyMarker.KEY) == null, method + " on etcd: " + m);
          }
        }
      } finally {
        toProxy.shutdownNow();
        toEtcd.shutdownNow();
      }
    }
  }

  /** Headers and trailers of one unary call with an empty request, whatever its outcome. */
  private static Metadata[] call(ManagedChannel channel, String method) {
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    MethodDescriptor<InputStream, InputStream> md =
        MethodDescriptor.<InputStream, InputStream>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(method)
            .setRequestMarshaller(RAW)
            .setResponseMarshaller(RAW)
            .build();
    Channel ch =
        ClientInterceptors.intercept(
            channel, MetadataUtils.newCaptureMetadataInterceptor(headers, trailers));
    try {
      ClientCalls.blockingUnaryCall(
          ch,
          md,
          CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS),
          new ByteArrayInputStream(new byte[0]));
    } catch (StatusRuntimeException e) {
      // the outcome does not matter here, the metadata does
    }
    return new Metadata[] {headers.get(), trailers.get()};
  }

  private static final MethodDescriptor.Marshaller<InputStream> RAW =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(InputStream value) {
          return value;
        }

        @Override
        public InputStream parse(InputStream stream) {
          return stream;
        }
      };
}
