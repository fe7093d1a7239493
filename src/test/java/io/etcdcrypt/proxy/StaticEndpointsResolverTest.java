package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The members travel in the channel target: no registry, no state shared between channels. */
class StaticEndpointsResolverTest {

  @Test
  void theTargetCarriesEveryMember() {
    List<Endpoint> members = List.of(new Endpoint("10.0.0.11", 2379), new Endpoint("etcd-b.example", 2379),
        new Endpoint("127.0.0.1", 32379));
    String target = StaticEndpointsResolver.target(members);
    assertEquals(members, StaticEndpointsResolver.endpoints(URI.create(target)));
    assertNotEquals(target, StaticEndpointsResolver.target(members.subList(0, 2)));
  }

  @Test
  void aTargetNamesAtLeastOneMember() {
    assertThrows(IllegalArgumentException.class, () -> StaticEndpointsResolver.target(List.of()));
  }
}
