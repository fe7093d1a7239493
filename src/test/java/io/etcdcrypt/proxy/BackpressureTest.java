package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchCreateRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchGrpc;
import io.etcdcrypt.etcd.etcdserverpb.WatchRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchResponse;
import io.etcdcrypt.observe.Metrics;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.PrometheusText;
import io.etcdcrypt.testing.RealComponents;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A client that stops reading its Watch stream makes the proxy stop reading etcd's: the proxy
 * relays only what the client's flow-control window takes, instead of buffering the whole stream,
 * and delivers the rest, in order, once the client reads again.
 */
@RealComponents
class BackpressureTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  // 10 MB of events: far more than the client's window, but within what etcd 3.4 itself buffers for
  // a watch
  // stream (past that, etcd parks the watcher and, in 3.4, may hold events back until the next
  // write).
  private static final int EVENTS = 100;
  private static final int VALUE_BYTES = 100_000;

  @Test
  void aSlowWatcherSlowsTheStreamInsteadOfGrowingTheProxy() throws Exception {
    Metrics metrics = Metrics.forThisHost();
    ManagedChannel toEtcd = Channels.plaintext(etcd.endpoint());
    try (ProxyServer proxy =
        ProxyServer.start(
            ProxyOptions.plaintext(
                new Endpoint("127.0.0.1", 0), List.of(Endpoint.parse(etcd.endpoint()))),
            ValueCodec.IDENTITY,
            metrics.proxy(),
            ValueCodec.StaleListener.NONE,
            Threading.defaults())) {
      ManagedChannel toProxy = Channels.plaintext("127.0.0.1:" + proxy.port());
      try {
        AtomicInteger events = new AtomicInteger();
        AtomicInteger responses = new AtomicInteger();
        ClientCall<WatchRequest, WatchResponse> call =
            toProxy.newCall(WatchGrpc.getWatchMethod(), CallOptions.DEFAULT);
        call.start(
            new ClientCall.Listener<>() {
              @Override
              public void onMessage(WatchResponse r) {
                responses.incrementAndGet();
                events.addAndGet(r.getEventsCount());
              }

              @Override
              public void onClose(Status status, Metadata trailers) {}
            },
            new Metadata());
        call.sendMessage(
            WatchRequest.newBuilder()
                .setCreateRequest(
                    WatchCreateRequest.newBuilder().setKey(pb("/slow/")).setRangeEnd(pb("/slow0")))
                .build());
        call.request(1); // the "created" response only; then the client stops reading
        Await.until("watch created", Duration.ofSeconds(10), () -> responses.get() == 1);

        byte[] value = new byte[VALUE_BYTES];
        for (int i = 0; i < EVENTS; i++) {
          KVGrpc.newBlockingStub(toEtcd)
              .put(
                  PutRequest.newBuilder()
                      .setKey(pb("/slow/" + i))
                      .setValue(ByteString.copyFrom(value))
                      .build());
        }
        // Let everything that could flow, flow: the first events reach the client, then the relay
        // stops.
        Await.until(
            "the first events to be relayed",
            Duration.ofSeconds(10),
            () -> watchMessagesSent(metrics) > 1);
        double relayed =
            Await.steady(
                "the count of relayed watch responses",
                Duration.ofMillis(500),
                Duration.ofSeconds(20),
                () -> watchMessagesSent(metrics));
        // ~1 MiB of client window and transport buffer hold about a dozen 100 kB events; 10 MB were
        // written.
        assertTrue(
            relayed < 30,
            "the proxy relayed " + relayed + " watch responses to a client that reads none");

        call.request(Integer.MAX_VALUE);
        Await.until(
            "every event after the client reads again",
            Duration.ofSeconds(30),
            () -> events.get() == EVENTS);
        assertEquals(EVENTS, events.get());
        call.cancel("done", null);
      } finally {
        toProxy.shutdownNow();
      }
    } finally {
      toEtcd.shutdownNow();
      metrics.close();
    }
  }

  private static double watchMessagesSent(Metrics metrics) {
    return PrometheusText.parse(metrics.scrape())
        .sum(
            "grpc_server_msg_sent_total",
            "grpc_service",
            "etcdserverpb.Watch",
            "grpc_method",
            "Watch");
  }
}
