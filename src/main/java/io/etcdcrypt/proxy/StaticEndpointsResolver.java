package io.etcdcrypt.proxy;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.StatusOr;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Resolves a fixed list of etcd members into one address group per member, so that the channel's
 * {@code round_robin} policy spreads calls over the healthy ones and skips a member that went away, like
 * clientv3 does. Each group carries its own authority so TLS verifies every member against its own host name.
 */
final class StaticEndpointsResolver extends NameResolver {

  static final String SCHEME = "etcd-crypt-proxy-endpoints";

  private static final Provider PROVIDER = new Provider();
  private static final Map<String, List<Endpoint>> TARGETS = new ConcurrentHashMap<>();
  private static final AtomicLong IDS = new AtomicLong();

  private final List<Endpoint> endpoints;
  private final String authority;

  private StaticEndpointsResolver(List<Endpoint> endpoints) {
    this.endpoints = endpoints;
    this.authority = endpoints.get(0).toString();
  }

  /** Registers {@code endpoints} and returns the channel target that resolves to them. */
  static String target(List<Endpoint> endpoints) {
    String id = Long.toString(IDS.incrementAndGet());
    TARGETS.put(id, List.copyOf(endpoints));
    return SCHEME + ":///" + id;
  }

  static void forget(String target) {
    TARGETS.remove(URI.create(target).getPath().substring(1));
  }

  static NameResolverProvider provider() {
    return PROVIDER;
  }

  @Override
  public String getServiceAuthority() {
    return authority;
  }

  @Override
  public void start(Listener2 listener) {
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    for (Endpoint e : endpoints) {
      SocketAddress addr = new InetSocketAddress(e.host(), e.port());
      Attributes attrs =
          Attributes.newBuilder().set(EquivalentAddressGroup.ATTR_AUTHORITY_OVERRIDE, e.toString()).build();
      groups.add(new EquivalentAddressGroup(addr, attrs));
    }
    listener.onResult2(
        ResolutionResult.newBuilder().setAddressesOrError(StatusOr.fromValue(groups)).build());
  }

  @Override
  public void shutdown() {}

  private static final class Provider extends NameResolverProvider {
    @Override
    public NameResolver newNameResolver(URI targetUri, Args args) {
      if (!SCHEME.equals(targetUri.getScheme())) {
        return null;
      }
      List<Endpoint> endpoints = TARGETS.get(targetUri.getPath().substring(1));
      return endpoints == null ? null : new StaticEndpointsResolver(endpoints);
    }

    @Override
    public String getDefaultScheme() {
      return SCHEME;
    }

    @Override
    protected boolean isAvailable() {
      return true;
    }

    @Override
    protected int priority() {
      return 5;
    }

    @Override
    public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
      return List.of(InetSocketAddress.class);
    }
  }
}
