package io.etcdcrypt.config;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Maps etcd keys to the group-resource whose encryption rule applies to them, the way
 * kube-apiserver lays out its keys under {@code --etcd-prefix} (encryption-format.md §6).
 *
 * <ul>
 *   <li>Built-ins: {@code <prefix><path>/[<namespace>/]<name>}, where {@code <path>} comes from a
 *       fixed table (e.g. {@code secrets}, {@code minions} for nodes, {@code services/specs},
 *       {@code ingress}).
 *   <li>Groups served by kube-aggregator and apiextensions-apiserver, i.e. every custom resource:
 *       {@code <prefix><group>/<resource>/...}; recognised because the first segment contains a
 *       dot, which no built-in path does.
 *   <li>Never resolved: keys outside the prefix (e.g. {@code compact_rev_key}); keys kube-apiserver
 *       writes without any transformer ({@code <prefix>ranges/...}, {@code masterleases/...},
 *       {@code peerserverleases/...}, {@code health}); keys with no object name after the resource
 *       path (the bare {@code <prefix>secrets} or {@code <prefix>secrets/}); {@code services/} keys
 *       other than {@code specs/} and {@code endpoints/}; and empty path segments.
 * </ul>
 *
 * <p><b>Unknown built-in paths.</b> A first segment without a dot that is not in the table (a
 * resource added to Kubernetes after this table was written, or a typo'd config name such as {@code
 * secret}) resolves to the <em>core</em> group with that segment as resource name. kube-apiserver
 * keys built-ins without their group, so the real group cannot be known; attributing the key to the
 * core group is the choice that leaves the fewest configured values in plaintext: {@code *.*} and
 * {@code *.} rules cover it, as does an explicit core rule with the same name. What it cannot cover
 * is an explicit rule naming an unknown resource of a non-core group (say {@code foos.apps});
 * {@link EncryptionConfigLoader} warns about such rules, since kube-apiserver accepts them.
 * Resolving such keys to nothing instead would also leave {@code *.*}-configured values in
 * plaintext. The cost is on the other side: should kube-apiserver add a new raw (transformer-less)
 * storage path, this proxy would encrypt it under {@code *.*} or {@code *.} where kube-apiserver
 * does not; the raw paths known today are excluded above.
 *
 * <p>{@link #resolve(byte[])} is on the proxy's hot path: it scans the key bytes once, looks
 * segments up in precomputed tables without building Strings, and caches the group-resources it
 * creates for custom resources. Instances are immutable and thread-safe.
 */
public final class ResourceResolver {

  /** kube-apiserver's {@code --etcd-prefix} default. */
  public static final String DEFAULT_PREFIX = "/registry";

  private static final int CACHE_SIZE = 512; // power of two

  private final String prefix;
  private final byte[] prefixBytes;
  private final ByteSegmentTable<Segment> firstSegments;
  private final Map<GroupResource, List<String>> prefixesByResource;

  /** Direct-mapped cache for group-resources built from key bytes; races only cost a rebuild. */
  private final CachedResolution[] cache = new CachedResolution[CACHE_SIZE];

  /**
   * What a first path segment leads to: a resource ({@code secrets}), a table of second segments
   * ({@code services}), or nothing at all (raw storage such as {@code ranges}: empty resource, no
   * children).
   */
  private record Segment(Optional<GroupResource> resource, ByteSegmentTable<Leaf> children) {}

  /** A second-level path segment ({@code specs} or {@code endpoints} under {@code services}). */
  private record Leaf(Optional<GroupResource> resource) {}

  private static final class CachedResolution {
    final byte[] path;
    final Optional<GroupResource> resource;

    CachedResolution(byte[] path, Optional<GroupResource> resource) {
      this.path = path;
      this.resource = resource;
    }
  }

  /**
   * @param etcdPrefix kube-apiserver's {@code --etcd-prefix}, normalised the same way ({@code
   *     registry} and {@code /registry} both mean {@code /registry/})
   */
  public ResourceResolver(String etcdPrefix) {
    this.prefix = normalisePrefix(etcdPrefix);
    this.prefixBytes = prefix.getBytes(StandardCharsets.UTF_8);

    Map<String, Map<String, Leaf>> branches = new LinkedHashMap<>();
    Map<String, Segment> first = new HashMap<>();
    Map<GroupResource, List<String>> prefixes = new LinkedHashMap<>();
    for (BuiltInResources.Location l : BuiltInResources.LOCATIONS) {
      String path = l.path();
      int slash = path.indexOf('/');
      if (slash < 0) {
        first.put(path, new Segment(Optional.of(l.resource()), null));
      } else {
        branches
            .computeIfAbsent(path.substring(0, slash), k -> new LinkedHashMap<>())
            .put(path.substring(slash + 1), new Leaf(Optional.of(l.resource())));
      }
      prefixes.computeIfAbsent(l.resource(), k -> new ArrayList<>()).add(prefix + path + "/");
    }
    for (String raw : BuiltInResources.RAW_STORAGE_SEGMENTS) {
      first.put(raw, new Segment(Optional.empty(), null));
    }
    branches.forEach(
        (segment, leaves) -> first.put(segment, new Segment(null, new ByteSegmentTable<>(leaves))));
    this.firstSegments = new ByteSegmentTable<>(first);
    prefixes.replaceAll((gr, list) -> List.copyOf(list));
    this.prefixesByResource = Map.copyOf(prefixes);
  }

  /** A resolver for the default prefix {@code /registry/}. */
  public static ResourceResolver withDefaultPrefix() {
    return new ResourceResolver(DEFAULT_PREFIX);
  }

  /** The normalised etcd prefix, always starting and ending with {@code /}. */
  public String prefix() {
    return prefix;
  }

  /**
   * The group-resource whose encryption rule governs the value stored under {@code key}, if any.
   */
  public Optional<GroupResource> resolve(byte[] key) {
    int p = prefixBytes.length;
    if (key.length <= p || !Arrays.equals(key, 0, p, prefixBytes, 0, p)) {
      return Optional.empty();
    }
    int segmentEnd = indexOf(key, (byte) '/', p);
    if (segmentEnd <= p) { // no slash (no object name) or an empty segment
      return Optional.empty();
    }
    Segment segment = firstSegments.get(key, p, segmentEnd);
    if (segment != null) {
      return segment.children() == null
          ? (segmentEnd + 1 < key.length ? segment.resource() : Optional.empty())
          : resolveSecondLevel(segment.children(), key, segmentEnd + 1);
    }
    if (indexOf(key, (byte) '.', p, segmentEnd) >= 0) {
      // <group>/<resource>/<name...>
      int resourceEnd = indexOf(key, (byte) '/', segmentEnd + 1);
      if (resourceEnd <= segmentEnd + 1 || resourceEnd + 1 >= key.length) {
        return Optional.empty();
      }
      return cached(key, p, resourceEnd, segmentEnd);
    }
    if (segmentEnd + 1 >= key.length) {
      return Optional.empty();
    }
    return cached(key, p, segmentEnd, -1);
  }

  /**
   * Same as {@link #resolve(byte[])}; copies the key. Callers that already hold the key as a byte
   * array (e.g. for the associated data) should pass that instead.
   */
  public Optional<GroupResource> resolve(ByteString key) {
    return resolve(key.toByteArray());
  }

  /**
   * The etcd key prefixes under which {@code resource} is stored, for scanning it with a range
   * request; every key under one of them (with an object name) {@link #resolve resolves} to {@code
   * resource}, and vice versa.
   *
   * <p>Built-ins come from the table ({@code secrets} → {@code /registry/secrets/}, nodes → {@code
   * /registry/minions/}); a group with a dot uses {@code /registry/<group>/<resource>/} (custom
   * resources, aggregated APIs); an unknown core resource uses {@code /registry/<resource>/},
   * matching how {@link #resolve} attributes unknown segments. Returns an empty list where no key
   * resolves to {@code resource}: an unknown resource of a non-core built-in group
   * (kube-apiserver's path for it is unknown), or a core name whose path belongs to another
   * resource or to raw storage ({@code minions}, {@code ranges}).
   *
   * @throws IllegalArgumentException for a wildcard, or a name containing {@code /}
   */
  public List<String> keyPrefixesFor(GroupResource resource) {
    if (resource.isWildcard() || resource.group().equals("*")) {
      throw new IllegalArgumentException(
          "wildcard " + resource.configName() + " has no single key prefix");
    }
    if (resource.resource().isEmpty()
        || resource.resource().indexOf('/') >= 0
        || resource.group().indexOf('/') >= 0) {
      throw new IllegalArgumentException("not a resource name: " + resource);
    }
    List<String> known = prefixesByResource.get(resource);
    if (known != null) {
      return known;
    }
    String group = resource.group();
    if (group.indexOf('.') >= 0) {
      return List.of(prefix + group + "/" + resource.resource() + "/");
    }
    if (group.isEmpty() && resource.resource().indexOf('.') < 0) {
      byte[] name = resource.resource().getBytes(StandardCharsets.UTF_8);
      if (firstSegments.get(name, 0, name.length) == null) {
        return List.of(prefix + resource.resource() + "/");
      }
    }
    return List.of();
  }

  /** Every group-resource the built-in table knows a storage location for. */
  public Set<GroupResource> knownResources() {
    return prefixesByResource.keySet();
  }

  /**
   * kube-apiserver's normalisation: {@code path.Join("/", prefix)}, then a trailing {@code /}. So
   * {@code registry}, {@code /registry} and {@code //registry/} all become {@code /registry/}, and
   * an empty prefix becomes {@code /}.
   */
  public static String normalisePrefix(String etcdPrefix) {
    Deque<String> parts = new ArrayDeque<>();
    for (String part : etcdPrefix.split("/")) {
      if (part.isEmpty() || part.equals(".")) {
        continue;
      }
      if (part.equals("..")) {
        parts.pollLast(); // ".." at the root stays at the root
        continue;
      }
      parts.addLast(part);
    }
    return parts.isEmpty() ? "/" : "/" + String.join("/", parts) + "/";
  }

  private static Optional<GroupResource> resolveSecondLevel(
      ByteSegmentTable<Leaf> children, byte[] key, int from) {
    int end = indexOf(key, (byte) '/', from);
    if (end < 0 || end + 1 >= key.length) {
      return Optional.empty();
    }
    Leaf leaf = children.get(key, from, end);
    return leaf == null ? Optional.empty() : leaf.resource();
  }

  /**
   * The group-resource for the path {@code key[from, to)}: {@code <group>/<resource>} if {@code
   * groupEnd >= 0}, else a bare core resource name.
   */
  private Optional<GroupResource> cached(byte[] key, int from, int to, int groupEnd) {
    int slot = ByteSegmentTable.hash(key, from, to) & (CACHE_SIZE - 1);
    CachedResolution hit = cache[slot];
    if (hit != null && Arrays.equals(hit.path, 0, hit.path.length, key, from, to)) {
      return hit.resource;
    }
    GroupResource gr =
        groupEnd < 0
            ? new GroupResource("", new String(key, from, to - from, StandardCharsets.UTF_8))
            : new GroupResource(
                new String(key, from, groupEnd - from, StandardCharsets.UTF_8),
                new String(key, groupEnd + 1, to - groupEnd - 1, StandardCharsets.UTF_8));
    Optional<GroupResource> result = Optional.of(gr);
    // Final fields make the entry safe to publish through a plain array write.
    cache[slot] = new CachedResolution(Arrays.copyOfRange(key, from, to), result);
    return result;
  }

  private static int indexOf(byte[] bytes, byte b, int from) {
    return indexOf(bytes, b, from, bytes.length);
  }

  private static int indexOf(byte[] bytes, byte b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (bytes[i] == b) {
        return i;
      }
    }
    return -1;
  }
}
