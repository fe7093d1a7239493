package io.etcdcrypt.kmsplugin;

import io.etcdcrypt.crypto.TransformException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.Provider;
import java.security.SecureRandom;
import java.security.Security;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.KeyGenerator;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * KEKs that live on a PKCS#11 token (an HSM, or SoftHSM2) and never leave it, reached through the
 * JDK's SunPKCS11 provider. {@code configFile} is a SunPKCS11 configuration ({@code name}, {@code
 * library}, {@code slot} or {@code slotListIndex}); the user PIN is read from {@code pinFile}
 * (surrounding white space is ignored).
 *
 * <p>Every AES secret key on the token whose label starts with {@code labelPrefix} is a KEK; its
 * label is its id. The current KEK is the one whose label sorts last, with runs of digits compared
 * as numbers (so {@code kek-10} follows {@code kek-9}, and {@code kek-<UTC time>} labels from
 * {@code generate-key} sort by age). Adding a key to the token rotates on the next reload. Wrapping
 * is AES-GCM on the token ({@code CKM_AES_GCM}).
 */
public final class Pkcs11KekStore implements KekStore {

  private static final Logger log = LoggerFactory.getLogger(Pkcs11KekStore.class);
  private static final Pattern DIGITS_OR_NOT = Pattern.compile("\\d+|\\D+");

  private final Provider provider;
  private final char[] pin;
  private final String labelPrefix;
  private final String description;
  private volatile KekRing ring;
  private List<String> loadedIds = List.of();

  private Pkcs11KekStore(Provider provider, char[] pin, String labelPrefix, String description) {
    this.provider = provider;
    this.pin = pin;
    this.labelPrefix = labelPrefix;
    this.description = description;
  }

  /** Configures SunPKCS11, logs in, and loads the KEKs; fails with a message saying what to fix. */
  public static Pkcs11KekStore open(Path configFile, Path pinFile, String labelPrefix)
      throws Exception {
    Pkcs11KekStore store = connect(configFile, pinFile, labelPrefix);
    store.reload();
    return store;
  }

  private static Pkcs11KekStore connect(Path configFile, Path pinFile, String labelPrefix)
      throws IOException {
    if (!Files.isReadable(configFile)) {
      throw new IOException("PKCS#11 configuration " + configFile + " is not readable");
    }
    char[] pin = Files.readString(pinFile, StandardCharsets.UTF_8).strip().toCharArray();
    if (pin.length == 0) {
      throw new IOException("PKCS#11 PIN file " + pinFile + " is empty");
    }
    Provider base = Security.getProvider("SunPKCS11");
    if (base == null) {
      throw new IOException(
          "this JVM has no SunPKCS11 provider (module jdk.crypto.cryptoki); use a full JDK/JRE");
    }
    Provider provider;
    try {
      provider = base.configure(configFile.toString());
    } catch (RuntimeException e) {
      throw new IOException(
          "SunPKCS11 rejected the configuration " + configFile + ": " + e.getMessage(), e);
    }
    return new Pkcs11KekStore(
        provider,
        pin,
        labelPrefix,
        "PKCS#11 token (" + provider.getName() + ", labels " + labelPrefix + "*)");
  }

  @Override
  public KekRing ring() {
    return ring;
  }

  @Override
  public synchronized boolean reload() throws GeneralSecurityException, IOException {
    KeyStore ks = keyStore();
    List<String> labels = new ArrayList<>();
    for (String alias : Collections.list(ks.aliases())) {
      if (alias.startsWith(labelPrefix) && ks.isKeyEntry(alias)) {
        labels.add(alias);
      }
    }
    labels.sort(NATURAL_ORDER);
    if (labels.equals(loadedIds) && ring != null) {
      return false;
    }
    List<Kek> keks = new ArrayList<>();
    for (String label : labels) {
      Key key = ks.getKey(label, null);
      if (key instanceof SecretKey sk && "AES".equalsIgnoreCase(sk.getAlgorithm())) {
        keks.add(new TokenKek(label, sk, provider));
      } else {
        log.warn(
            "PKCS#11 object '{}' matches the KEK label prefix but is not an AES secret key; ignored",
            label);
      }
    }
    if (keks.isEmpty()) {
      throw new IOException(
          "no AES key with a label starting with '"
              + labelPrefix
              + "' on the PKCS#11 token;"
              + " create one with: kms-plugin generate-key --pkcs11-config ... --pkcs11-pin-file ...");
    }
    KekRing previous = ring;
    ring = new KekRing(keks);
    loadedIds = labels;
    if (previous != null) {
      log.info(
          "PKCS#11 KEKs reloaded: current KEK {} (was {}), {} KEKs",
          ring.current().id(),
          previous.current().id(),
          keks.size());
    }
    return true;
  }

  private KeyStore keyStore() throws GeneralSecurityException, IOException {
    KeyStore ks = KeyStore.getInstance("PKCS11", provider);
    ks.load(null, pin);
    return ks;
  }

  /**
   * Generates a new AES-256 key on the token, labelled {@code labelPrefix + <UTC time>} unless a
   * label is given, and returns its label. It becomes the current KEK when its label sorts last.
   */
  public static String generateKey(
      Path configFile, Path pinFile, String labelPrefix, String label, Clock clock)
      throws Exception {
    Pkcs11KekStore store = connect(configFile, pinFile, labelPrefix);
    KeyStore ks = store.keyStore();
    String newLabel =
        label != null
            ? label
            : labelPrefix
                + DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'")
                    .withZone(ZoneOffset.UTC)
                    .format(clock.instant());
    if (!KekRing.ID_PATTERN.matcher(newLabel).matches()) {
      throw new IOException(
          "KEK label '" + newLabel + "' is invalid: use 1-128 characters of A-Z a-z 0-9 . _ -");
    }
    if (ks.containsAlias(newLabel)) {
      throw new IOException(
          "the token already has an object labelled '" + newLabel + "'; pick another label");
    }
    KeyGenerator generator = KeyGenerator.getInstance("AES", store.provider);
    generator.init(256, new SecureRandom());
    SecretKey key = generator.generateKey();
    ks.setEntry(newLabel, new KeyStore.SecretKeyEntry(key), null);
    return newLabel;
  }

  @Override
  public String describe() {
    return description;
  }

  @Override
  public void close() {
    Arrays.fill(pin, '\0');
  }

  /** Orders labels with digit runs compared as numbers. */
  static final Comparator<String> NATURAL_ORDER =
      (a, b) -> {
        Matcher ma = DIGITS_OR_NOT.matcher(a);
        Matcher mb = DIGITS_OR_NOT.matcher(b);
        while (ma.find() && mb.find()) {
          String pa = ma.group();
          String pb = mb.group();
          int c;
          if (Character.isDigit(pa.charAt(0)) && Character.isDigit(pb.charAt(0))) {
            String ta = pa.replaceFirst("^0+(?=.)", "");
            String tb = pb.replaceFirst("^0+(?=.)", "");
            c =
                ta.length() != tb.length()
                    ? Integer.compare(ta.length(), tb.length())
                    : ta.compareTo(tb);
          } else {
            c = pa.compareTo(pb);
          }
          if (c != 0) {
            return c;
          }
        }
        return a.compareTo(b);
      };

  /** A KEK on the token: AES-GCM runs inside the token; the key is only a handle here. */
  private static final class TokenKek implements Kek {
    private static final SecureRandom RANDOM = new SecureRandom();
    private final String id;
    private final SecretKey key;
    private final Provider provider;

    TokenKek(String id, SecretKey key, Provider provider) {
      this.id = id;
      this.key = key;
      this.provider = provider;
    }

    @Override
    public String id() {
      return id;
    }

    @Override
    public byte[] seal(byte[] plaintext, byte[] associatedData) throws TransformException {
      byte[] nonce = new byte[12];
      RANDOM.nextBytes(nonce);
      try {
        Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding", provider);
        cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, nonce));
        cipher.updateAAD(associatedData);
        byte[] ct = cipher.doFinal(plaintext);
        byte[] out = new byte[12 + ct.length];
        System.arraycopy(nonce, 0, out, 0, 12);
        System.arraycopy(ct, 0, out, 12, ct.length);
        return out;
      } catch (GeneralSecurityException e) {
        throw new TransformException("PKCS#11 token could not wrap with KEK " + id + ": " + e, e);
      }
    }

    @Override
    public byte[] open(byte[] sealed, byte[] associatedData) throws TransformException {
      if (sealed.length < 12 + 16) {
        throw new TransformException("wrapped key is too short");
      }
      try {
        Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding", provider);
        cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, sealed, 0, 12));
        cipher.updateAAD(associatedData);
        return cipher.doFinal(sealed, 12, sealed.length - 12);
      } catch (AEADBadTagException e) {
        throw new TransformException("cipher: message authentication failed");
      } catch (GeneralSecurityException | java.security.ProviderException e) {
        // SoftHSM and some HSMs report a failed tag check as CKR_ENCRYPTED_DATA_INVALID instead.
        throw new TransformException("PKCS#11 token could not unwrap with KEK " + id + ": " + e, e);
      }
    }

    @Override
    public String toString() {
      return "TokenKek[" + id + "]";
    }
  }
}
