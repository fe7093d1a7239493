package io.etcdcrypt.crypto;

import io.etcdcrypt.config.KeyConfig;
import io.etcdcrypt.config.ProviderConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * Turns validated {@link ProviderConfig}s into the transformer chain kube-apiserver would build for
 * them.
 *
 * <p>Each provider becomes one {@link PrefixTransformers.Entry}:
 *
 * <table>
 *   <caption>Provider entries and what they add to a stored value</caption>
 *   <tr><th>provider</th><th>entry prefix</th><th>body</th><th>bytes added to the plaintext</th></tr>
 *   <tr><td>identity</td><td>(empty)</td><td>{@link IdentityTransformer}</td><td>0</td></tr>
 *   <tr><td>aescbc</td><td>{@code k8s:enc:aescbc:v1:}</td><td>key list of {@link AesCbcTransformer}</td>
 *       <td>19 + len(keyName) + 16 IV + 1..16 padding</td></tr>
 *   <tr><td>aesgcm</td><td>{@code k8s:enc:aesgcm:v1:}</td><td>key list of {@link AesGcmTransformer}</td>
 *       <td>19 + len(keyName) + 28</td></tr>
 *   <tr><td>secretbox</td><td>{@code k8s:enc:secretbox:v1:}</td><td>key list of {@link SecretboxTransformer}</td>
 *       <td>22 + len(keyName) + 40</td></tr>
 *   <tr><td>kms v1 / v2</td><td>{@code k8s:enc:kms:v1:<name>:} / {@code k8s:enc:kms:v2:<name>:}</td>
 *       <td>from the {@link KmsTransformerFactory}</td><td>prefix + envelope</td></tr>
 * </table>
 *
 * <p>A key list is a nested {@link PrefixTransformers} with one entry per key, prefix {@code
 * <keyName>:}, the first key encrypting; it reports {@code no matching key was found for the
 * provided AES transformer} (or {@code Secretbox}) when no key name matches.
 */
public final class ProviderChains {

  public static final String AESCBC_PREFIX = "k8s:enc:aescbc:v1:";
  public static final String AESGCM_PREFIX = "k8s:enc:aesgcm:v1:";
  public static final String SECRETBOX_PREFIX = "k8s:enc:secretbox:v1:";
  public static final String KMS_V1_PREFIX = "k8s:enc:kms:v1:";
  public static final String KMS_V2_PREFIX = "k8s:enc:kms:v2:";

  static final String NO_AES_KEY = "no matching key was found for the provided AES transformer";
  static final String NO_SECRETBOX_KEY =
      "no matching key was found for the provided Secretbox transformer";

  private ProviderChains() {}

  /**
   * The chain for one resource's {@code providers:} list, in order: the first provider encrypts.
   */
  public static PrefixTransformers forProviders(
      List<ProviderConfig> providers, KmsTransformerFactory kms) throws TransformException {
    return forProviders(providers, kms, NonceSource.SECURE_RANDOM);
  }

  /** The (prefix, transformer) entry for one provider. */
  public static PrefixTransformers.Entry forProvider(
      ProviderConfig provider, KmsTransformerFactory kms) throws TransformException {
    return forProvider(provider, kms, NonceSource.SECURE_RANDOM);
  }

  /** The prefix of a kms provider: {@code k8s:enc:kms:<apiVersion>:<name>:}. */
  public static String kmsPrefix(ProviderConfig.Kms kms) {
    return switch (kms.apiVersion()) {
      case V1 -> KMS_V1_PREFIX + kms.name() + ":";
      case V2 -> KMS_V2_PREFIX + kms.name() + ":";
    };
  }

  static PrefixTransformers forProviders(
      List<ProviderConfig> providers, KmsTransformerFactory kms, NonceSource nonces)
      throws TransformException {
    if (providers.isEmpty()) {
      throw new TransformException("a resource rule needs at least one provider");
    }
    List<PrefixTransformers.Entry> entries = new ArrayList<>(providers.size());
    for (ProviderConfig p : providers) {
      entries.add(forProvider(p, kms, nonces));
    }
    return new PrefixTransformers(entries, PrefixTransformers.NO_MATCHING_PREFIX);
  }

  static PrefixTransformers.Entry forProvider(
      ProviderConfig provider, KmsTransformerFactory kms, NonceSource nonces)
      throws TransformException {
    Objects.requireNonNull(provider, "provider");
    if (provider instanceof ProviderConfig.Identity) {
      return new PrefixTransformers.Entry(new byte[0], IdentityTransformer.INSTANCE);
    }
    if (provider instanceof ProviderConfig.AesCbc p) {
      return keyList(
          AESCBC_PREFIX, "aes", p.keys(), key -> new AesCbcTransformer(key, nonces), NO_AES_KEY);
    }
    if (provider instanceof ProviderConfig.AesGcm p) {
      return keyList(
          AESGCM_PREFIX, "aes", p.keys(), key -> new AesGcmTransformer(key, nonces), NO_AES_KEY);
    }
    if (provider instanceof ProviderConfig.Secretbox p) {
      return keyList(
          SECRETBOX_PREFIX,
          "secretbox",
          p.keys(),
          key -> new SecretboxTransformer(key, nonces),
          NO_SECRETBOX_KEY);
    }
    if (provider instanceof ProviderConfig.Kms p) {
      String prefix = kmsPrefix(p);
      Transformer body = Objects.requireNonNull(kms, "kms factory").create(p);
      return PrefixTransformers.Entry.of(
          prefix, Objects.requireNonNull(body, "kms factory returned no transformer"));
    }
    throw new TransformException("unsupported provider " + provider.describe());
  }

  private static PrefixTransformers.Entry keyList(
      String providerPrefix,
      String kind,
      List<KeyConfig> keys,
      Function<byte[], Transformer> transformerForKey,
      String noMatchingKey)
      throws TransformException {
    if (keys.isEmpty()) {
      throw new TransformException(kind + " provider has no valid keys");
    }
    List<PrefixTransformers.Entry> entries = new ArrayList<>(keys.size());
    for (KeyConfig key : keys) {
      if (key.name().isEmpty()) {
        throw new TransformException("key with invalid name provided");
      }
      byte[] secret = key.secret();
      if (secret.length == 0) {
        throw new TransformException("key " + key.name() + " has no provided secret");
      }
      Transformer transformer;
      try {
        transformer = transformerForKey.apply(secret);
      } catch (IllegalArgumentException e) {
        // The message states the size problem only; it never contains key bytes.
        throw new TransformException(
            "error while creating transformer for named key " + key.name() + ": " + e.getMessage(),
            e);
      } finally {
        Arrays.fill(secret, (byte) 0);
      }
      entries.add(PrefixTransformers.Entry.of(key.name() + ":", transformer));
    }
    return PrefixTransformers.Entry.of(
        providerPrefix, new PrefixTransformers(entries, noMatchingKey));
  }
}
