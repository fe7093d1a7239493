package io.etcdcrypt.proxy;

import io.etcdcrypt.etcd.etcdserverpb.WatchCancelRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchGrpc;
import io.etcdcrypt.etcd.etcdserverpb.WatchRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchResponse;
import io.etcdcrypt.etcd.mvccpb.Event;
import io.grpc.StatusException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * {@code etcdserverpb.Watch}: every client stream maps to exactly one etcd stream, so watch IDs, progress
 * requests and the {@code watch_id = -1} progress reply, fragments and prev_kv behave exactly as etcd's.
 * Requests carry no values and pass unchanged; event values are opened.
 *
 * <p>An event that cannot be decrypted ends only its own watch: the client receives a cancel for that watch
 * with the reason, and etcd a cancel request, while the other watches multiplexed on the stream (kube-apiserver
 * puts many on one) keep running.
 */
final class WatchProxy {

  private WatchProxy() {}

  static List<ProxiedMethod<?, ?>> methods(ValueWalker walker) {
    return List.of(new ProxiedMethod<>(WatchGrpc.getWatchMethod(), () -> new StreamTransformer(walker)));
  }

  /** One per client stream. Called back on the upstream listener's thread only. */
  static final class StreamTransformer implements CallTransformer<WatchRequest, WatchResponse> {
    private final ValueWalker walker;
    private final Set<Long> cancelledHere = new HashSet<>();

    StreamTransformer(ValueWalker walker) {
      this.walker = walker;
    }

    @Override
    public WatchRequest toUpstream(WatchRequest request) {
      return request;
    }

    @Override
    public WatchResponse toDownstream(WatchResponse response, Consumer<WatchRequest> upstream) {
      long id = response.getWatchId();
      if (!cancelledHere.isEmpty() && cancelledHere.contains(id)) {
        // The client was already told this watch ended; drop what etcd sends until it confirms the cancel.
        if (response.getCanceled()) {
          cancelledHere.remove(id);
        }
        return null;
      }
      try {
        return open(response);
      } catch (StatusException e) {
        cancelledHere.add(id);
        upstream.accept(
            WatchRequest.newBuilder()
                .setCancelRequest(WatchCancelRequest.newBuilder().setWatchId(id))
                .build());
        return WatchResponse.newBuilder()
            .setHeader(response.getHeader())
            .setWatchId(id)
            .setCanceled(true)
            .setCancelReason(e.getStatus().getDescription())
            .build();
      }
    }

    private WatchResponse open(WatchResponse response) throws StatusException {
      WatchResponse.Builder b = null;
      for (int i = 0; i < response.getEventsCount(); i++) {
        Event e = response.getEvents(i);
        Event opened = walker.open(e);
        if (opened != e) {
          if (b == null) {
            b = response.toBuilder();
          }
          b.setEvents(i, opened);
        }
      }
      return b == null ? response : b.build();
    }
  }
}
