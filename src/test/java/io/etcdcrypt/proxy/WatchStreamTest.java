package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchCancelRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchCreateRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchGrpc;
import io.etcdcrypt.etcd.etcdserverpb.WatchProgressRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchResponse;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyExtension;
import io.etcdcrypt.testing.RealComponents;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The Watch stream details kube-apiserver depends on, compared between etcd directly and through
 * the proxy on the raw protocol: client-chosen watch IDs, progress requests answered with {@code
 * watch_id = -1}, fragments, and cancellation.
 */
@RealComponents
class WatchStreamTest {

  // A small request limit makes etcd fragment a catching-up watcher's batch of history.
  @RegisterExtension
  static final EtcdExtension etcd = new EtcdExtension("--max-request-bytes=65536");

  @RegisterExtension
  static final ProxyExtension proxy =
      new ProxyExtension(etcd, ValueCodec.IDENTITY).withMaxInboundMessageSize(64 << 20);

  /** One open Watch stream with its responses queued. */
  private static final class Stream implements AutoCloseable {
    final LinkedBlockingQueue<WatchResponse> responses = new LinkedBlockingQueue<>();
    final StreamObserver<WatchRequest> requests;

    Stream(ManagedChannel ch) {
      requests =
          WatchGrpc.newStub(ch)
              .watch(
                  new StreamObserver<>() {
                    @Override
                    public void onNext(WatchResponse r) {
                      responses.add(r);
                    }

                    @Override
                    public void onError(Throwable t) {}

                    @Override
                    public void onCompleted() {}
                  });
    }

    WatchResponse next() throws InterruptedException {
      WatchResponse r = responses.poll(10, TimeUnit.SECONDS);
      if (r == null) {
        throw new AssertionError("no watch response within 10 s");
      }
      return r;
    }

    void send(WatchRequest r) {
      requests.onNext(r);
    }

    @Override
    public void close() {
      requests.onCompleted();
    }
  }

  /** What a response says, without the fields that legitimately differ between two runs. */
  private static String shape(WatchResponse r) {
    return "id="
        + r.getWatchId()
        + " created="
        + r.getCreated()
        + " canceled="
        + r.getCanceled()
        + " fragment="
        + r.getFragment()
        + " events="
        + r.getEventsCount()
        + " progress="
        + (r.getEventsCount() == 0
            && !r.getCreated()
            && !r.getCanceled()
            && r.getHeader().getRevision() > 0);
  }

  private static List<String> scenario(ManagedChannel ch, String prefix)
      throws InterruptedException {
    // History to catch up on: 25 revisions of ~30 KiB, together above the 64 KiB + 512 KiB etcd
    // fragments at.
    long first = 0;
    for (int i = 0; i < 25; i++) {
      long rev =
          KVGrpc.newBlockingStub(ch)
              .put(
                  PutRequest.newBuilder()
                      .setKey(pb(prefix + "big" + i))
                      .setValue(ByteString.copyFrom(new byte[30_000]))
                      .build())
              .getHeader()
              .getRevision();
      first = first == 0 ? rev : first;
    }
    List<String> out = new ArrayList<>();
    try (Stream s = new Stream(ch)) {
      s.send(
          WatchRequest.newBuilder()
              .setCreateRequest(
                  WatchCreateRequest.newBuilder()
                      .setKey(pb(prefix))
                      .setRangeEnd(pb(prefix + "\u00ff"))
                      .setStartRevision(first)
                      .setWatchId(7)
                      .setFragment(true)
                      .setPrevKv(true))
              .build());
      int events = 0;
      while (events < 25) {
        WatchResponse r = s.next();
        out.add(shape(r));
        events += r.getEventsCount();
      }
      s.send(
          WatchRequest.newBuilder()
              .setCreateRequest(WatchCreateRequest.newBuilder().setKey(pb(prefix + "other")))
              .build());
      out.add(shape(s.next()));

      s.send(
          WatchRequest.newBuilder()
              .setProgressRequest(WatchProgressRequest.getDefaultInstance())
              .build());
      out.add(shape(s.next()));

      s.send(
          WatchRequest.newBuilder()
              .setCancelRequest(WatchCancelRequest.newBuilder().setWatchId(7))
              .build());
      out.add(shape(s.next()));
    }
    return out;
  }

  @Test
  void watchIdsProgressFragmentsAndCancelAreEtcds() throws Exception {
    List<String> direct = scenario(proxy.toEtcd(), "/watchstream/direct/");
    List<String> proxied = scenario(proxy.toProxy(), "/watchstream/proxied/");
    assertEquals(direct, proxied);
    assertEquals(
        "id=7 created=true canceled=false fragment=false events=0 progress=false", direct.get(0));
    String progress = direct.get(direct.size() - 2);
    assertTrue(progress.startsWith("id=-1 ") && progress.endsWith("progress=true"), progress);
    assertTrue(
        direct.stream().anyMatch(l -> l.contains("fragment=true")),
        "etcd did not fragment: " + direct);
    assertTrue(direct.get(direct.size() - 1).contains("canceled=true"), direct.toString());
  }
}
