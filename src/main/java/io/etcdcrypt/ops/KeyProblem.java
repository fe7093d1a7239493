package io.etcdcrypt.ops;

/** A key whose value could not be read or rewritten, and why (never the value itself). */
public record KeyProblem(String key, String reason) {

  @Override
  public String toString() {
    return key + ": " + reason;
  }
}
