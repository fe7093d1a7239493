package io.etcdcrypt.proxy;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Unary calls to etcd that a transformer makes on behalf of one client call, next to the call it
 * relays (the reads and retries of a Txn that compares on VALUE): with the client's request headers
 * (etcd's {@code token}, {@code hasleader}), its deadline and its cancellation, so that etcd sees
 * them as the client's own requests.
 */
final class SideCalls {

  private final Channel upstream;
  private final Metadata headers;
  private final Context context;

  /**
   * {@code context} is the client call's; {@code headers} its request headers, copied for each side
   * call.
   */
  SideCalls(Channel upstream, Metadata headers, Context context) {
    this.upstream = upstream;
    this.headers = headers;
    this.context = context;
  }

  /** etcd's answer, or a stage failed with etcd's status (a {@link io.grpc.StatusException}). */
  <ReqT, RespT> CompletionStage<RespT> unary(MethodDescriptor<ReqT, RespT> method, ReqT request) {
    CompletableFuture<RespT> answer = new CompletableFuture<>();
    Metadata copy = new Metadata();
    copy.merge(headers);
    // Created in the client call's context: its deadline and cancellation apply to the side call.
    Context previous = context.attach();
    try {
      // No waitForReady, as for the relayed call: with no member reachable it fails at once.
      ClientCall<ReqT, RespT> call = upstream.newCall(method, CallOptions.DEFAULT);
      call.start(
          new ClientCall.Listener<>() {
            private RespT response;

            @Override
            public void onMessage(RespT message) {
              response = message;
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
              if (!status.isOk()) {
                answer.completeExceptionally(status.asException(trailers));
              } else if (response == null) {
                answer.completeExceptionally(
                    Status.INTERNAL
                        .withDescription(
                            "etcd-crypt-proxy: etcd ended "
                                + method.getFullMethodName()
                                + " without an answer")
                        .asException());
              } else {
                answer.complete(response);
              }
            }
          },
          copy);
      call.request(2);
      call.sendMessage(request);
      call.halfClose();
    } finally {
      context.detach(previous);
    }
    return answer;
  }
}
