package io.etcdcrypt.kms;

import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.log.Durations;
import io.etcdcrypt.log.StateChangeLog;
import org.slf4j.Logger;

/** The lines a KMS provider logs when its plugin becomes unhealthy and when it recovers. */
final class ProviderHealthLog {

  private ProviderHealthLog() {}

  /**
   * {@code KMS <version> provider <name> at <endpoint> is unhealthy: <cause>; <whileUnhealthy>},
   * and {@code ... recovered (it was unhealthy for <duration>): its health check passes again}.
   */
  static StateChangeLog of(
      Logger log, String version, String name, KmsEndpoint endpoint, String whileUnhealthy) {
    String provider = "KMS " + version + " provider " + name + " at " + endpoint;
    return new StateChangeLog(
        log,
        cause -> provider + " is unhealthy: " + cause + "; " + whileUnhealthy,
        down ->
            provider
                + " recovered (it was unhealthy for "
                + Durations.brief(down)
                + "): its health check passes again");
  }
}
