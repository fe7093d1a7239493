package io.etcdcrypt.proxy;

import io.grpc.ServerCall;
import io.grpc.StatusException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * Rewrites the messages of one proxied call. A transformer instance serves exactly one call, so it
 * may keep per-call state (the Watch transformer remembers which watches it cancelled).
 *
 * <p>Each rewrite is a stage, complete when returned unless a value had to wait on a KMS plugin. A
 * stage that fails with a {@link StatusException} ends the call with that status toward the client
 * and cancels the upstream call, so a request that cannot be transformed is never sent and a
 * response that cannot be transformed is never delivered.
 */
public interface CallTransformer<ReqT, RespT> {

  /** The message to send to etcd for {@code request}. */
  CompletionStage<ReqT> toUpstream(ReqT request);

  /**
   * The message to deliver to the client for {@code response}, or null to deliver nothing. {@code
   * upstream} sends an extra request to etcd on the same call (used to cancel one watch of a
   * stream).
   */
  CompletionStage<RespT> toDownstream(RespT response, Consumer<ReqT> upstream);

  /**
   * The call is over toward the client: its last answer was handed to the client's transport, or
   * the call was cancelled or failed. Called once, after every transform was started.
   */
  default void onCallEnd() {}

  /** Creates one transformer per call. */
  interface Factory<ReqT, RespT> {
    /** {@code side} makes further calls to etcd on behalf of the same client call. */
    CallTransformer<ReqT, RespT> newCall(SideCalls side);

    /**
     * The transformer of {@code call}, whose side calls {@code side} makes; for transforms that
     * depend on the client's connection (its address).
     */
    default CallTransformer<ReqT, RespT> newCall(SideCalls side, ServerCall<?, ?> call) {
      return newCall(side);
    }
  }

  /** Forwards every message unchanged: the raw pass-through. */
  @SuppressWarnings("unchecked")
  static <ReqT, RespT> Factory<ReqT, RespT> identity() {
    return (Factory<ReqT, RespT>) Identity.FACTORY;
  }

  /** The stateless identity transformer behind {@link #identity()}. */
  final class Identity implements CallTransformer<Object, Object> {
    private static final Identity INSTANCE = new Identity();
    private static final Factory<Object, Object> FACTORY = side -> INSTANCE;

    @Override
    public CompletionStage<Object> toUpstream(Object request) {
      return CompletableFuture.completedFuture(request);
    }

    @Override
    public CompletionStage<Object> toDownstream(Object response, Consumer<Object> upstream) {
      return CompletableFuture.completedFuture(response);
    }
  }
}
