package io.etcdcrypt.proxy;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.StatusOr;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Resolves a fixed list of etcd members into one address group per member, so that the channel's
 * {@code round_robin} policy spreads calls over the healthy ones and skips a member that went away, like
 * clientv3 does. Each group carries its own authority so TLS verifies every member against its own host name.
 *
 * <p>The members travel in the channel target itself ({@code etcd-crypt-proxy-endpoints:///h1%3A2379,h2%3A2379},
 * as jetcd's {@code etcd://} targets carry theirs), so the provider holds no state and any number of channels can
 * use it.
 */
final class StaticEndpointsResolver extends NameResolver {

  static final String SCHEME = "etcd-crypt-proxy-endpoints";

  private static final Provider PROVIDER = new Provider();

  private final List<Endpoint> endpoints;
  private final String authority;

  private StaticEndpointsResolver(List<Endpoint> endpoints) {
    this.endpoints = endpoints;
    this.authority = endpoints.get(0).toString();
  }

  /** The channel target that resolves to {@code endpoints}. */
  static String target(List<Endpoint> endpoints) {
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("at least one etcd endpoint is needed");
    }
    return SCHEME + ":///" + endpoints.stream()
        .map(e -> URLEncoder.encode(e.toString(), StandardCharsets.UTF_8))
        .collect(Collectors.joining(","));
  }

  /** The members a target of {@link #target} names. */
  static List<Endpoint> endpoints(URI target) {
    List<Endpoint> endpoints = new ArrayList<>();
    for (String member : target.getRawPath().substring(1).split(",")) {
      endpoints.add(Endpoint.parse(URLDecoder.decode(member, StandardCharsets.UTF_8)));
    }
    return List.copyOf(endpoints);
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
      return SCHEME.equals(targetUri.getScheme()) ? new StaticEndpointsResolver(endpoints(targetUri)) : null;
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
