package io.etcdcrypt.crypto;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.GroupResource;
import io.etcdcrypt.config.ResolvedRule;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.config.ResourceRule;
import java.nio.charset.StandardCharsets;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The value codec kube-apiserver's EncryptionConfiguration describes: the etcd key names a resource, the
 * resource's rule names a provider chain, and the chain seals values with its first provider and opens them
 * with whichever provider's prefix matches.
 *
 * <p>Keys that are not Kubernetes objects (outside {@code --etcd-prefix}, {@code compact_rev_key},
 * {@code <prefix>/health}, the allocator ranges) are never touched. Objects of resources without a rule pass
 * through as plaintext, but a value of theirs that looks encrypted is refused, as kube-apiserver refuses it,
 * so ciphertext never reaches a client as if it were data.
 */
public final class EncryptionCodec implements ValueCodec {

  private static final byte[] ENCRYPTED_MARKER = "k8s:enc:".getBytes(StandardCharsets.US_ASCII);

  /** The providers that apply to one resource; {@code chain} is null for a resource without a rule. */
  private record ResourceChain(String resource, PrefixTransformers chain) {}

  private final ResourceResolver resolver;
  private final EncryptionConfiguration config;
  private final Map<ResolvedRule, PrefixTransformers> chainsByRule;
  private final Map<GroupResource, ResourceChain> byResource = new ConcurrentHashMap<>();
  private final ByteString prefixStart;
  private final ByteString prefixEnd;

  private EncryptionCodec(
      ResourceResolver resolver, EncryptionConfiguration config, Map<ResolvedRule, PrefixTransformers> chains) {
    this.resolver = resolver;
    this.config = config;
    this.chainsByRule = chains;
    this.prefixStart = ByteString.copyFromUtf8(resolver.prefix());
    this.prefixEnd = rangeEndOfPrefix(prefixStart);
  }

  /**
   * Builds every provider chain the configuration names, so that a bad key or an unusable provider fails at
   * start rather than on the first request that needs it.
   */
  public static EncryptionCodec create(
      EncryptionConfiguration config, ResourceResolver resolver, KmsTransformerFactory kms)
      throws TransformException {
    Map<ResolvedRule, PrefixTransformers> chains = new IdentityHashMap<>();
    for (ResourceRule rule : config.rules()) {
      for (String resource : rule.resources()) {
        Optional<ResolvedRule> resolved = config.providersFor(GroupResource.parse(resource));
        if (resolved.isPresent() && !chains.containsKey(resolved.get())) {
          chains.put(resolved.get(), ProviderTransformers.forProviders(resolved.get().providers(), kms));
        }
      }
    }
    return new EncryptionCodec(resolver, config, chains);
  }

  public EncryptionConfiguration config() {
    return config;
  }

  @Override
  public boolean isProtected(ByteString key) {
    return resolver.resolve(key).isPresent();
  }

  @Override
  public boolean mayProtectRange(ByteString key, ByteString rangeEnd) {
    if (rangeEnd.isEmpty()) {
      return resourceOf(key).map(r -> r.chain() != null).orElse(false);
    }
    // [key, rangeEnd) intersects [prefixStart, prefixEnd)? A single zero byte as range end means "to the end".
    boolean toTheEnd = rangeEnd.size() == 1 && rangeEnd.byteAt(0) == 0;
    boolean startsBeforePrefixEnd = ByteString.unsignedLexicographicalComparator().compare(key, prefixEnd) < 0;
    boolean endsAfterPrefixStart =
        toTheEnd || ByteString.unsignedLexicographicalComparator().compare(rangeEnd, prefixStart) > 0;
    return startsBeforePrefixEnd && endsAfterPrefixStart;
  }

  @Override
  public ByteString toStorage(ByteString key, ByteString value) throws TransformException {
    Optional<ResourceChain> resource = resourceOf(key);
    if (resource.isEmpty() || resource.get().chain() == null) {
      return value;
    }
    byte[] sealed = resource.get().chain().encrypt(value.toByteArray(), key.toByteArray());
    return UnsafeByteOperations.unsafeWrap(sealed);
  }

  @Override
  public ByteString fromStorage(ByteString key, ByteString value) throws TransformException {
    return fromStorage(key, value, 0, StaleListener.NONE);
  }

  @Override
  public ByteString fromStorage(ByteString key, ByteString value, long modRevision, StaleListener listener)
      throws TransformException {
    Optional<ResourceChain> resource = resourceOf(key);
    if (resource.isEmpty()) {
      return value;
    }
    ResourceChain r = resource.get();
    if (r.chain() == null) {
      if (value.startsWith(UnsafeByteOperations.unsafeWrap(ENCRYPTED_MARKER))) {
        throw new TransformException(
            "the value is encrypted but resource \"" + r.resource() + "\" has no rule in the encryption "
                + "configuration; add its providers to read it");
      }
      return value;
    }
    try {
      Decrypted d = r.chain().decrypt(value.toByteArray(), key.toByteArray());
      if (d.stale()) {
        listener.stale(key, modRevision);
      }
      return UnsafeByteOperations.unsafeWrap(d.plaintext());
    } catch (TransformException e) {
      throw new TransformException(
          "resource \"" + r.resource() + "\": " + e.getMessage()
              + " (check that the encryption configuration still lists the provider and key that wrote it)",
          e);
    }
  }

  /**
   * What a stored value is, for census and rewrap: the resource its key belongs to and which provider and key
   * open it, or why none can. Empty for keys that are not Kubernetes objects.
   */
  public Optional<Inspection> inspect(ByteString key, ByteString value) {
    Optional<ResourceChain> resource = resourceOf(key);
    if (resource.isEmpty()) {
      return Optional.empty();
    }
    ResourceChain r = resource.get();
    if (r.chain() == null) {
      boolean encrypted = value.startsWith(UnsafeByteOperations.unsafeWrap(ENCRYPTED_MARKER));
      return Optional.of(new Inspection(r.resource(), false, null,
          encrypted ? "encrypted, but the resource has no rule in the encryption configuration" : null));
    }
    try {
      return Optional.of(new Inspection(
          r.resource(), true, r.chain().decryptDetailed(value.toByteArray(), key.toByteArray()), null));
    } catch (TransformException e) {
      return Optional.of(new Inspection(r.resource(), true, null, e.getMessage()));
    }
  }

  /**
   * The result of {@link #inspect}.
   *
   * @param resource the resource as the configuration names it ({@code secrets}, {@code deployments.apps})
   * @param configured whether a rule applies to the resource
   * @param detail how the value opened (plaintext, stale, matched prefix), or null if it did not
   * @param error why the value cannot be read, or null
   */
  public record Inspection(String resource, boolean configured, DecryptedDetail detail, String error) {

    /**
     * True when rewriting the value would store it differently: written by a provider or key that is not the
     * first one (plaintext under a rule that now encrypts included), or under an old KMS key id.
     */
    public boolean needsRewrite() {
      return detail != null && detail.stale();
    }

    @Override
    public String toString() {
      return "Inspection[" + resource + ", " + (detail != null ? detail : "error: " + error) + "]";
    }
  }

  /** The prefix new values of {@code resource}'s keys are written with ({@code ""} for identity/unconfigured). */
  public String writePrefixFor(ByteString key) {
    return resourceOf(key).map(r -> r.chain() == null ? "" : r.chain().writePrefix()).orElse("");
  }

  private Optional<ResourceChain> resourceOf(ByteString key) {
    Optional<GroupResource> gr = resolver.resolve(key);
    return gr.map(g -> byResource.computeIfAbsent(g, this::chainFor));
  }

  private ResourceChain chainFor(GroupResource gr) {
    return config
        .providersFor(gr)
        .map(rule -> new ResourceChain(gr.configName(), builtChain(rule)))
        .orElseGet(() -> new ResourceChain(gr.configName(), null));
  }

  private PrefixTransformers builtChain(ResolvedRule rule) {
    PrefixTransformers chain = chainsByRule.get(rule);
    if (chain == null) {
      // Every rule's chain is built in create(); a miss would silently store plaintext, so refuse instead.
      throw new IllegalStateException("no provider chain was built for rule " + rule.configName());
    }
    return chain;
  }

  /** The smallest key greater than every key starting with {@code prefix} (etcd's prefix range end). */
  static ByteString rangeEndOfPrefix(ByteString prefix) {
    byte[] end = prefix.toByteArray();
    for (int i = end.length - 1; i >= 0; i--) {
      if (end[i] != (byte) 0xff) {
        end[i]++;
        return ByteString.copyFrom(end, 0, i + 1);
      }
    }
    return ByteString.copyFrom(new byte[] {0});
  }
}
