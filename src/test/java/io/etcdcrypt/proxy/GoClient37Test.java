package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertFalse;

import io.etcdcrypt.testing.EtcdRelease;
import io.etcdcrypt.testing.GoClient;
import io.etcdcrypt.testing.RealComponents;
import org.junit.jupiter.api.Test;

/** Go clientv3 3.7 on etcd 3.7, with {@code KV.GetStream} (etcd 3.7's {@code KV/RangeStream}). */
@RealComponents
class GoClient37Test extends GoClientScenarios {

  GoClient37Test() {
    super(GoClient.V3_7, EtcdRelease.V3_7);
  }

  /**
   * GetStream over 45 keys comes in three chunks (10, 20, 15 keys) both ways, governed values
   * decrypted in each; the merged stream equals a plain Get of the same range, with every option
   * tried.
   */
  @Test
  void rangeStream() {
    String t = assertSameTranscript("rangestream");
    assertContains(
        t, "chunk 1: keys=10 /registry/secrets/go-stream/00../registry/secrets/go-stream/09");
    assertContains(
        t,
        "chunk 3: keys=15 /registry/secrets/go-stream/30../registry/secrets/go-stream/44 count=45");
    assertContains(
        t,
        "stream equals get=true: get rev=r+91 count=45 more=false kvs=[/registry/secrets/go-stream/00=\"changed\"");
    assertFalse(t.contains("stream equals get=false"), t);
  }
}
