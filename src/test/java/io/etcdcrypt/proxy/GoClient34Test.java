package io.etcdcrypt.proxy;

import io.etcdcrypt.testing.EtcdRelease;
import io.etcdcrypt.testing.GoClient;
import io.etcdcrypt.testing.RealComponents;

/** Go clientv3 3.4 (Debian's sources) on Debian's etcd 3.4. */
@RealComponents
class GoClient34Test extends GoClientScenarios {

  GoClient34Test() {
    super(GoClient.V3_4, EtcdRelease.V3_4);
  }
}
