package io.etcdcrypt.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.etcdcrypt.testing.RealComponentsGuard;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * The Helm chart rendered by {@code helm template} (in-process, through helm-java), parsed into
 * fabric8's typed Kubernetes objects. Kinds fabric8 does not model (the ServiceMonitor) come back
 * as generic resources.
 */
final class RenderedChart {

  static final Path CHART = Path.of("charts", "etcd-crypt-proxy").toAbsolutePath();
  static final String RELEASE = "ecp";
  static final String NAMESPACE = "kube-system";

  /**
   * helm-java's embedded helm assumes Kubernetes 1.20 without a cluster; the chart needs 1.23 or
   * later.
   */
  static final String KUBE_VERSION = "1.31.0";

  private static final ObjectMapper JSON = new ObjectMapper();

  final String yaml;
  final List<HasMetadata> objects;

  private RenderedChart(String yaml, List<HasMetadata> objects) {
    this.yaml = yaml;
    this.objects = objects;
  }

  /** A template command for the chart, with the test's release name and namespace. */
  static TemplateCommand template() {
    RealComponentsGuard.starting("helm (helm-java's native library)");
    return new Helm(CHART)
        .template()
        .withName(RELEASE)
        .withNamespace(NAMESPACE)
        .withKubeVersion(KUBE_VERSION);
  }

  /** Renders with the chart's own values plus {@code --set} pairs. */
  static RenderedChart render(Map<String, Object> sets) {
    TemplateCommand cmd = template();
    sets.forEach(cmd::set);
    return parse(cmd.call());
  }

  static RenderedChart parse(String yaml) {
    List<HasMetadata> objects = new ArrayList<>();
    for (Object doc : new Load(LoadSettings.builder().build()).loadAllFromString(yaml)) {
      if (doc == null) {
        continue;
      }
      KubernetesResource resource = JSON.convertValue(doc, KubernetesResource.class);
      objects.add((HasMetadata) resource);
    }
    return new RenderedChart(yaml, objects);
  }

  <T extends HasMetadata> List<T> all(Class<T> type) {
    return objects.stream().filter(type::isInstance).map(type::cast).collect(Collectors.toList());
  }

  List<HasMetadata> ofKind(String kind) {
    return objects.stream().filter(o -> kind.equals(o.getKind())).collect(Collectors.toList());
  }

  /** The one object of {@code type}; fails when there is none or more than one. */
  <T extends HasMetadata> T one(Class<T> type) {
    List<T> found = all(type);
    assertEquals(
        1,
        found.size(),
        () -> "expected exactly one " + type.getSimpleName() + ", got " + found.size());
    return found.get(0);
  }

  DaemonSet daemonSet() {
    return one(DaemonSet.class);
  }

  PodSpec pod() {
    return daemonSet().getSpec().getTemplate().getSpec();
  }

  Container container(String name) {
    return containerIfPresent(name)
        .orElseThrow(() -> new AssertionError("no container named " + name));
  }

  Optional<Container> containerIfPresent(String name) {
    return pod().getContainers().stream().filter(c -> name.equals(c.getName())).findFirst();
  }

  Volume volume(String name) {
    return pod().getVolumes().stream()
        .filter(v -> name.equals(v.getName()))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no volume named " + name));
  }

  /**
   * The value of {@code --flag=value} in the container's args (each flag once, in = form, as the
   * chart writes).
   */
  static Optional<String> flag(Container c, String flag) {
    List<String> values =
        c.getArgs().stream()
            .filter(a -> a.startsWith(flag + "="))
            .map(a -> a.substring(flag.length() + 1))
            .collect(Collectors.toList());
    if (values.size() > 1) {
      throw new AssertionError(flag + " given " + values.size() + " times in " + c.getArgs());
    }
    return values.stream().findFirst();
  }

  static String requiredFlag(Container c, String flag) {
    return flag(c, flag)
        .orElseThrow(() -> new AssertionError(flag + " missing from " + c.getArgs()));
  }

  /** The volume mount of {@code c} under which {@code file} lies. */
  static VolumeMount mountHolding(Container c, String file) {
    return c.getVolumeMounts().stream()
        .filter(
            m ->
                file.startsWith(
                    m.getMountPath().endsWith("/") ? m.getMountPath() : m.getMountPath() + "/"))
        .findFirst()
        .orElseThrow(
            () ->
                new AssertionError(file + " lies in no volume mount of container " + c.getName()));
  }

  /** The volume that provides {@code file} to container {@code c}. */
  Volume volumeHolding(Container c, String file) {
    VolumeMount m = mountHolding(c, file);
    return volume(m.getName());
  }

  /** The container port named {@code name}. */
  static int port(Container c, String name) {
    return c.getPorts().stream()
        .filter(p -> name.equals(p.getName()))
        .findFirst()
        .map(p -> p.getContainerPort())
        .orElseThrow(() -> new AssertionError("no port named " + name + " on " + c.getName()));
  }

  /** Port of a {@code host:port} address. */
  static int portOf(String hostPort) {
    return Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
  }

  static <T> T notNull(T value, String what) {
    assertNotNull(value, what);
    return Objects.requireNonNull(value);
  }
}
