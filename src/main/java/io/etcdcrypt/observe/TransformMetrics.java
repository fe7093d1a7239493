package io.etcdcrypt.observe;

import static io.etcdcrypt.observe.MetricNames.FROM_STORAGE;
import static io.etcdcrypt.observe.MetricNames.TO_STORAGE;

import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.crypto.TransformObserver;
import io.etcdcrypt.kms.KmsPluginException;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * kube-apiserver's transformation metrics, fed by the value codec, plus the proxy's leak and
 * staleness counters.
 */
final class TransformMetrics implements TransformObserver {

  private final Instruments.Family<Counter> operations;
  private final Instruments.Family<Timer> duration;
  private final Instruments.Family<Counter> plaintext;
  private final Instruments.Family<Counter> stale;
  private final Instruments.Family<Counter> alreadyEncrypted;

  /**
   * The meters of successful transformations by label set. A list page records two samples per
   * value; looking the meters up with {@code labelValues} each time (a varargs array, a list, a
   * hash over every label) showed in the proxy's profile, while the label sets are few (resources x
   * prefixes) and their Strings come from the configuration, so equality is mostly identity.
   */
  private final ConcurrentHashMap<Labels, Succeeded> succeeded = new ConcurrentHashMap<>();

  private record Labels(String resource, String type, String transformerPrefix) {}

  private record Succeeded(Counter operations, Timer duration) {}

  TransformMetrics(Instruments instruments) {
    operations =
        instruments.counter(
            MetricNames.TRANSFORMATION_OPERATIONS,
            "Values transformed on the way into (to_storage) or out of (from_storage) etcd, by resource, transformer"
                + " prefix and status (a gRPC code name, or unknown-non-grpc).",
            MetricNames.RESOURCE,
            MetricNames.TRANSFORMATION_TYPE,
            MetricNames.TRANSFORMER_PREFIX,
            MetricNames.STATUS);
    duration =
        instruments.histogram(
            MetricNames.TRANSFORMATION_DURATION,
            "Seconds taken by successful value transformations, by transformer prefix.",
            MetricNames.transformationBuckets(),
            MetricNames.TRANSFORMATION_TYPE,
            MetricNames.TRANSFORMER_PREFIX);
    plaintext =
        instruments.counter(
            MetricNames.PLAINTEXT_VALUES,
            "Values read as plaintext under a resource whose first provider encrypts: stored before encryption was"
                + " configured, or written around the proxy. Rewrite them to encrypt them.",
            MetricNames.RESOURCE);
    stale =
        instruments.counter(
            MetricNames.STALE_VALUES,
            "Values read that were written by a provider or key that no longer writes; a rewrite renews them.",
            MetricNames.RESOURCE);
    alreadyEncrypted =
        instruments.counter(
            MetricNames.ALREADY_ENCRYPTED_WRITES,
            "Values clients wrote that already carried a k8s:enc: prefix (a writer that encrypts"
                + " itself, or raw values re-written): stored_as_is when the configuration opens them"
                + " (no second layer), refused when it does not.",
            MetricNames.RESOURCE,
            MetricNames.OUTCOME);
  }

  @Override
  public void transformed(
      String resource,
      Direction direction,
      String transformerPrefix,
      long nanos,
      TransformException error) {
    String type = direction == Direction.TO_STORAGE ? TO_STORAGE : FROM_STORAGE;
    if (error != null) {
      operations.labelValues(resource, type, transformerPrefix, status(error)).increment();
      return;
    }
    Labels labels = new Labels(resource, type, transformerPrefix);
    Succeeded points = succeeded.get(labels);
    if (points == null) {
      points =
          succeeded.computeIfAbsent(
              labels,
              l ->
                  new Succeeded(
                      operations.labelValues(
                          l.resource(), l.type(), l.transformerPrefix(), status(null)),
                      duration.labelValues(l.type(), l.transformerPrefix())));
    }
    points.operations().increment();
    points.duration().record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void plaintextRead(String resource) {
    plaintext.labelValues(resource).increment();
  }

  @Override
  public void staleRead(String resource) {
    stale.labelValues(resource).increment();
  }

  @Override
  public void alreadyEncryptedWrite(String resource, boolean storedAsIs) {
    alreadyEncrypted.labelValues(resource, storedAsIs ? "stored_as_is" : "refused").increment();
  }

  /**
   * kube-apiserver's status label: {@code OK}, the gRPC code the failure carries (a KMS plugin
   * call's), or {@code unknown-non-grpc} for failures that never reached a gRPC call.
   */
  static String status(TransformException error) {
    if (error == null) {
      return MetricNames.grpcCodeName(Status.Code.OK);
    }
    for (Throwable t = error; t != null; t = t.getCause()) {
      Status.Code code = null;
      if (t instanceof KmsPluginException k && k.code() != Status.Code.OK) {
        code = k.code(); // OK means the call worked but its answer broke the KMS contract: not a
        // gRPC failure
      } else if (t instanceof StatusRuntimeException s) {
        code = s.getStatus().getCode();
      } else if (t instanceof StatusException s) {
        code = s.getStatus().getCode();
      }
      if (code != null) {
        return MetricNames.grpcCodeName(code);
      }
    }
    return MetricNames.UNKNOWN_NON_GRPC;
  }
}
