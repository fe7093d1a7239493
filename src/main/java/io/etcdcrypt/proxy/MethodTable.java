package io.etcdcrypt.proxy;

import io.etcdcrypt.etcd.etcdserverpb.AuthGrpc;
import io.etcdcrypt.etcd.etcdserverpb.ClusterGrpc;
import io.etcdcrypt.etcd.etcdserverpb.LeaseGrpc;
import io.etcdcrypt.etcd.etcdserverpb.MaintenanceGrpc;
import io.etcdcrypt.etcd.v3lockpb.LockGrpc;
import io.grpc.Channel;
import io.grpc.HandlerRegistry;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import java.io.InputStream;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * Decides, for every gRPC method a client calls, how the proxy treats it:
 *
 * <ul>
 *   <li><b>transform</b>: the methods that carry values (KV Range/RangeStream/Put/DeleteRange/Txn,
 *       Watch, Election Campaign/Proclaim/Leader/Observe) have their values passed through the
 *       value codec; the Cluster methods whose responses list members hand out the proxy's client
 *       URLs instead of etcd's ({@link ClusterProxy});
 *   <li><b>raw</b>: every other method of the value-free services (Lease, Cluster, Maintenance,
 *       Auth, Lock, gRPC health), known or not, and the value-free methods of value services
 *       (KV/Compact, Election/Resign), are forwarded as bytes without parsing;
 *   <li><b>deny</b>: any other method of KV, Watch or Election (one a future etcd adds) answers
 *       UNIMPLEMENTED, so clients fall back to a method the proxy understands instead of receiving
 *       ciphertext. Methods of services the proxy does not know are denied the same way.
 * </ul>
 */
final class MethodTable extends HandlerRegistry {

  /**
   * Services whose messages may carry values: an unknown method of these is never passed through.
   */
  static final Set<String> VALUE_SERVICES =
      Set.of("etcdserverpb.KV", "etcdserverpb.Watch", "v3electionpb.Election");

  /**
   * Services without values: all of their methods, including future ones, pass through as bytes.
   */
  private static final List<ServiceDescriptor> RAW_SERVICES =
      List.of(
          LeaseGrpc.getServiceDescriptor(),
          ClusterGrpc.getServiceDescriptor(),
          MaintenanceGrpc.getServiceDescriptor(),
          AuthGrpc.getServiceDescriptor(),
          LockGrpc.getServiceDescriptor(),
          HealthGrpc.getServiceDescriptor());

  enum Treatment {
    TRANSFORM,
    RAW,
    DENY
  }

  private final Channel upstream;
  private final Supplier<Executor> loop;
  private final EndlessCalls endless;
  private final RequestLimit limit;
  private final InFlightBytes inFlight;
  private final Map<String, ServerMethodDefinition<?, ?>> known = new HashMap<>();
  private final Map<String, Treatment> treatments = new HashMap<>();
  private final Set<String> rawServiceNames = new HashSet<>();

  /**
   * {@code loop} names the event loop a call starts on, where it continues after a transform that
   * waited on a KMS plugin; {@code endless} learns of every call that shutdown must end; client
   * messages larger than {@code limit} are refused, and so are large ones that do not fit in {@code
   * inFlight}.
   */
  MethodTable(
      Channel upstream,
      Supplier<Executor> loop,
      EndlessCalls endless,
      RequestLimit limit,
      InFlightBytes inFlight,
      List<ProxiedMethod<?, ?>> transformed) {
    this.upstream = upstream;
    this.loop = loop;
    this.endless = endless;
    this.limit = limit;
    this.inFlight = inFlight;
    for (ProxiedMethod<?, ?> m : transformed) {
      add(m, Treatment.TRANSFORM);
    }
    for (ServiceDescriptor service : RAW_SERVICES) {
      rawServiceNames.add(service.getName());
      for (MethodDescriptor<?, ?> method : service.getMethods()) {
        add(ProxiedMethod.raw(method.getFullMethodName(), method.getType()), Treatment.RAW);
      }
    }
  }

  private <ReqT, RespT> void add(ProxiedMethod<ReqT, RespT> m, Treatment treatment) {
    String name = m.method().getFullMethodName();
    if (known.containsKey(name)) {
      return; // a transformed or explicitly raw entry for a value service wins over the generic raw
      // one
    }
    ServerCallHandler<InputStream, RespT> handler =
        Relay.handler(upstream, loop, endless, limit, inFlight, m.method(), m.transformers());
    known.put(name, ServerMethodDefinition.create(Relay.serverSide(m.method()), handler));
    treatments.put(name, treatment);
  }

  /** How {@code fullMethodName} is treated; unknown methods of value-free services are raw. */
  Treatment treatmentOf(String fullMethodName) {
    Treatment t = treatments.get(fullMethodName);
    if (t != null) {
      return t;
    }
    return rawServiceNames.contains(MethodDescriptor.extractFullServiceName(fullMethodName))
        ? Treatment.RAW
        : Treatment.DENY;
  }

  @Override
  public ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
    ServerMethodDefinition<?, ?> def = known.get(methodName);
    if (def != null) {
      return def;
    }
    if (treatmentOf(methodName) == Treatment.RAW) {
      // A method added to a value-free service after this proxy was built: pass it through.
      ProxiedMethod<InputStream, InputStream> m =
          ProxiedMethod.raw(methodName, MethodDescriptor.MethodType.UNKNOWN);
      return ServerMethodDefinition.create(
          m.method(),
          Relay.handler(upstream, loop, endless, limit, inFlight, m.method(), m.transformers()));
    }
    return denied(methodName);
  }

  private static ServerMethodDefinition<InputStream, InputStream> denied(String methodName) {
    MethodDescriptor<InputStream, InputStream> method =
        ProxiedMethod.rawDescriptor(methodName, MethodDescriptor.MethodType.UNKNOWN);
    String service = MethodDescriptor.extractFullServiceName(methodName);
    String why =
        VALUE_SERVICES.contains(service)
            ? "it may carry values the proxy would have to encrypt or decrypt, and this proxy does not know it"
            : "the proxy does not know service " + service;
    Status status =
        Status.UNIMPLEMENTED.withDescription(
            "etcd-crypt-proxy: method " + methodName + " is not supported: " + why);
    ServerCallHandler<InputStream, InputStream> handler =
        (call, headers) -> {
          call.close(status, new io.grpc.Metadata());
          return new io.grpc.ServerCall.Listener<>() {};
        };
    return ServerMethodDefinition.create(method, handler);
  }
}
