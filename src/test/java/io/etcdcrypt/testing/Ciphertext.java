package io.etcdcrypt.testing;

import java.nio.charset.StandardCharsets;

/**
 * The mark every encrypted value starts with ({@code k8s:enc:}), for asserting from outside the
 * proxy that no answer carries ciphertext.
 */
public final class Ciphertext {

  public static final byte[] MARK = "k8s:enc:".getBytes(StandardCharsets.US_ASCII);

  private Ciphertext() {}

  /** Whether {@code bytes} (an answer, a status description) holds the mark anywhere. */
  public static boolean in(byte[] bytes) {
    return contains(bytes, MARK);
  }

  /** Whether {@code text} holds the mark anywhere. */
  public static boolean in(String text) {
    return in(text.getBytes(StandardCharsets.UTF_8));
  }

  /** Whether {@code needle} occurs in {@code haystack}. */
  public static boolean contains(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }
}
