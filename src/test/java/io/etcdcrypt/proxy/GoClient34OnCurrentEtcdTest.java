package io.etcdcrypt.proxy;

import io.etcdcrypt.testing.EtcdRelease;
import io.etcdcrypt.testing.GoClient;
import io.etcdcrypt.testing.RealComponents;

/**
 * Go clientv3 3.4 (Debian's sources) on the etcd release the suite runs on (3.6 unless {@code
 * etcd.release} says).
 */
@RealComponents
class GoClient34OnCurrentEtcdTest extends GoClientScenarios {

  GoClient34OnCurrentEtcdTest() {
    super(GoClient.V3_4, EtcdRelease.current());
  }
}
