package io.etcdcrypt.proxy;

import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.etcd.etcdserverpb.WatchCancelRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchGrpc;
import io.etcdcrypt.etcd.etcdserverpb.WatchRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchResponse;
import io.etcdcrypt.values.ValueWalker;
import io.grpc.Status;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * {@code etcdserverpb.Watch}: every client stream maps to exactly one etcd stream, so watch IDs,
 * progress requests and the {@code watch_id = -1} progress reply, fragments and prev_kv behave
 * exactly as etcd's. Requests carry no values and pass unchanged; responses are opened by the
 * {@link ValueWalker}, whose codec the {@link ProxyServer} gives a {@link
 * io.etcdcrypt.values.SharedDecryptions}: an event that many streams watch reaches each of them
 * from etcd, and its encrypted values are decrypted once for all of them.
 *
 * <p>A response that cannot be opened ends only its own watch: the client receives a cancel for
 * that watch with the reason, and etcd a cancel request, while the other watches multiplexed on the
 * stream (kube-apiserver puts many on one) keep running.
 */
final class WatchProxy {

  private WatchProxy() {}

  static List<ProxiedMethod<?, ?>> methods(ValueWalker walker) {
    return List.of(
        new ProxiedMethod<>(WatchGrpc.getWatchMethod(), side -> new StreamTransformer(walker)));
  }

  /** Why a watch was cancelled: the refusal's own words, which start with "etcd-crypt-proxy: ". */
  static String reason(Throwable error) {
    String description = Status.fromThrowable(error).getDescription();
    return description != null
        ? description
        : "etcd-crypt-proxy: a watch response could not be opened: " + Stages.cause(error);
  }

  /**
   * One per client stream. The relay hands it one response at a time, the next only once the
   * previous one was relayed, so its state needs no lock.
   */
  static final class StreamTransformer implements CallTransformer<WatchRequest, WatchResponse> {
    private final ValueWalker walker;
    private final Set<Long> cancelledHere = new HashSet<>();

    StreamTransformer(ValueWalker walker) {
      this.walker = walker;
    }

    @Override
    public CompletionStage<WatchRequest> toUpstream(WatchRequest request) {
      return CompletableFuture.completedFuture(request);
    }

    @Override
    public CompletionStage<WatchResponse> toDownstream(
        WatchResponse response, Consumer<WatchRequest> upstream) {
      long id = response.getWatchId();
      if (!cancelledHere.isEmpty() && cancelledHere.contains(id)) {
        // The client was already told this watch ended; drop what etcd sends until it confirms the
        // cancel.
        if (response.getCanceled()) {
          cancelledHere.remove(id);
        }
        return CompletableFuture.completedFuture(null);
      }
      return walker
          .open(response)
          .exceptionally(
              error -> {
                cancelledHere.add(id);
                upstream.accept(
                    WatchRequest.newBuilder()
                        .setCancelRequest(WatchCancelRequest.newBuilder().setWatchId(id))
                        .build());
                return WatchResponse.newBuilder()
                    .setHeader(response.getHeader())
                    .setWatchId(id)
                    .setCanceled(true)
                    .setCancelReason(reason(error))
                    .build();
              });
    }
  }
}
