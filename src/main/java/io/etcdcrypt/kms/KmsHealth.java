package io.etcdcrypt.kms;

/**
 * The outcome of a KMS provider's health check, for {@code /healthz} and {@code /readyz}. {@code
 * error} is {@code null} when healthy; otherwise it says what failed (never key material).
 */
public record KmsHealth(boolean ok, String error) {

  private static final KmsHealth OK = new KmsHealth(true, null);

  public static KmsHealth healthy() {
    return OK;
  }

  public static KmsHealth failed(String error) {
    return new KmsHealth(false, error);
  }

  /** {@code ok}, or the error text. */
  public String text() {
    return ok ? "ok" : error;
  }
}
