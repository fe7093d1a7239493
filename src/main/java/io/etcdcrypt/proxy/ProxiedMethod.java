package io.etcdcrypt.proxy;

import io.grpc.MethodDescriptor;
import java.io.InputStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/** A method the proxy serves, and how each of its calls transforms messages on the way through. */
record ProxiedMethod<ReqT, RespT>(
    MethodDescriptor<ReqT, RespT> method, CallTransformer.Factory<ReqT, RespT> transformers) {

  /**
   * A message rewrite; its stage fails with a {@link io.grpc.StatusException} to refuse the
   * message.
   */
  @FunctionalInterface
  interface Rewrite<T> {
    CompletionStage<T> apply(T message);

    static <T> Rewrite<T> none() {
      return CompletableFuture::completedFuture;
    }
  }

  /** A method forwarded as bytes, unparsed. */
  static ProxiedMethod<InputStream, InputStream> raw(
      String fullMethodName, MethodDescriptor.MethodType type) {
    return new ProxiedMethod<>(rawDescriptor(fullMethodName, type), CallTransformer.identity());
  }

  /** A method whose requests and responses are each rewritten by a stateless function. */
  static <ReqT, RespT> ProxiedMethod<ReqT, RespT> rewriting(
      MethodDescriptor<ReqT, RespT> method, Rewrite<ReqT> request, Rewrite<RespT> response) {
    CallTransformer<ReqT, RespT> transformer =
        new CallTransformer<>() {
          @Override
          public CompletionStage<ReqT> toUpstream(ReqT message) {
            return request.apply(message);
          }

          @Override
          public CompletionStage<RespT> toDownstream(RespT message, Consumer<ReqT> upstream) {
            return response.apply(message);
          }
        };
    return new ProxiedMethod<>(method, side -> transformer);
  }

  static MethodDescriptor<InputStream, InputStream> rawDescriptor(
      String fullMethodName, MethodDescriptor.MethodType type) {
    return MethodDescriptor.<InputStream, InputStream>newBuilder()
        .setFullMethodName(fullMethodName)
        .setType(type)
        .setRequestMarshaller(RawMarshaller.INSTANCE)
        .setResponseMarshaller(RawMarshaller.INSTANCE)
        .build();
  }
}
