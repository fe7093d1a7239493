package io.etcdcrypt.config;

/**
 * One problem found in an EncryptionConfiguration file.
 *
 * @param path where it is, in the document's field names ({@code
 *     resources[1].providers[0].aesgcm.keys[0].secret}); empty for problems with the file as a
 *     whole
 * @param message what is wrong and what to do; never contains key material
 */
public record ConfigError(String path, String message) {

  @Override
  public String toString() {
    return path.isEmpty() ? message : path + ": " + message;
  }
}
