package io.etcdcrypt.proxy;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.etcdcrypt.etcd.etcdserverpb.ClusterGrpc;
import io.etcdcrypt.etcd.etcdserverpb.Member;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * {@code etcdserverpb.Cluster}: every response that lists members (MemberList, MemberAdd,
 * MemberUpdate, MemberRemove, MemberPromote) gives each member that has client URLs the proxy's
 * ({@link ClientUrls}) instead, so that a client that learns its endpoints from it keeps talking to
 * a proxy. Everything else is as etcd sent it: the header, IDs, names, peer URLs, learner flags,
 * and the empty client URLs of a member added but not started yet. Requests pass unchanged.
 *
 * <p>Members carry no values, so fields a newer etcd adds to these messages pass through as
 * received (protobuf keeps unknown fields); the fail-closed rule for value-bearing messages does
 * not apply. Other Cluster methods, and ones a future etcd adds, are forwarded raw.
 *
 * <p>etcd's grpc-proxy answers MemberList with one made-up member holding its advertise URL (and
 * nothing else of the cluster) and leaves the other responses alone; this keeps the cluster's real
 * membership visible and closes every response that could point a client at etcd.
 */
final class ClusterProxy {

  private ClusterProxy() {}

  static List<ProxiedMethod<?, ?>> methods(ClientUrls urls) {
    return List.of(
        rewriting(ClusterGrpc.getMemberListMethod(), urls),
        rewriting(ClusterGrpc.getMemberAddMethod(), urls),
        rewriting(ClusterGrpc.getMemberUpdateMethod(), urls),
        rewriting(ClusterGrpc.getMemberRemoveMethod(), urls),
        rewriting(ClusterGrpc.getMemberPromoteMethod(), urls));
  }

  /**
   * {@code response} with {@code urls} in every member it lists: its {@code members}, and
   * MemberAdd's {@code member} (the five responses name them alike).
   */
  @SuppressWarnings("unchecked")
  static <T extends Message> T listingUrls(T response, List<String> urls) {
    Message.Builder b = response.toBuilder();
    for (FieldDescriptor field : response.getDescriptorForType().getFields()) {
      if (!field.getJavaType().equals(FieldDescriptor.JavaType.MESSAGE)
          || !field.getMessageType().equals(Member.getDescriptor())) {
        continue;
      }
      if (field.isRepeated()) {
        for (int i = 0; i < b.getRepeatedFieldCount(field); i++) {
          b.setRepeatedField(field, i, withClientUrls((Member) b.getRepeatedField(field, i), urls));
        }
      } else if (b.hasField(field)) {
        b.setField(field, withClientUrls((Member) b.getField(field), urls));
      }
    }
    return (T) b.build();
  }

  /**
   * {@code m} with {@code urls} as its client URLs, unless it has none (added, not started yet).
   */
  static Member withClientUrls(Member m, List<String> urls) {
    if (m.getClientURLsCount() == 0 || m.getClientURLsList().equals(urls)) {
      return m;
    }
    return m.toBuilder().clearClientURLs().addAllClientURLs(urls).build();
  }

  /** A method whose responses list members with the URLs of the client's connection. */
  private static <ReqT, RespT extends Message> ProxiedMethod<ReqT, RespT> rewriting(
      MethodDescriptor<ReqT, RespT> method, ClientUrls urls) {
    CallTransformer.Factory<ReqT, RespT> factory =
        new CallTransformer.Factory<>() {
          @Override
          public CallTransformer<ReqT, RespT> newCall(SideCalls side) {
            return newCall(side, null);
          }

          @Override
          public CallTransformer<ReqT, RespT> newCall(SideCalls side, ServerCall<?, ?> call) {
            List<String> forThisClient = urls.forCall(call);
            return new CallTransformer<>() {
              @Override
              public CompletionStage<ReqT> toUpstream(ReqT request) {
                return CompletableFuture.completedFuture(request);
              }

              @Override
              public CompletionStage<RespT> toDownstream(RespT response, Consumer<ReqT> upstream) {
                return CompletableFuture.completedFuture(listingUrls(response, forThisClient));
              }
            };
          }
        };
    return new ProxiedMethod<>(method, factory);
  }
}
