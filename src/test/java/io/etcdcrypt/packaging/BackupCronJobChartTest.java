package io.etcdcrypt.packaging;

import static io.etcdcrypt.packaging.RenderedChart.mountHolding;
import static io.etcdcrypt.packaging.RenderedChart.requiredFlag;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.cli.Main;
import io.etcdcrypt.testing.RealComponents;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.batch.v1.CronJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The chart's optional verify-backup CronJob, rendered with helm-java. */
@RealComponents
@Timeout(120)
class BackupCronJobChartTest {

  private static final String FULLNAME = RenderedChart.RELEASE + "-etcd-crypt-proxy";

  private static PodSpec pod(RenderedChart chart) {
    CronJob job = chart.one(CronJob.class);
    return job.getSpec().getJobTemplate().getSpec().getTemplate().getSpec();
  }

  private static Volume volume(PodSpec pod, String name) {
    return pod.getVolumes().stream()
        .filter(v -> v.getName().equals(name))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void offByDefault() {
    assertTrue(RenderedChart.render(Map.of()).all(CronJob.class).isEmpty());
  }

  @Test
  void snapshotsEtcdItselfVerifiesAndKeepsTheNewestInTheGivenVolume() {
    RenderedChart chart =
        RenderedChart.render(
            Map.of(
                "backup.enabled",
                true,
                "backup.keep",
                5,
                "backup.allRevisions",
                true,
                "backup.volume.persistentVolumeClaim.claimName",
                "etcd-backups"));
    CronJob job = chart.one(CronJob.class);
    assertEquals(FULLNAME + "-backup", job.getMetadata().getName());
    assertEquals("Forbid", job.getSpec().getConcurrencyPolicy());
    assertEquals(0, job.getSpec().getJobTemplate().getSpec().getBackoffLimit());
    PodSpec pod = pod(chart);
    assertEquals("Never", pod.getRestartPolicy());
    Container c = pod.getContainers().get(0);
    List<String> args = c.getArgs();
    assertEquals("verify-backup", args.get(0));
    Main.commandLine().parseArgs(args.toArray(String[]::new)); // the CLI accepts them

    assertEquals("https://$(HOST_IP):2379", requiredFlag(c, "--endpoints"), "etcd, not the proxy");
    assertEquals("5", requiredFlag(c, "--keep"));
    assertTrue(args.contains("--all-revisions"), args.toString());
    String dir = requiredFlag(c, "--save-dir");
    assertEquals(
        "etcd-backups",
        volume(pod, mountHolding(c, dir + "/x").getName())
            .getPersistentVolumeClaim()
            .getClaimName());
    String config = requiredFlag(c, "--encryption-provider-config");
    assertEquals(
        FULLNAME + "-encryption-config",
        volume(pod, mountHolding(c, config).getName()).getSecret().getSecretName());
    String cert = requiredFlag(c, "--cert");
    assertEquals(
        FULLNAME + "-etcd-client-tls",
        volume(pod, mountHolding(c, cert).getName()).getSecret().getSecretName());
    assertEquals(Boolean.TRUE, c.getSecurityContext().getReadOnlyRootFilesystem());
    assertNotNull(c.getResources().getLimits().get("memory"));
    assertEquals(Boolean.FALSE, pod.getAutomountServiceAccountToken());
  }

  @Test
  void withoutAVolumeTheSnapshotsGoToAnEmptyDir() {
    PodSpec pod = pod(RenderedChart.render(Map.of("backup.enabled", true)));
    Container c = pod.getContainers().get(0);
    String dir = requiredFlag(c, "--save-dir");
    assertNotNull(volume(pod, mountHolding(c, dir + "/x").getName()).getEmptyDir());
    assertEquals("7", requiredFlag(c, "--keep"));
  }

  @Test
  void kmsPluginRunsAsANativeSidecarSharingItsSocket() {
    PodSpec pod =
        pod(RenderedChart.render(Map.of("backup.enabled", true, "kmsPlugin.enabled", true)));
    Container plugin = pod.getInitContainers().get(0);
    assertEquals("kms-plugin", plugin.getName());
    assertEquals("Always", plugin.getRestartPolicy(), "a sidecar that ends with the Job");
    String socket = requiredFlag(plugin, "--listen").substring("unix://".length());
    Container verify = pod.getContainers().get(0);
    assertEquals(mountHolding(plugin, socket).getName(), mountHolding(verify, socket).getName());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "backup:\n  enabled: true\n  keep: 0\n",
        "backup:\n  enabled: true\n  output: xml\n",
        "backup:\n  enabled: true\n  etcdEndpoint: a:1,b:2\n",
        "backup:\n  enabled: true\n  schedul: daily\n"
      })
  void badBackupValuesFailTheSchema(String values, @TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("values.yaml"), values);
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> RenderedChart.template().withValuesFile(file).call());
    assertTrue(e.getMessage().contains("/backup"), e.getMessage());
  }
}
