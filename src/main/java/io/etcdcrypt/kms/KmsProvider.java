package io.etcdcrypt.kms;

import io.etcdcrypt.config.KmsApiVersion;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.crypto.Transformer;
import java.time.Instant;
import java.util.Optional;

/**
 * A KMS provider of an EncryptionConfiguration: the transformer for the bytes after its {@code
 * k8s:enc:kms:<apiVersion>:<name>:} prefix, plus its health and its lifetime (a background status
 * poller and a gRPC channel, released by {@link #close()}).
 */
public interface KmsProvider extends Transformer, AutoCloseable {

  /** The provider's {@code name} from the configuration. */
  String name();

  KmsApiVersion apiVersion();

  /**
   * Whether the plugin works, as kube-apiserver's {@code kms-provider} health checks decide it;
   * cached (20 s when healthy, 3 s when not), so callers may ask on every probe.
   */
  KmsHealth health();

  /**
   * The result {@link #health()} last returned, without asking the plugin (a metrics scrape must
   * not wait on it); failed "not checked yet" before the first check.
   */
  KmsHealth lastHealth();

  /**
   * KMS v2: until when the current seed may encrypt (each successful Status moves it 3 minutes
   * ahead; past it writes are refused). Empty before the first seed, and for KMS v1, which has no
   * such window.
   */
  default Optional<Instant> writeWindowEnd() {
    return Optional.empty();
  }

  /** What a closed provider answers to every encrypt and decrypt. */
  static TransformException closedError(String name) {
    return new TransformException(
        "KMS provider "
            + name
            + " was closed (its configuration was replaced or the"
            + " proxy is shutting down)");
  }

  /** Stops background work and closes the plugin connection. Idempotent. */
  @Override
  void close();
}
