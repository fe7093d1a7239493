package io.etcdcrypt.kube;

import static io.etcdcrypt.kube.KubeObjects.assertStoredUnder;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.kube.KubeObjects.Kind;
import io.etcdcrypt.observe.MetricNames;
import io.etcdcrypt.testing.KubeTestBed;
import io.etcdcrypt.testing.PrometheusText;
import io.etcdcrypt.testing.RealComponents;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Switching a cluster between the proxy and kube-apiserver's native encryption with the very same
 * EncryptionConfiguration file, both ways, with nothing re-encrypted: what the proxy wrote under
 * KMS v2 (through the same plugin socket), aesgcm, aescbc and secretbox, kube-apiserver reads
 * natively, and what kube-apiserver wrote natively, the proxy reads.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@RealComponents
class NativeSwitchIT {

  @RegisterExtension
  static final KubeTestBed bed = KubeTestBed.withConfig(KubeTestBed.ALL_PROVIDERS);

  private static final String NS = "switch";

  /** One kind per provider: KMS v2, aesgcm, aescbc, secretbox. */
  private static final List<Kind> ENCRYPTED =
      List.of(Kind.SECRET, Kind.CONFIGMAP, Kind.PODTEMPLATE, Kind.WIDGET);

  @Test
  void proxyToNativeAndBackWithTheSameFile() throws Exception {
    KubeObjects objects = new KubeObjects(bed.client());
    objects.createNamespace(NS);
    objects.createWidgetDefinition();
    for (Kind kind : ENCRYPTED) {
      objects.create(kind, NS, "by-proxy", kind + " written through the proxy");
    }
    Map<Kind, byte[]> storedByProxy = new EnumMap<>(Kind.class);
    for (Kind kind : ENCRYPTED) {
      byte[] stored = bed.rawValue(kind.key(NS, "by-proxy"));
      assertStoredUnder(stored, kind.storedPrefix);
      storedByProxy.put(kind, stored);
    }

    // In one edit kube-apiserver talks to etcd and encrypts with the proxy's file; then the proxy
    // goes away.
    bed.apiserver().restart(bed.nativeEncryption(bed.config()));
    bed.proxy().stop();
    int nativeLog = bed.apiserver().logLines();
    objects.awaitWidgetsServed();
    for (Kind kind : ENCRYPTED) {
      assertEquals(
          kind + " written through the proxy", objects.read(kind, NS, "by-proxy"), kind.toString());
      // Reading rewrote nothing: the proxy's bytes are the very bytes kube-apiserver opened.
      assertArrayEquals(
          storedByProxy.get(kind), bed.rawValue(kind.key(NS, "by-proxy")), kind.toString());
      objects.create(kind, NS, "native", kind + " written natively");
      assertStoredUnder(bed.rawValue(kind.key(NS, "native")), kind.storedPrefix);
    }
    assertNoStorageErrors(nativeLog);

    // And back: kube-apiserver through the proxy, without its own encryption.
    bed.proxy().restart();
    bed.apiserver().restart(bed.throughProxy());
    int proxyLog = bed.apiserver().logLines();
    objects.awaitWidgetsServed();
    for (Kind kind : ENCRYPTED) {
      assertEquals(kind + " written natively", objects.read(kind, NS, "native"), kind.toString());
      assertEquals(
          kind + " written through the proxy", objects.read(kind, NS, "by-proxy"), kind.toString());
    }
    assertNoStorageErrors(proxyLog);
  }

  /**
   * Issue 15 item 2: kube-apiserver goes through the proxy with its own {@code
   * --encryption-provider-config} still set. The proxy adds no second layer: etcd holds what native
   * encryption writes (for KMS v2, under kube-apiserver's own seed, which the proxy first asks the
   * plugin to decrypt), kube-apiserver (whose file lists identity) reads the plaintext the proxy
   * returns, and so does a kube-apiserver that no longer encrypts.
   */
  @Test
  void aKubeApiserverThatStillEncryptsBehindTheProxyIsStoredOnce() throws Exception {
    String ns = "both";
    List<Kind> kinds = List.of(Kind.SECRET, Kind.CONFIGMAP, Kind.PODTEMPLATE);
    bed.apiserver().restart(bed.throughProxyEncryptingToo(bed.config()));
    KubeObjects objects = new KubeObjects(bed.client());
    try {
      objects.createNamespace(ns);
      for (Kind kind : kinds) {
        objects.create(kind, ns, "twice", kind + " encrypted by both");
        String key = kind.key(ns, "twice");
        assertStoredUnder(bed.rawValue(key), kind.storedPrefix);
        byte[] inner = bed.storedPlaintext(key);
        assertTrue(
            new String(inner, 0, 4, StandardCharsets.ISO_8859_1).equals("k8s\0"),
            kind + ": one layer, kube-apiserver's protobuf inside, not a second k8s:enc: value");
        assertEquals(kind + " encrypted by both", objects.read(kind, ns, "twice"), kind.toString());
      }
      assertTrue(
          bed.proxy().output().contains("that arrived already encrypted as they are"),
          "the proxy says what it saw");
      double stored =
          PrometheusText.parse(bed.proxy().metrics())
              .value(
                  MetricNames.ALREADY_ENCRYPTED_WRITES,
                  "resource",
                  "secrets",
                  "outcome",
                  "stored_as_is");
      assertTrue(stored >= 1, "and counts it: " + stored);
    } finally {
      bed.apiserver().restart(bed.throughProxy()); // the fix, and the state the other test expects
    }
    for (Kind kind : kinds) {
      assertEquals(
          kind + " encrypted by both", objects.read(kind, ns, "twice"), kind + " after the fix");
    }
  }

  private static void assertNoStorageErrors(int fromLine) {
    List<String> errors = bed.apiserver().storageErrorsSince(fromLine);
    assertTrue(
        errors.isEmpty(), "kube-apiserver logged storage errors:\n" + String.join("\n", errors));
  }
}
