package io.etcdcrypt.proxy;

import static io.etcdcrypt.proxy.ProxiedMethod.rewriting;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.v3electionpb.CampaignRequest;
import io.etcdcrypt.etcd.v3electionpb.ElectionGrpc;
import io.etcdcrypt.etcd.v3electionpb.LeaderResponse;
import io.etcdcrypt.etcd.v3electionpb.ProclaimRequest;
import io.grpc.MethodDescriptor;
import io.grpc.StatusException;
import java.util.List;

/**
 * {@code v3electionpb.Election}: etcd stores election values with its in-process client, behind the proxy, so
 * the proxy seals Campaign and Proclaim values itself and opens the key-value in Leader and Observe responses.
 */
final class ElectionProxy {

  private ElectionProxy() {}

  static List<ProxiedMethod<?, ?>> methods(ValueWalker walker) {
    ProxiedMethod.Rewrite<LeaderResponse> openLeader = r -> open(walker, r);
    return List.of(
        rewriting(ElectionGrpc.getCampaignMethod(), r -> seal(walker, r), ProxiedMethod.Rewrite.none()),
        rewriting(ElectionGrpc.getProclaimMethod(), r -> seal(walker, r), ProxiedMethod.Rewrite.none()),
        rewriting(ElectionGrpc.getLeaderMethod(), ProxiedMethod.Rewrite.none(), openLeader),
        rewriting(ElectionGrpc.getObserveMethod(), ProxiedMethod.Rewrite.none(), openLeader),
        ProxiedMethod.raw(
            ElectionGrpc.getResignMethod().getFullMethodName(), MethodDescriptor.MethodType.UNARY));
  }

  /**
   * etcd stores a candidate's value at {@code <name>/<lease ID in lower-case hex>} (clientv3's concurrency
   * package), so that is the key the value is sealed for.
   */
  static ByteString campaignKey(CampaignRequest r) {
    long lease = r.getLease();
    String hex = lease < 0 ? "-" + Long.toHexString(-lease) : Long.toHexString(lease);
    return r.getName().concat(ByteString.copyFromUtf8("/" + hex));
  }

  private static CampaignRequest seal(ValueWalker walker, CampaignRequest r) throws StatusException {
    walker.checkRequest(r, "CampaignRequest");
    ByteString key = campaignKey(r);
    ByteString sealed = walker.sealValue(key, r.getValue());
    return sealed == r.getValue() ? r : r.toBuilder().setValue(sealed).build();
  }

  private static ProclaimRequest seal(ValueWalker walker, ProclaimRequest r) throws StatusException {
    walker.checkRequest(r, "ProclaimRequest");
    ByteString sealed = walker.sealValue(r.getLeader().getKey(), r.getValue());
    return sealed == r.getValue() ? r : r.toBuilder().setValue(sealed).build();
  }

  private static LeaderResponse open(ValueWalker walker, LeaderResponse r) throws StatusException {
    if (!r.hasKv()) {
      return r;
    }
    var kv = walker.open(r.getKv());
    return kv == r.getKv() ? r : r.toBuilder().setKv(kv).build();
  }
}
