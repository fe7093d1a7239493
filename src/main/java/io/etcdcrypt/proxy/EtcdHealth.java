package io.etcdcrypt.proxy;

import java.util.Optional;

/**
 * Whether etcd serves: some member is connected and answered its last probe (etcd's gRPC health
 * check with {@code hasleader}, every second, see {@link Members}) as serving with a leader.
 */
public final class EtcdHealth {

  private final Upstream upstream;

  public EtcdHealth(Upstream upstream) {
    this.upstream = upstream;
  }

  /** Empty when etcd serves, else why not, member by member. */
  public Optional<String> check() {
    return upstream.whyNoMemberServes().map(why -> "no etcd member serves with a leader: " + why);
  }
}
