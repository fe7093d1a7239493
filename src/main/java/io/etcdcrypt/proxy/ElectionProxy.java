package io.etcdcrypt.proxy;

import static io.etcdcrypt.proxy.ProxiedMethod.rewriting;

import io.etcdcrypt.etcd.etcdserverpb.LeaseGrantRequest;
import io.etcdcrypt.etcd.etcdserverpb.LeaseGrpc;
import io.etcdcrypt.etcd.v3electionpb.CampaignRequest;
import io.etcdcrypt.etcd.v3electionpb.CampaignResponse;
import io.etcdcrypt.etcd.v3electionpb.ElectionGrpc;
import io.etcdcrypt.etcd.v3electionpb.LeaderResponse;
import io.etcdcrypt.etcd.v3electionpb.ProclaimRequest;
import io.etcdcrypt.values.ValueWalker;
import io.grpc.MethodDescriptor;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

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
        new ProxiedMethod<>(
            ElectionGrpc.getCampaignMethod(), side -> new CampaignCall(walker, side)),
        rewriting(
            ElectionGrpc.getProclaimMethod(),
            (ProclaimRequest r) -> walker.seal(r),
            ProxiedMethod.Rewrite.none()),
        rewriting(ElectionGrpc.getLeaderMethod(), ProxiedMethod.Rewrite.none(), openLeader),
        rewriting(ElectionGrpc.getObserveMethod(), ProxiedMethod.Rewrite.none(), openLeader),
        ProxiedMethod.raw(
            ElectionGrpc.getResignMethod().getFullMethodName(), MethodDescriptor.MethodType.UNARY));
  }

  /**
   * One Campaign call. Its value is sealed for the key etcd will store it under, which names the
   * candidate's lease; a Campaign without a lease on a protected name gets its lease from the proxy
   * first, granted as etcd's election server would grant it ({@link ValueWalker#needsOwnLease}), so
   * that the key is known before the value is sealed.
   */
  private static final class CampaignCall
      implements CallTransformer<CampaignRequest, CampaignResponse> {
    private final ValueWalker walker;
    private final SideCalls side;

    CampaignCall(ValueWalker walker, SideCalls side) {
      this.walker = walker;
      this.side = side;
    }

    @Override
    public CompletionStage<CampaignRequest> toUpstream(CampaignRequest request) {
      if (!walker.needsOwnLease(request)) {
        return walker.seal(request);
      }
      LeaseGrantRequest grant =
          LeaseGrantRequest.newBuilder().setTTL(ValueWalker.CAMPAIGN_LEASE_TTL_SECONDS).build();
      return side.unary(LeaseGrpc.getLeaseGrantMethod(), grant)
          .thenCompose(lease -> walker.seal(request.toBuilder().setLease(lease.getID()).build()));
    }

    @Override
    public CompletionStage<CampaignResponse> toDownstream(
        CampaignResponse response, Consumer<CampaignRequest> upstream) {
      return CompletableFuture.completedFuture(response);
    }
  }
}
