package io.etcdcrypt.testing;

import io.etcdcrypt.etcd.etcdserverpb.WatchGrpc;
import io.etcdcrypt.etcd.etcdserverpb.WatchRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchResponse;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * The status a Watch stream ends with, for a stream the server is expected to end (an error, a
 * refusal).
 */
public final class WatchEnd {

  private WatchEnd() {}

  /**
   * Opens a Watch stream on {@code channel}, sends {@code request}, and returns the status the
   * server ends the stream with (OK if it completes); fails after {@code limit}.
   */
  public static Status of(Channel channel, WatchRequest request, Duration limit) {
    CompletableFuture<Status> ended = new CompletableFuture<>();
    StreamObserver<WatchRequest> requests =
        WatchGrpc.newStub(channel)
            .watch(
                new StreamObserver<>() {
                  @Override
                  public void onNext(WatchResponse value) {}

                  @Override
                  public void onError(Throwable t) {
                    ended.complete(Status.fromThrowable(t));
                  }

                  @Override
                  public void onCompleted() {
                    ended.complete(Status.OK);
                  }
                });
    requests.onNext(request);
    return Await.join("the watch stream to end", limit, ended);
  }
}
