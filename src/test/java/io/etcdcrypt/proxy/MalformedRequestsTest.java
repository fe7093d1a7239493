package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.LeaseGrpc;
import io.etcdcrypt.etcd.etcdserverpb.WatchGrpc;
import io.etcdcrypt.etcd.v3electionpb.ElectionGrpc;
import io.etcdcrypt.testing.Clients;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyExtension;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * A request that is not a valid message of its method is answered as etcd answers it, and a client
 * sending them in a loop costs the log one line, not a stack trace each (before: UNKNOWN
 * "Application error processing RPC" and a 64-line ERROR per 3-byte request).
 */
@RealComponents
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class MalformedRequestsTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @RegisterExtension
  static final ProxyExtension proxy = new ProxyExtension(etcd, TestCodecs.secretsUnderAesGcm());

  /** A field 1 of length 127 with one byte of it: truncated, as a fuzzer's would be. */
  private static final byte[] TRUNCATED = {0x0a, 0x7f, 0x2f};

  private static final List<MethodDescriptor<?, ?>> METHODS =
      List.of(
          KVGrpc.getRangeMethod(),
          KVGrpc.getPutMethod(),
          KVGrpc.getDeleteRangeMethod(),
          KVGrpc.getTxnMethod(),
          WatchGrpc.getWatchMethod(),
          ElectionGrpc.getCampaignMethod(),
          ElectionGrpc.getLeaderMethod(),
          LeaseGrpc.getLeaseGrantMethod());

  @Test
  void malformedRequestsGetEtcdsAnswerAndOneLogLine() {
    for (MethodDescriptor<?, ?> method : METHODS) {
      Status fromEtcd = refusal(proxy.toEtcd(), method);
      Status fromProxy = refusal(proxy.toProxy(), method);
      String name = method.getFullMethodName();
      assertEquals(fromEtcd.getCode(), fromProxy.getCode(), name + ": " + fromProxy);
      String wording =
          method.getType().clientSendsOneMessage()
              ? MalformedRequests.UNARY
              : MalformedRequests.STREAM;
      assertTrue(fromEtcd.getDescription().startsWith(wording), name + " from etcd: " + fromEtcd);
      assertTrue(
          fromProxy.getDescription().startsWith(wording), name + " from the proxy: " + fromProxy);
      assertTrue(fromProxy.getDescription().length() < 300, fromProxy.getDescription());
    }

    Logger logger = (Logger) LoggerFactory.getLogger(MalformedRequests.class);
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    logged.start();
    logger.addAppender(logged);
    try {
      for (int i = 0; i < 500; i++) {
        refusal(proxy.toProxy(), KVGrpc.getPutMethod());
      }
    } finally {
      logger.detachAppender(logged);
    }
    // At most one line per ten seconds, however many arrive, each one line naming the peer.
    assertTrue(logged.list.size() <= 1, logged.list.size() + " lines for 500 requests");
    for (ILoggingEvent e : logged.list) {
      assertTrue(e.getThrowableProxy() == null, "no stack trace: " + e.getFormattedMessage());
      assertTrue(e.getFormattedMessage().contains("127.0.0.1"), e.getFormattedMessage());
    }

    // The proxy serves on.
    assertEquals(
        0,
        KVGrpc.newBlockingStub(proxy.toProxy())
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .range(
                io.etcdcrypt.etcd.etcdserverpb.RangeRequest.newBuilder()
                    .setKey(Clients.pb("/registry/secrets/none"))
                    .build())
            .getCount());
  }

  /** The status {@code ch} ends a call of {@code method} with, given {@link #TRUNCATED}. */
  private static Status refusal(Channel ch, MethodDescriptor<?, ?> method) {
    MethodDescriptor<InputStream, InputStream> raw =
        ProxiedMethod.rawDescriptor(method.getFullMethodName(), method.getType());
    ClientCall<InputStream, InputStream> call =
        ch.newCall(raw, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS));
    return assertThrows(
            StatusRuntimeException.class,
            () -> {
              Iterator<InputStream> answers =
                  ClientCalls.blockingServerStreamingCall(
                      call, new ByteArrayInputStream(TRUNCATED));
              while (answers.hasNext()) {
                answers.next();
              }
            },
            method.getFullMethodName())
        .getStatus();
  }
}
