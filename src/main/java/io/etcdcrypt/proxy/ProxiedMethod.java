package io.etcdcrypt.proxy;

import io.grpc.MethodDescriptor;
import io.grpc.StatusException;
import java.io.InputStream;
import java.util.function.Consumer;

/** A method the proxy serves, and how each of its calls transforms messages on the way through. */
record ProxiedMethod<ReqT, RespT>(
    MethodDescriptor<ReqT, RespT> method, CallTransformer.Factory<ReqT, RespT> transformers) {

  /** A message rewrite that may refuse the message. */
  @FunctionalInterface
  interface Rewrite<T> {
    T apply(T message) throws StatusException;

    static <T> Rewrite<T> none() {
      return m -> m;
    }
  }

  /** A method forwarded as bytes, unparsed. */
  static ProxiedMethod<InputStream, InputStream> raw(String fullMethodName, MethodDescriptor.MethodType type) {
    return new ProxiedMethod<>(rawDescriptor(fullMethodName, type), CallTransformer.identity());
  }

  /** A method whose requests and responses are each rewritten by a stateless function. */
  static <ReqT, RespT> ProxiedMethod<ReqT, RespT> rewriting(
      MethodDescriptor<ReqT, RespT> method, Rewrite<ReqT> request, Rewrite<RespT> response) {
    CallTransformer<ReqT, RespT> transformer =
        new CallTransformer<>() {
          @Override
          public ReqT toUpstream(ReqT message) throws StatusException {
            return request.apply(message);
          }

          @Override
          public RespT toDownstream(RespT message, Consumer<ReqT> upstream) throws StatusException {
            return response.apply(message);
          }
        };
    return new ProxiedMethod<>(method, () -> transformer);
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
