package io.etcdcrypt.observe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.Status;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MetricNamesTest {

  @Test
  void bucketsAreUpstreamsExponentialBuckets() {
    double[] transformation = MetricNames.transformationBuckets();
    assertEquals(25, transformation.length);
    assertEquals(5e-6, transformation[0]);
    assertEquals(83.88608, transformation[24], 1e-12);
    double[] keyGeneration = MetricNames.dataKeyGenerationBuckets();
    assertEquals(14, keyGeneration.length);
    assertEquals(0.04096, keyGeneration[13], 1e-15);
    double[] kms = MetricNames.kmsOperationBuckets();
    assertEquals(20, kms.length);
    assertEquals(0.0001, kms[0]);
    assertEquals(52.4288, kms[19], 1e-12);
    assertArrayEquals(
        new double[] {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
        MetricNames.grpcHandlingBuckets());
    // Callers get copies: nobody can change the bounds for everyone.
    MetricNames.transformationBuckets()[0] = 42;
    assertEquals(5e-6, MetricNames.transformationBuckets()[0]);
  }

  @Test
  void grpcCodesAreSpelledAsGoSpellsThem() {
    Set<String> names = new HashSet<>();
    Arrays.stream(Status.Code.values()).forEach(c -> names.add(MetricNames.grpcCodeName(c)));
    assertEquals(
        Set.of(
            "OK",
            "Canceled",
            "Unknown",
            "InvalidArgument",
            "DeadlineExceeded",
            "NotFound",
            "AlreadyExists",
            "PermissionDenied",
            "ResourceExhausted",
            "FailedPrecondition",
            "Aborted",
            "OutOfRange",
            "Unimplemented",
            "Internal",
            "Unavailable",
            "DataLoss",
            "Unauthenticated"),
        names);
    assertEquals("Canceled", MetricNames.grpcCodeName(Status.Code.CANCELLED));
    assertEquals("DeadlineExceeded", MetricNames.grpcCodeName(Status.Code.DEADLINE_EXCEEDED));
  }

  @Test
  void healthCheckNamesAreKubeApiServers() {
    assertEquals("etcd", MetricNames.CHECK_ETCD);
    assertEquals("kms-providers", MetricNames.CHECK_KMS_PROVIDERS);
    assertEquals("kms-provider-3", MetricNames.kmsProviderCheck(3));
  }
}
