package io.etcdcrypt.proxy;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/**
 * Makes the proxy recognisable to the tools that must talk to etcd itself (a snapshot, census and
 * rewrap through the proxy would read plaintext or double-encrypt): every response carries {@value
 * #HEADER}{@code : <version>}, in its headers, or in its trailers when it has none (a call that
 * fails at once). etcd never sends it, and clients ignore metadata they do not know.
 */
public final class ProxyMarker implements ServerInterceptor {

  public static final String HEADER = "etcd-crypt-proxy";
  public static final Metadata.Key<String> KEY =
      Metadata.Key.of(HEADER, Metadata.ASCII_STRING_MARSHALLER);

  private final String version;

  public ProxyMarker() {
    String v = ProxyMarker.class.getPackage().getImplementationVersion();
    this.version = v == null ? "development" : v;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    return next.startCall(
        new SimpleForwardingServerCall<>(call) {
          private boolean headersSent;

          @Override
          public void sendHeaders(Metadata responseHeaders) {
            responseHeaders.put(KEY, version);
            headersSent = true;
            super.sendHeaders(responseHeaders);
          }

          @Override
          public void close(Status status, Metadata trailers) {
            if (!headersSent) {
              trailers.put(KEY, version);
            }
            super.close(status, trailers);
          }
        },
        headers);
  }
}
