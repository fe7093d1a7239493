package io.etcdcrypt.crypto;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.EtcdKeys;
import io.etcdcrypt.config.GroupResource;
import io.etcdcrypt.config.ResolvedRule;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.config.ResourceRule;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The value codec kube-apiserver's EncryptionConfiguration describes: the etcd key names a
 * resource, the resource's rule names a provider chain, and the chain seals values with its first
 * provider and opens them with whichever provider's prefix matches.
 *
 * <p>Keys that are not Kubernetes objects (outside {@code --etcd-prefix}, {@code compact_rev_key},
 * {@code <prefix>/health}, the allocator ranges) are never touched. Objects of resources without a
 * rule pass through as plaintext, but a value of theirs that looks encrypted is refused, as
 * kube-apiserver refuses it, so ciphertext never reaches a client as if it were data. A value a
 * client writes that already looks encrypted is never encrypted again (see {@link #toStorage}).
 *
 * <p>Every transformation of a configured resource is reported to the {@link TransformObserver}
 * (metrics), and every failure is logged with the key, resource and provider prefix (never the
 * value).
 */
public final class EncryptionCodec implements ValueCodec {

  private static final Logger log = LoggerFactory.getLogger(EncryptionCodec.class);

  /**
   * The providers that apply to one resource; {@code chain} is null for a resource without a rule.
   * {@code providerWritePrefix} and {@code keyWritePrefix} split the write prefix into the
   * provider's part ({@code k8s:enc:aesgcm:v1:}, empty for identity) and its key's part ({@code
   * key1:}, empty without a key list).
   */
  private record ResourceChain(
      String resource,
      PrefixTransformers chain,
      String providerWritePrefix,
      String keyWritePrefix) {

    static ResourceChain of(String resource, PrefixTransformers chain) {
      if (chain == null) {
        return new ResourceChain(resource, null, "", "");
      }
      String provider = chain.entries().get(0).prefixText();
      return new ResourceChain(
          resource, chain, provider, chain.writePrefix().substring(provider.length()));
    }
  }

  private final ResourceResolver resolver;
  private final EncryptionConfiguration config;
  private final TransformObserver observer;
  private final Map<ResolvedRule, PrefixTransformers> chainsByRule;
  private final Map<GroupResource, ResourceChain> byResource = new ConcurrentHashMap<>();
  private final ByteString prefixStart;
  private final ByteString prefixEnd;
  private final AlreadyEncryptedWrites alreadyEncrypted = new AlreadyEncryptedWrites();

  private EncryptionCodec(
      ResourceResolver resolver,
      EncryptionConfiguration config,
      Map<ResolvedRule, PrefixTransformers> chains,
      TransformObserver observer) {
    this.resolver = resolver;
    this.config = config;
    this.chainsByRule = chains;
    this.observer = observer;
    this.prefixStart = ByteString.copyFromUtf8(resolver.prefix());
    this.prefixEnd = EtcdKeys.prefixRangeEnd(prefixStart);
  }

  /**
   * Builds every provider chain the configuration names, so that a bad key or an unusable provider
   * fails at start rather than on the first request that needs it.
   */
  public static EncryptionCodec create(
      EncryptionConfiguration config, ResourceResolver resolver, KmsTransformerFactory kms)
      throws TransformException {
    return create(config, resolver, kms, TransformObserver.NONE);
  }

  /**
   * {@link #create(EncryptionConfiguration, ResourceResolver, KmsTransformerFactory)} reporting to
   * {@code observer}.
   */
  public static EncryptionCodec create(
      EncryptionConfiguration config,
      ResourceResolver resolver,
      KmsTransformerFactory kms,
      TransformObserver observer)
      throws TransformException {
    Map<ResolvedRule, PrefixTransformers> chains = new IdentityHashMap<>();
    for (ResourceRule rule : config.rules()) {
      for (String resource : rule.resources()) {
        Optional<ResolvedRule> resolved = config.providersFor(GroupResource.parse(resource));
        if (resolved.isPresent() && !chains.containsKey(resolved.get())) {
          chains.put(resolved.get(), ProviderChains.forProviders(resolved.get().providers(), kms));
        }
      }
    }
    return new EncryptionCodec(resolver, config, chains, observer);
  }

  public EncryptionConfiguration config() {
    return config;
  }

  @Override
  public boolean mayProtectRange(ByteString key, ByteString rangeEnd) {
    if (rangeEnd.isEmpty()) {
      return resourceOf(key).map(r -> r.chain() != null).orElse(false);
    }
    // [key, rangeEnd) intersects [prefixStart, prefixEnd)? A single zero byte as range end means
    // "to the end".
    boolean toTheEnd = rangeEnd.size() == 1 && rangeEnd.byteAt(0) == 0;
    boolean startsBeforePrefixEnd =
        ByteString.unsignedLexicographicalComparator().compare(key, prefixEnd) < 0;
    boolean endsAfterPrefixStart =
        toTheEnd
            || ByteString.unsignedLexicographicalComparator().compare(rangeEnd, prefixStart) > 0;
    return startsBeforePrefixEnd && endsAfterPrefixStart;
  }

  /**
   * {@inheritDoc}
   *
   * <p>A value that already carries the {@code k8s:enc:} prefix is never wrapped a second time:
   * when the resource's providers open it (the same configuration wrote it: kube-apiserver
   * encrypting behind the proxy, a restore of raw values), it is stored as it is; when they cannot,
   * the write is refused with an {@link AlreadyEncryptedValueException}. Both are counted and
   * logged, rate-limited.
   */
  @Override
  public CompletionStage<ByteString> toStorage(ByteString key, ByteString value) {
    byte[] keyBytes = key.toByteArray(); // resolved, then the associated data
    Optional<ResourceChain> resource = resourceOf(keyBytes);
    if (resource.isEmpty()) {
      return UNCHANGED;
    }
    ResourceChain r = resource.get();
    if (value.startsWith(AlreadyEncryptedWrites.MARKER)) {
      return alreadyEncrypted(key, keyBytes, value, r);
    }
    return r.chain() == null ? UNCHANGED : seal(key, keyBytes, value, r);
  }

  /**
   * The bytes to store for {@code plaintext} at {@code key} under the current providers, whatever
   * the plaintext looks like: for the tools that rewrite a value they decrypted (rewrap, the stale
   * rewriter), which must store what clients read back byte for byte, also a value that was wrapped
   * twice before the proxy refused to. Null: store it as it is.
   */
  public CompletionStage<ByteString> seal(ByteString key, ByteString plaintext) {
    byte[] keyBytes = key.toByteArray();
    Optional<ResourceChain> resource = resourceOf(keyBytes);
    if (resource.isEmpty() || resource.get().chain() == null) {
      return UNCHANGED;
    }
    return seal(key, keyBytes, plaintext, resource.get());
  }

  /**
   * Stores an already encrypted value as it is when {@code r}'s providers open it, else refuses it.
   */
  private CompletionStage<ByteString> alreadyEncrypted(
      ByteString key, byte[] keyBytes, ByteString value, ResourceChain r) {
    if (r.chain() == null) {
      return CompletableFuture.failedFuture(
          counted(AlreadyEncryptedWrites.refusal(key, value, r.resource(), false, null), r));
    }
    return done(
        r.chain().decryptDetailed(value.toByteArray(), keyBytes),
        (opened, error) -> {
          if (error == null) {
            observer.alreadyEncryptedWrite(r.resource(), true);
            alreadyEncrypted.storedAsIs(key, r.resource(), value);
            return null;
          }
          boolean noneMatched = error instanceof UnreadableValueException u && u.noPrefixMatched();
          throw counted(
              AlreadyEncryptedWrites.refusal(
                  key, value, r.resource(), true, noneMatched ? null : error.getMessage()),
              r);
        });
  }

  /** {@code e}, counted and logged. */
  private AlreadyEncryptedValueException counted(
      AlreadyEncryptedValueException e, ResourceChain r) {
    observer.alreadyEncryptedWrite(r.resource(), false);
    alreadyEncrypted.refused(r.resource(), e);
    return e;
  }

  /** Seals {@code value} with {@code r}'s first provider (identity: as it is, without a copy). */
  private CompletionStage<ByteString> seal(
      ByteString key, byte[] keyBytes, ByteString value, ResourceChain r) {
    if (r.providerWritePrefix().isEmpty()) {
      // identity writes: the value is stored as it is, without a copy (the sample kube-apiserver
      // records for it)
      observer.transformed(r.resource(), TransformObserver.Direction.TO_STORAGE, "", 0, null);
      return UNCHANGED;
    }
    return done(
        r.chain()
            .encrypt(
                value.toByteArray(), keyBytes, samples(r, TransformObserver.Direction.TO_STORAGE)),
        (ciphertext, error) -> {
          if (error != null) {
            logFailure(
                TransformObserver.Direction.TO_STORAGE, key, r, r.providerWritePrefix(), error);
            throw error;
          }
          return UnsafeByteOperations.unsafeWrap(ciphertext);
        });
  }

  @Override
  public CompletionStage<ByteString> fromStorage(
      ByteString key, ByteString value, long modRevision, StaleListener listener) {
    byte[] keyBytes = key.toByteArray(); // resolved, then the associated data
    Optional<ResourceChain> resource = resourceOf(keyBytes);
    if (resource.isEmpty()) {
      return UNCHANGED;
    }
    ResourceChain r = resource.get();
    if (r.chain() == null) {
      if (value.startsWith(AlreadyEncryptedWrites.MARKER)) {
        TransformException e =
            new TransformException(
                "the value is encrypted but resource \""
                    + r.resource()
                    + "\" has no rule in the encryption "
                    + "configuration; add its providers to read it");
        logFailure(TransformObserver.Direction.FROM_STORAGE, key, r, "", e);
        return CompletableFuture.failedFuture(e);
      }
      return UNCHANGED;
    }
    return done(
        r.chain()
            .decryptDetailed(
                value.toByteArray(),
                keyBytes,
                samples(r, TransformObserver.Direction.FROM_STORAGE)),
        (d, error) -> {
          if (error != null) {
            logFailure(
                TransformObserver.Direction.FROM_STORAGE, key, r, attemptedPrefixes(error), error);
            throw new TransformException(
                "resource \""
                    + r.resource()
                    + "\": "
                    + error.getMessage()
                    + " (check that the encryption configuration still lists the provider and key that wrote it)",
                error);
          }
          if (d.readAsPlaintext() && !r.providerWritePrefix().isEmpty()) {
            observer.plaintextRead(r.resource());
          }
          if (d.stale()) {
            observer.staleRead(r.resource());
            if (!d.unauthenticated()) {
              // Rewriting on read would re-encrypt what only padding vouches for: rewrap decides.
              listener.stale(key, modRevision);
            }
          }
          // Read by identity, the stored bytes are the plaintext: "unchanged" tells callers nothing
          // changed, so a
          // Range page or Watch event of such values is forwarded without a rebuild.
          return DecryptedDetail.IDENTITY.equals(d.providerPrefix())
              ? null
              : UnsafeByteOperations.unsafeWrap(d.plaintext());
        });
  }

  /** What to make of a transform's outcome: the value, or a failure to pass on. */
  @FunctionalInterface
  private interface Outcome<T, R> {
    R apply(T result, TransformException error) throws TransformException;
  }

  /**
   * Applies {@code outcome} to {@code stage}'s result: right away when the stage is complete (every
   * transform but a KMS plugin call), so the common path allocates one completed stage; else when
   * it completes.
   */
  private static <T, R> CompletionStage<R> done(CompletionStage<T> stage, Outcome<T, R> outcome) {
    CompletableFuture<T> f = stage.toCompletableFuture();
    if (f.isDone()) {
      T result = null;
      TransformException error = null;
      try {
        result = Stages.now(f);
      } catch (TransformException e) {
        error = e;
      }
      try {
        return CompletableFuture.completedFuture(outcome.apply(result, error));
      } catch (TransformException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
    return f.handle(
        (result, error) -> {
          try {
            return outcome.apply(result, error == null ? null : Stages.asTransformException(error));
          } catch (TransformException e) {
            throw new CompletionException(e);
          }
        });
  }

  /** Where a walk's samples go: the observer, with the resource and direction. */
  private PrefixTransformers.Samples samples(
      ResourceChain r, TransformObserver.Direction direction) {
    return (prefix, nanos, error) ->
        observer.transformed(r.resource(), direction, prefix, nanos, error);
  }

  /**
   * The provider prefixes that tried to open a value and failed, or {@code unknown} when none
   * matched.
   */
  private static String attemptedPrefixes(TransformException e) {
    return e instanceof UnreadableValueException u && !u.noPrefixMatched()
        ? String.join(",", u.attemptedProviderPrefixes())
        : TransformObserver.UNKNOWN_PREFIX;
  }

  /**
   * Keys are object names, never secrets; the value is never logged. The gRPC method comes from the
   * MDC.
   */
  private static void logFailure(
      TransformObserver.Direction direction,
      ByteString key,
      ResourceChain r,
      String prefixes,
      TransformException e) {
    log.atWarn()
        .addKeyValue("key", key.toStringUtf8())
        .addKeyValue("resource", r.resource())
        .addKeyValue(
            "transformation_type",
            direction == TransformObserver.Direction.TO_STORAGE ? "to_storage" : "from_storage")
        .addKeyValue("transformer_prefix", prefixes)
        .log(
            "cannot {} a value: {}",
            direction == TransformObserver.Direction.TO_STORAGE ? "encrypt" : "decrypt",
            e.getMessage());
  }

  /**
   * What a stored value is, for census and rewrap: the resource its key belongs to and which
   * provider and key open it, or why none can. Empty for keys that are not Kubernetes objects.
   */
  public CompletionStage<Optional<Inspection>> inspect(ByteString key, ByteString value) {
    Optional<ResourceChain> resource = resourceOf(key);
    if (resource.isEmpty()) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    ResourceChain r = resource.get();
    if (r.chain() == null) {
      boolean encrypted = value.startsWith(AlreadyEncryptedWrites.MARKER);
      return CompletableFuture.completedFuture(
          Optional.of(
              new Inspection(
                  r.resource(),
                  false,
                  null,
                  encrypted
                      ? "encrypted, but the resource has no rule in the encryption configuration"
                      : null)));
    }
    return done(
        r.chain().decryptDetailed(value.toByteArray(), key.toByteArray()),
        (detail, error) ->
            Optional.of(
                new Inspection(
                    r.resource(), true, detail, error == null ? null : error.getMessage())));
  }

  /**
   * The result of {@link #inspect}.
   *
   * @param resource the resource as the configuration names it ({@code secrets}, {@code
   *     deployments.apps})
   * @param configured whether a rule applies to the resource
   * @param detail how the value opened (plaintext, stale, matched prefix), or null if it did not
   * @param error why the value cannot be read, or null
   */
  public record Inspection(
      String resource, boolean configured, DecryptedDetail detail, String error) {

    /**
     * True when rewriting the value would store it differently: written by a provider or key that
     * is not the first one (plaintext under a rule that now encrypts included), or under an old KMS
     * key id.
     */
    public boolean needsRewrite() {
      return detail != null && detail.stale();
    }

    @Override
    public String toString() {
      return "Inspection[" + resource + ", " + (detail != null ? detail : "error: " + error) + "]";
    }
  }

  /**
   * The prefix new values of {@code resource}'s keys are written with ({@code ""} for
   * identity/unconfigured).
   */
  public String writePrefixFor(ByteString key) {
    return resourceOf(key).map(r -> r.chain() == null ? "" : r.chain().writePrefix()).orElse("");
  }

  private Optional<ResourceChain> resourceOf(ByteString key) {
    return resourceOf(key.toByteArray());
  }

  private Optional<ResourceChain> resourceOf(byte[] key) {
    Optional<GroupResource> gr = resolver.resolve(key);
    return gr.map(g -> byResource.computeIfAbsent(g, this::chainFor));
  }

  private ResourceChain chainFor(GroupResource gr) {
    return config
        .providersFor(gr)
        .map(rule -> ResourceChain.of(gr.configName(), builtChain(rule)))
        .orElseGet(() -> ResourceChain.of(gr.configName(), null));
  }

  private PrefixTransformers builtChain(ResolvedRule rule) {
    PrefixTransformers chain = chainsByRule.get(rule);
    if (chain == null) {
      // Every rule's chain is built in create(); a miss would silently store plaintext, so refuse
      // instead.
      throw new IllegalStateException("no provider chain was built for rule " + rule.configName());
    }
    return chain;
  }
}
