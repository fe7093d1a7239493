package io.etcdcrypt.proxy;

import static io.etcdcrypt.proxy.ProxiedMethod.rewriting;

import io.etcdcrypt.etcd.v3electionpb.CampaignRequest;
import io.etcdcrypt.etcd.v3electionpb.ElectionGrpc;
import io.etcdcrypt.etcd.v3electionpb.LeaderResponse;
import io.etcdcrypt.etcd.v3electionpb.ProclaimRequest;
import io.etcdcrypt.values.ValueWalker;
import io.grpc.MethodDescriptor;
import java.util.List;

/**
 * {@code v3electionpb.Election}: etcd stores election values with its in-process client, behind the
 * proxy, so the proxy seals Campaign and Proclaim values itself and opens the key-value in Leader
 * and Observe responses.
 */
final class ElectionProxy {

  private ElectionProxy() {}

  static List<ProxiedMethod<?, ?>> methods(ValueWalker walker) {
    ProxiedMethod.Rewrite<LeaderResponse> openLeader = walker::open;
    return List.of(
        rewriting(
            ElectionGrpc.getCampaignMethod(),
            (CampaignRequest r) -> walker.seal(r),
            ProxiedMethod.Rewrite.none()),
        rewriting(
            ElectionGrpc.getProclaimMethod(),
            (ProclaimRequest r) -> walker.seal(r),
            ProxiedMethod.Rewrite.none()),
        rewriting(ElectionGrpc.getLeaderMethod(), ProxiedMethod.Rewrite.none(), openLeader),
        rewriting(ElectionGrpc.getObserveMethod(), ProxiedMethod.Rewrite.none(), openLeader),
        ProxiedMethod.raw(
            ElectionGrpc.getResignMethod().getFullMethodName(), MethodDescriptor.MethodType.UNARY));
  }
}
