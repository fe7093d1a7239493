package io.etcdcrypt.crypto;

import io.etcdcrypt.config.ProviderConfig;

/**
 * Builds the body transformer of a {@code kms} provider: everything after {@code
 * k8s:enc:kms:v1:<name>:} or {@code k8s:enc:kms:v2:<name>:}. {@link ProviderChains} adds that
 * prefix; the factory owns the plugin connection, DEK/seed handling and the envelope format.
 */
@FunctionalInterface
public interface KmsTransformerFactory {

  Transformer create(ProviderConfig.Kms kms) throws TransformException;

  /**
   * For contexts without KMS support: any kms provider in the configuration fails to build, saying
   * so.
   */
  KmsTransformerFactory UNAVAILABLE =
      kms -> {
        throw new TransformException(
            "KMS provider "
                + kms.describe()
                + " cannot be used here: no KMS client is available in this context");
      };
}
