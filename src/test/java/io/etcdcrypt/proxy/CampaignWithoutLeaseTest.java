package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.LeaseGrpc;
import io.etcdcrypt.etcd.etcdserverpb.LeaseTimeToLiveRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.etcd.v3electionpb.CampaignRequest;
import io.etcdcrypt.etcd.v3electionpb.CampaignResponse;
import io.etcdcrypt.etcd.v3electionpb.ElectionGrpc;
import io.etcdcrypt.etcd.v3electionpb.LeaderRequest;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyExtension;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.Channel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A Campaign without a lease makes etcd's election server grant one and store the value under a key
 * that names it. Through the proxy the value must be sealed for that key, or nobody can read the
 * leader back (before, it was sealed for {@code <name>/0} and Leader failed with "message
 * authentication failed").
 */
@RealComponents
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class CampaignWithoutLeaseTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @RegisterExtension
  static final ProxyExtension proxy = new ProxyExtension(etcd, TestCodecs.secretsUnderAesGcm());

  @Test
  void campaignWithoutLeaseIsSealedForTheKeyEtcdStoresItUnder() {
    ByteString name = pb("/registry/secrets/elections/no-lease");
    CampaignResponse won =
        ElectionGrpc.newBlockingStub(proxy.toProxy())
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .campaign(
                CampaignRequest.newBuilder().setName(name).setValue(pb("candidate one")).build());

    long lease = won.getLeader().getLease();
    assertNotEquals(0, lease, "the leader holds a granted lease");
    ByteString key = name.concat(pb("/" + Long.toHexString(lease)));
    assertEquals(key, won.getLeader().getKey());

    assertEquals(
        pb("candidate one"),
        ElectionGrpc.newBlockingStub(proxy.toProxy())
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .leader(LeaderRequest.newBuilder().setName(name).build())
            .getKv()
            .getValue(),
        "the leader reads back through the proxy");

    KeyValue stored = onlyKey(proxy.toEtcd(), key);
    assertTrue(stored.getValue().startsWith(pb("k8s:enc:aesgcm:v1:key1:")), "stored sealed");
    assertEquals(lease, stored.getLease());
    assertEquals(grantedTtl(proxy.toEtcd(), lease), directCampaignLeaseTtl(), "as etcd grants");
  }

  /** The TTL of the lease etcd itself grants a Campaign without one, on an ungoverned name. */
  private static long directCampaignLeaseTtl() {
    CampaignResponse direct =
        ElectionGrpc.newBlockingStub(proxy.toEtcd())
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .campaign(
                CampaignRequest.newBuilder()
                    .setName(pb("/elections/no-lease"))
                    .setValue(pb("direct"))
                    .build());
    assertNotEquals(0, direct.getLeader().getLease());
    return grantedTtl(proxy.toEtcd(), direct.getLeader().getLease());
  }

  private static long grantedTtl(Channel etcd, long lease) {
    return LeaseGrpc.newBlockingStub(etcd)
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .leaseTimeToLive(LeaseTimeToLiveRequest.newBuilder().setID(lease).build())
        .getGrantedTTL();
  }

  private static KeyValue onlyKey(Channel etcd, ByteString key) {
    var range =
        KVGrpc.newBlockingStub(etcd)
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .range(RangeRequest.newBuilder().setKey(key).build());
    assertEquals(1, range.getCount(), "etcd stored the candidate at " + key.toStringUtf8());
    return range.getKvs(0);
  }
}
