package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.bs;
import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.UnknownFieldSet;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.GetOption;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.LeaseGrantRequest;
import io.etcdcrypt.etcd.etcdserverpb.LeaseGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.v3electionpb.CampaignRequest;
import io.etcdcrypt.etcd.v3electionpb.ElectionGrpc;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.ProxyExtension;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What a drop-in proxy must preserve or refuse beyond plain request/response equality. */
@RealComponents
class ProxySemanticsTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @RegisterExtension
  static final ProxyExtension proxy =
      new ProxyExtension(etcd, ValueCodec.IDENTITY).withMaxInboundMessageSize(Integer.MAX_VALUE);

  private static StatusRuntimeException callRaw(
      ManagedChannel ch, String method, MethodDescriptor.MethodType type) {
    MethodDescriptor<InputStream, InputStream> md = ProxiedMethod.rawDescriptor(method, type);
    ClientCall<InputStream, InputStream> call =
        ch.newCall(md, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS));
    byte[] request = RangeRequest.newBuilder().setKey(pb("/x")).build().toByteArray();
    return assertThrows(
        StatusRuntimeException.class,
        () -> {
          Iterator<InputStream> it =
              ClientCalls.blockingServerStreamingCall(call, new ByteArrayInputStream(request));
          while (it.hasNext()) {
            it.next();
          }
        });
  }

  @Test
  void unknownValueMethodsAreDeniedSoClientsFallBack() {
    StatusRuntimeException e =
        callRaw(
            proxy.toProxy(),
            "etcdserverpb.KV/RangeAll",
            MethodDescriptor.MethodType.SERVER_STREAMING);
    assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("etcdserverpb.KV/RangeAll"), e.getMessage());

    StatusRuntimeException election =
        callRaw(proxy.toProxy(), "v3electionpb.Election/Future", MethodDescriptor.MethodType.UNARY);
    assertEquals(Status.Code.UNIMPLEMENTED, election.getStatus().getCode());

    StatusRuntimeException service =
        callRaw(proxy.toProxy(), "some.Unknown/Method", MethodDescriptor.MethodType.UNARY);
    assertEquals(Status.Code.UNIMPLEMENTED, service.getStatus().getCode());
  }

  @Test
  void unknownMethodsOfValueFreeServicesReachEtcd() {
    // etcd itself answers, so code and message are etcd's own.
    StatusRuntimeException viaProxy =
        callRaw(
            proxy.toProxy(),
            "etcdserverpb.Maintenance/NotYetInvented",
            MethodDescriptor.MethodType.UNARY);
    StatusRuntimeException direct =
        callRaw(
            proxy.toEtcd(),
            "etcdserverpb.Maintenance/NotYetInvented",
            MethodDescriptor.MethodType.UNARY);
    assertEquals(direct.getStatus().getCode(), viaProxy.getStatus().getCode());
    assertEquals(direct.getStatus().getDescription(), viaProxy.getStatus().getDescription());
  }

  @Test
  void valueRequestsWithUnknownFieldsAreRefused() {
    PutRequest put =
        PutRequest.newBuilder()
            .setKey(pb("/semantics/unknown"))
            .setValue(pb("v"))
            .setUnknownFields(
                UnknownFieldSet.newBuilder()
                    .addField(
                        99, UnknownFieldSet.Field.newBuilder().addLengthDelimited(pb("x")).build())
                    .build())
            .build();
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class, () -> KVGrpc.newBlockingStub(proxy.toProxy()).put(put));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertEquals(
        0,
        KVGrpc.newBlockingStub(proxy.toEtcd())
            .range(RangeRequest.newBuilder().setKey(pb("/semantics/unknown")).build())
            .getCount());
  }

  @Test
  void responsesLargerThanFourMebibytesPassThrough() throws Exception {
    byte[] big = new byte[1_000_000];
    java.util.Arrays.fill(big, (byte) 'x');
    try (Client c = proxy.newClient()) {
      for (int i = 0; i < 6; i++) {
        c.getKVClient().put(bs("/semantics/big/" + i), bs(big)).get(10, TimeUnit.SECONDS);
      }
      long total =
          KVGrpc.newBlockingStub(proxy.toProxy())
              .range(
                  RangeRequest.newBuilder()
                      .setKey(pb("/semantics/big/"))
                      .setRangeEnd(pb("/semantics/big0"))
                      .build())
              .getKvsList()
              .stream()
              .mapToLong(kv -> kv.getValue().size())
              .sum();
      assertEquals(6_000_000, total);
      assertEquals(
          6,
          c.getKVClient()
              .get(
                  bs("/semantics/big/"),
                  GetOption.builder().isPrefix(true).withCountOnly(true).build())
              .get(10, TimeUnit.SECONDS)
              .getCount());
    }
  }

  @Test
  void deadlineAndCancellationReachEtcd() throws Exception {
    // A second candidate blocks in Campaign while the first leads. When its deadline expires at the
    // proxy,
    // etcd must see the cancellation too: etcd then withdraws the waiting candidate's key.
    var election = ElectionGrpc.newBlockingStub(proxy.toProxy());
    long lease1 =
        LeaseGrpc.newBlockingStub(proxy.toProxy())
            .leaseGrant(LeaseGrantRequest.newBuilder().setTTL(60).build())
            .getID();
    long lease2 =
        LeaseGrpc.newBlockingStub(proxy.toProxy())
            .leaseGrant(LeaseGrantRequest.newBuilder().setTTL(60).build())
            .getID();
    election.campaign(
        CampaignRequest.newBuilder()
            .setName(pb("/semantics/elect"))
            .setLease(lease1)
            .setValue(pb("one"))
            .build());
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                election
                    .withDeadlineAfter(1, TimeUnit.SECONDS)
                    .campaign(
                        CampaignRequest.newBuilder()
                            .setName(pb("/semantics/elect"))
                            .setLease(lease2)
                            .setValue(pb("two"))
                            .build()));
    // Whichever comes first: the client's own deadline, or etcd's answer to the deadline the proxy
    // passed on
    // (etcd's election server answers an expired context as UNKNOWN "context deadline exceeded", as
    // it does
    // to a direct client).
    assertTrue(
        e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED
            || String.valueOf(e.getStatus().getDescription()).contains("context deadline exceeded"),
        e.getStatus().toString());
    RangeRequest candidates =
        RangeRequest.newBuilder()
            .setKey(pb("/semantics/elect/"))
            .setRangeEnd(pb("/semantics/elect0"))
            .build();
    Await.within(
        Duration.ofSeconds(5),
        () -> KVGrpc.newBlockingStub(proxy.toEtcd()).range(candidates).getCount() == 1);
    long count = KVGrpc.newBlockingStub(proxy.toEtcd()).range(candidates).getCount();
    assertEquals(1, count, "etcd kept the cancelled candidate: cancellation did not reach it");
  }

  @Test
  void authTokensPassThrough() throws Exception {
    try (EtcdProcess authEtcd = EtcdProcess.startSingle();
        ProxyFixture authProxy = ProxyFixture.start(ValueCodec.IDENTITY, authEtcd.endpoint());
        Client admin = authProxy.client()) {
      var auth = admin.getAuthClient();
      auth.userAdd(bs("root"), bs("rootpw")).get(10, TimeUnit.SECONDS);
      auth.userGrantRole(bs("root"), bs("root")).get(10, TimeUnit.SECONDS);
      auth.authEnable().get(10, TimeUnit.SECONDS);

      try (Client anonymous = authProxy.client()) {
        var err =
            assertThrows(
                java.util.concurrent.ExecutionException.class,
                () ->
                    anonymous.getKVClient().put(bs("/auth/k"), bs("v")).get(10, TimeUnit.SECONDS));
        assertTrue(
            err.getCause().getMessage().contains("user name is empty"),
            err.getCause().getMessage());
      }
      try (Client root =
          Client.builder()
              .endpoints(authProxy.url())
              .user(bs("root"))
              .password(bs("rootpw"))
              .build()) {
        root.getKVClient().put(bs("/auth/k"), bs("v")).get(10, TimeUnit.SECONDS);
        assertEquals(
            "v",
            root.getKVClient()
                .get(bs("/auth/k"))
                .get(10, TimeUnit.SECONDS)
                .getKvs()
                .get(0)
                .getValue()
                .toString(StandardCharsets.UTF_8));
      }
    }
  }
}
