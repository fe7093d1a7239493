package io.etcdcrypt.proxy;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;
import java.util.function.LongSupplier;

/**
 * The JVM's direct memory, where Netty keeps every message on the wire: what the wire buffers' pool
 * holds of it now, and its limit ({@code -XX:MaxDirectMemorySize}). When it runs out, the read that
 * needed it fails and takes its whole connection down, etcd's included, with every call on it; so
 * the proxy admits large requests only while there is room for etcd's answers as well ({@link
 * InFlightBytes}).
 *
 * @param held the bytes the pool holds now, in use or not (a chunk with free pages still counts
 *     against the limit), read cheaply at each large request
 * @param limit the most the JVM hands out
 */
record DirectMemory(LongSupplier held, long limit) {

  /** The proxy's wire buffers, within this JVM's limit. */
  static DirectMemory of(WireBuffers buffers) {
    return new DirectMemory(buffers::reserved, jvmLimit());
  }

  /**
   * {@code -XX:MaxDirectMemorySize}; when it is not set, the JVM allows as much as the heap's
   * maximum.
   */
  private static long jvmLimit() {
    String set =
        ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
            .getVMOption("MaxDirectMemorySize")
            .getValue();
    long limit = Long.parseLong(set);
    return limit > 0 ? limit : Runtime.getRuntime().maxMemory();
  }
}
