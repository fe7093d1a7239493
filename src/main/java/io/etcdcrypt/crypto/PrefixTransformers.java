package io.etcdcrypt.crypto;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * kube-apiserver's prefix list: an ordered list of (prefix, transformer) entries that is itself a
 * transformer. It is used at two levels: the providers of a resource (prefix {@code
 * k8s:enc:aesgcm:v1:}, {@code k8s:enc:kms:v2:<name>:}, …; identity with the empty prefix) and,
 * inside aescbc/aesgcm/secretbox, their keys (prefix {@code <keyName>:}).
 *
 * <ul>
 *   <li><b>encrypt</b>: always the first entry: {@code prefix || transformer.encrypt(plaintext)}.
 *   <li><b>decrypt</b>: walk the entries in order; each whose prefix starts the value gets the rest
 *       of the value. The first success wins. A failure does not stop the walk (two aescbc
 *       providers share one prefix during a rotation). The result is stale when the winner is not
 *       entry 0, or when the winner itself said stale.
 *   <li>A failing entry with an <em>empty</em> prefix (identity meeting {@code k8s:enc:} data) is
 *       skipped silently.
 *   <li>If matching entries failed, their messages are aggregated; if nothing matched, the chain's
 *       own no-match message is used ({@value #NO_MATCHING_PREFIX} for provider lists). Both raise
 *       {@link UnreadableValueException}.
 * </ul>
 *
 * <p>{@link #decryptDetailed} is the one walk; {@link #decrypt} is a view of it that drops the
 * detail. Nested chains are walked in place (by offset) so a value is copied once, at the innermost
 * transformer. A chain of {@link LocalTransformer}s (no KMS provider) walks synchronously and
 * returns complete stages; an entry that waits (a KMS provider asking its plugin) continues the
 * walk when its stage completes.
 */
public final class PrefixTransformers implements Transformer {

  /** The error kube-apiserver reports when no provider's prefix matches a stored value. */
  public static final String NO_MATCHING_PREFIX = "no matching prefix found";

  /**
   * Hears what each level of a walk did, as kube-apiserver's prefix chains record it: the prefix of
   * the entry that sealed or tried to open the value ({@value DecryptedDetail#IDENTITY} for a read
   * by identity, the empty string for a write by it, {@value TransformObserver#UNKNOWN_PREFIX} for
   * a stored value no entry's prefix matched), the time since the level started, and the entry's
   * error or null. A key list is a level of its own, so a value under aesgcm yields a sample for
   * its key and one for the provider.
   */
  @FunctionalInterface
  public interface Samples {
    void record(String prefix, long nanos, TransformException error);

    Samples NONE = (prefix, nanos, error) -> {};
  }

  /** One (prefix, transformer) pair. The prefix is copied in and out; it is never key material. */
  public record Entry(byte[] prefix, Transformer transformer) {

    public Entry {
      prefix = prefix.clone();
      Objects.requireNonNull(transformer, "transformer");
    }

    /** An entry whose prefix is the UTF-8 encoding of {@code prefix}. */
    public static Entry of(String prefix, Transformer transformer) {
      return new Entry(prefix.getBytes(StandardCharsets.UTF_8), transformer);
    }

    @Override
    public byte[] prefix() {
      return prefix.clone();
    }

    /** The prefix as text, e.g. {@code k8s:enc:aescbc:v1:}; empty for identity. */
    public String prefixText() {
      return new String(prefix, StandardCharsets.UTF_8);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Entry e
          && Arrays.equals(e.prefix, prefix)
          && e.transformer.equals(transformer);
    }

    @Override
    public int hashCode() {
      return 31 * Arrays.hashCode(prefix) + transformer.hashCode();
    }

    @Override
    public String toString() {
      return "Entry["
          + (prefix.length == 0 ? "<empty>" : prefixText())
          + " -> "
          + transformer
          + "]";
    }
  }

  private final List<Entry> entries;
  private final String noMatchMessage;
  // Hot-path copies of the entries' parts, so the walk never clones a prefix.
  private final byte[][] prefixes;
  private final String[] prefixTexts;
  private final Transformer[] transformers;

  /**
   * Whether every entry, nested chains included, is a {@link LocalTransformer}: then nothing here
   * waits.
   */
  private final boolean local;

  /**
   * A chain over {@code entries} (at least one; the first encrypts). {@code noMatchMessage} is
   * reported when no prefix matches: {@value #NO_MATCHING_PREFIX} for provider lists, upstream's
   * per-provider text for key lists.
   */
  public PrefixTransformers(List<Entry> entries, String noMatchMessage) {
    if (entries.isEmpty()) {
      throw new IllegalArgumentException(
          "a prefix chain needs at least one entry: the first one encrypts");
    }
    this.entries = List.copyOf(entries);
    this.noMatchMessage = Objects.requireNonNull(noMatchMessage, "noMatchMessage");
    int n = this.entries.size();
    this.prefixes = new byte[n][];
    this.prefixTexts = new String[n];
    this.transformers = new Transformer[n];
    boolean allLocal = true;
    for (int i = 0; i < n; i++) {
      Entry e = this.entries.get(i);
      prefixes[i] = e.prefix();
      prefixTexts[i] = e.prefixText();
      transformers[i] = e.transformer();
      allLocal &= isLocal(transformers[i]);
    }
    this.local = allLocal;
  }

  public static PrefixTransformers of(String noMatchMessage, Entry... entries) {
    return new PrefixTransformers(List.of(entries), noMatchMessage);
  }

  private static boolean isLocal(Transformer t) {
    return t instanceof LocalTransformer || t instanceof PrefixTransformers chain && chain.local;
  }

  public List<Entry> entries() {
    return entries;
  }

  /**
   * Whether no entry ever waits (no KMS provider), so every stage this chain returns is already
   * complete.
   */
  public boolean isLocal() {
    return local;
  }

  /**
   * The full prefix every value written now starts with, across nested levels, e.g. {@code
   * k8s:enc:aesgcm:v1:key1:}; empty when identity writes. (For KMS entries this is the provider
   * prefix; the KMS key id is inside the body.)
   */
  public String writePrefix() {
    return transformers[0] instanceof PrefixTransformers inner
        ? prefixTexts[0] + inner.writePrefix()
        : prefixTexts[0];
  }

  @Override
  public CompletionStage<byte[]> encrypt(byte[] plaintext, byte[] associatedData) {
    return encrypt(plaintext, associatedData, Samples.NONE);
  }

  /** {@link #encrypt(byte[], byte[])}, reporting each level's sample to {@code samples}. */
  public CompletionStage<byte[]> encrypt(byte[] plaintext, byte[] associatedData, Samples samples) {
    Transformer first = transformers[0];
    if (isLocal(first)) {
      try {
        return CompletableFuture.completedFuture(sealLocally(plaintext, associatedData, samples));
      } catch (TransformException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
    long start = System.nanoTime();
    return first
        .encrypt(plaintext, associatedData)
        .handle(
            (body, error) -> {
              TransformException e = error == null ? null : Stages.asTransformException(error);
              samples.record(prefixTexts[0], System.nanoTime() - start, e);
              if (e != null) {
                throw new CompletionException(e);
              }
              return Bytes.concat(prefixes[0], body);
            });
  }

  /** Seals with the first entry, which must be local. */
  private byte[] sealLocally(byte[] plaintext, byte[] associatedData, Samples samples)
      throws TransformException {
    long start = System.nanoTime();
    Transformer first = transformers[0];
    byte[] body;
    try {
      body =
          first instanceof PrefixTransformers chain
              ? chain.sealLocally(plaintext, associatedData, samples)
              : ((LocalTransformer) first).seal(plaintext, associatedData);
    } catch (TransformException e) {
      samples.record(prefixTexts[0], System.nanoTime() - start, e);
      throw e;
    }
    samples.record(prefixTexts[0], System.nanoTime() - start, null);
    return Bytes.concat(prefixes[0], body);
  }

  @Override
  public CompletionStage<Decrypted> decrypt(byte[] stored, byte[] associatedData) {
    return decryptDetailed(stored, associatedData).thenApply(DecryptedDetail::toDecrypted);
  }

  /** Opens {@code stored} like {@link #decrypt} and also reports which entry opened it. */
  public CompletionStage<DecryptedDetail> decryptDetailed(byte[] stored, byte[] associatedData) {
    return decryptDetailed(stored, associatedData, Samples.NONE);
  }

  /**
   * {@link #decryptDetailed(byte[], byte[])}, reporting each level's samples to {@code samples}.
   */
  public CompletionStage<DecryptedDetail> decryptDetailed(
      byte[] stored, byte[] associatedData, Samples samples) {
    Walk walk = new Walk(stored, associatedData, samples);
    if (local) {
      try {
        return CompletableFuture.completedFuture(labelled(walkLocally(walk, 0)));
      } catch (TransformException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
    return walk(walk, 0, 0, null, System.nanoTime()).thenApply(PrefixTransformers::labelled);
  }

  /** What one read walks over: the stored value, its associated data, and where samples go. */
  private record Walk(byte[] stored, byte[] associatedData, Samples samples) {}

  /**
   * An empty matched prefix is the identity provider's: the walk's raw concatenation becomes its
   * label.
   */
  private static DecryptedDetail labelled(DecryptedDetail d) {
    return d.matchedPrefix().isEmpty()
        ? new DecryptedDetail(
            d.plaintext(),
            d.stale(),
            DecryptedDetail.IDENTITY,
            d.providerPrefix(),
            d.unauthenticated())
        : d;
  }

  /** The walk of a local chain at {@code offset}: every entry answers at once. */
  private DecryptedDetail walkLocally(Walk w, int offset) throws TransformException {
    long start = System.nanoTime();
    Failures failures =
        null; // allocated only when an entry fails: the common path allocates nothing
    for (int i = 0; i < transformers.length; i++) {
      if (!startsWith(w.stored(), offset, prefixes[i])) {
        continue;
      }
      DecryptedDetail inner;
      try {
        inner = openLocal(transformers[i], w, offset + prefixes[i].length);
      } catch (TransformException e) {
        failures = failed(failures, e, i, w, start);
        continue;
      }
      return matched(inner, i, w, start);
    }
    throw noneOpened(failures, w, start);
  }

  /**
   * The walk of a chain with an entry that may wait (a KMS provider), from entry {@code from} on:
   * local entries answer at once; a waiting entry's failure resumes the walk at the next entry when
   * it arrives.
   */
  private CompletionStage<DecryptedDetail> walk(
      Walk w, int offset, int from, Failures failures, long start) {
    for (int i = from; i < transformers.length; i++) {
      if (!startsWith(w.stored(), offset, prefixes[i])) {
        continue;
      }
      int rest = offset + prefixes[i].length;
      Transformer t = transformers[i];
      if (isLocal(t)) {
        try {
          return CompletableFuture.completedFuture(matched(openLocal(t, w, rest), i, w, start));
        } catch (TransformException e) {
          failures = failed(failures, e, i, w, start);
          continue;
        }
      }
      CompletableFuture<DecryptedDetail> inner =
          t instanceof PrefixTransformers chain
              ? chain.walk(w, rest, 0, null, System.nanoTime()).toCompletableFuture()
              : t.decrypt(copyFrom(w.stored(), rest), w.associatedData())
                  .thenApply(PrefixTransformers::leaf)
                  .toCompletableFuture();
      int index = i;
      Failures soFar = failures;
      if (inner.isDone()) {
        try {
          return CompletableFuture.completedFuture(matched(Stages.now(inner), index, w, start));
        } catch (TransformException e) {
          failures = failed(failures, e, i, w, start);
          continue;
        }
      }
      return inner
          .handle(
              (d, error) ->
                  error == null
                      ? CompletableFuture.completedFuture(matched(d, index, w, start))
                      : walk(
                          w,
                          offset,
                          index + 1,
                          failed(soFar, Stages.asTransformException(error), index, w, start),
                          start))
          .thenCompose(next -> next);
    }
    return CompletableFuture.failedFuture(noneOpened(failures, w, start));
  }

  /** Opens the part of the stored value from {@code offset} on with local entry {@code t}. */
  private static DecryptedDetail openLocal(Transformer t, Walk w, int offset)
      throws TransformException {
    return t instanceof PrefixTransformers chain
        ? chain.walkLocally(w, offset)
        : leaf(((LocalTransformer) t).open(copyFrom(w.stored(), offset), w.associatedData()));
  }

  /**
   * Records entry {@code index}'s failure, unless the entry has the empty prefix: identity refusing
   * {@code k8s:enc:} data is not an error, the encrypting providers after it get their turn.
   */
  private Failures failed(Failures failures, TransformException e, int index, Walk w, long start) {
    if (prefixes[index].length == 0) {
      return failures;
    }
    w.samples().record(prefixTexts[index], System.nanoTime() - start, e);
    // One walk appends in entry order, each step after the previous one ended, so one instance
    // serves it.
    Failures f = failures == null ? new Failures() : failures;
    f.add(e, prefixTexts[index]);
    return f;
  }

  /**
   * Why no entry opened the value: the matching entries' failures, or the chain's no-match message
   * (the one case recorded as {@value TransformObserver#UNKNOWN_PREFIX}).
   */
  private TransformException noneOpened(Failures failures, Walk w, long start) {
    if (failures != null) {
      return failures.toException();
    }
    UnreadableValueException e = UnreadableValueException.noMatch(noMatchMessage);
    w.samples().record(TransformObserver.UNKNOWN_PREFIX, System.nanoTime() - start, e);
    return e;
  }

  /**
   * The detail of a value entry {@code index} opened, recorded. Inside the walk, {@code
   * matchedPrefix} is the raw concatenation of the matched prefixes (empty for identity); {@link
   * #decryptDetailed} turns an empty one into the {@code identity} label.
   */
  private DecryptedDetail matched(DecryptedDetail inner, int index, Walk w, long start) {
    String prefix = prefixTexts[index];
    String label = prefix.isEmpty() ? DecryptedDetail.IDENTITY : prefix;
    w.samples().record(label, System.nanoTime() - start, null);
    return new DecryptedDetail(
        inner.plaintext(),
        inner.stale() || index != 0,
        prefix + inner.matchedPrefix(),
        label,
        inner.unauthenticated());
  }

  private static DecryptedDetail leaf(Decrypted d) {
    return new DecryptedDetail(d.plaintext(), d.stale(), "", "", d.unauthenticated());
  }

  /**
   * The failures of the entries that matched, flattened across nested chains as upstream's
   * aggregate prints.
   */
  private static final class Failures {
    private final List<String> messages = new ArrayList<>();
    private final List<String> attemptedPrefixes = new ArrayList<>();
    private final List<String> providerPrefixes = new ArrayList<>();
    private final List<TransformException> causes = new ArrayList<>();

    void add(TransformException e, String prefixText) {
      providerPrefixes.add(prefixText);
      causes.add(e);
      if (e instanceof UnreadableValueException nested) {
        messages.addAll(nested.messages());
        if (nested.noPrefixMatched()) {
          attemptedPrefixes.add(prefixText);
        } else {
          for (String p : nested.attemptedPrefixes()) {
            attemptedPrefixes.add(prefixText + p);
          }
        }
      } else {
        messages.add(String.valueOf(e.getMessage()));
        attemptedPrefixes.add(prefixText);
      }
    }

    UnreadableValueException toException() {
      return new UnreadableValueException(messages, attemptedPrefixes, providerPrefixes, causes);
    }
  }

  private static boolean startsWith(byte[] value, int offset, byte[] prefix) {
    return value.length - offset >= prefix.length
        && Arrays.equals(value, offset, offset + prefix.length, prefix, 0, prefix.length);
  }

  private static byte[] copyFrom(byte[] value, int offset) {
    return offset == 0 ? value : Arrays.copyOfRange(value, offset, value.length);
  }

  @Override
  public String toString() {
    return "PrefixTransformers" + entries;
  }
}
