package io.etcdcrypt.faults;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.StoredWrites;
import io.grpc.ManagedChannel;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** What etcd stores, read straight from a member, past the proxy. */
final class AtRest {

  static final String PROTECTED = "/registry/secrets/";

  private AtRest() {}

  /** The member's revision now. */
  static long revision(EtcdProcess etcd) {
    ManagedChannel ch = Channels.plaintext(etcd.endpoint());
    try {
      return KVGrpc.newBlockingStub(ch)
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .range(
              RangeRequest.newBuilder()
                  .setKey(ByteString.copyFromUtf8("/"))
                  .setCountOnly(true)
                  .build())
          .getHeader()
          .getRevision();
    } finally {
      ch.shutdownNow();
    }
  }

  /**
   * No plaintext at rest: every value etcd stored under {@code /registry/secrets/} after revision
   * {@code from}, each version in its history (not just the last), is encrypted; and there is one.
   */
  static void assertNoPlaintextSince(EtcdProcess etcd, long from) {
    List<StoredWrites.Put> puts = StoredWrites.history(etcd, from + 1);
    StoredWrites.assertAllStoredAs(puts, PROTECTED, "k8s:enc:");
    System.out.println(
        "at rest: "
            + puts.stream().filter(p -> p.key().startsWith(PROTECTED)).count()
            + " values stored under "
            + PROTECTED
            + " since revision "
            + from
            + ", all encrypted");
  }
}
