package io.etcdcrypt.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import org.snakeyaml.engine.v2.nodes.Node;

/**
 * Reads and validates the {@code providers:} entries of a configuration (validation_encryption.go
 * and v1/defaults.go). One instance reads a whole file, because KMS provider names must be unique
 * across all rules.
 */
final class ProviderReader {

  private static final String IDENTITY = "identity";
  private static final String AESCBC = "aescbc";
  private static final String AESGCM = "aesgcm";
  private static final String SECRETBOX = "secretbox";
  private static final String KMS = "kms";
  private static final List<String> PROVIDER_FIELDS =
      List.of(IDENTITY, AESCBC, AESGCM, SECRETBOX, KMS);
  private static final List<String> KEYS_FIELDS = List.of("keys");
  private static final List<String> KEY_FIELDS = List.of("name", "secret");
  private static final List<String> KMS_FIELDS =
      List.of("apiVersion", "name", "cachesize", "endpoint", "timeout");

  private static final List<Integer> AES_KEY_SIZES = List.of(16, 24, 32);
  private static final List<Integer> SECRETBOX_KEY_SIZES = List.of(32);

  static final String KMS_V1 = KmsApiVersion.V1.text();
  static final String KMS_V2 = KmsApiVersion.V2.text();

  /**
   * KMS v1 is deprecated since Kubernetes 1.28 and off by default since 1.29 (feature gate KMSv1):
   * the proxy reads such a file, but a kube-apiserver given it again, e.g. to switch back to its
   * own encryption, refuses to start.
   */
  static final String KMS_V1_DEPRECATED =
      "KMS v1 (apiVersion v1, or apiVersion left out) is deprecated since Kubernetes 1.28:"
          + " kube-apiserver 1.29 and later refuses this file unless started with"
          + " --feature-gates=KMSv1=true, so switching back to kube-apiserver's own encryption would"
          + " need that gate; use apiVersion: v2 with a KMS v2 plugin (kms-plugin serves both)";

  static final int DEFAULT_KMS_V1_CACHE_SIZE = 1000;
  static final Duration DEFAULT_KMS_TIMEOUT = Duration.ofSeconds(3);

  private final Problems problems;
  private final boolean automaticReload;
  private final Set<String> kmsNames = new HashSet<>();

  ProviderReader(Problems problems, boolean automaticReload) {
    this.problems = problems;
    this.automaticReload = automaticReload;
  }

  /**
   * Reads one provider entry; {@code null} if it is invalid (the reasons are in {@link Problems}).
   */
  ProviderConfig read(Node node, String path) {
    YamlObject entry = YamlObject.read(node, path, problems, PROVIDER_FIELDS);
    List<String> present = new ArrayList<>();
    if (entry != null) {
      for (String type : PROVIDER_FIELDS) {
        if (entry.node(type) != null) {
          present.add(type);
        }
      }
    }
    if (present.isEmpty()) {
      if (!problems.hasErrorAt(path)) {
        problems.error(
            path,
            "names no provider; each entry needs exactly one of identity: {}, aescbc, aesgcm,"
                + " secretbox or kms (note that \"identity:\" with no value is null; write \"identity: {}\")");
      }
      return null;
    }
    if (present.size() > 1) {
      problems.error(
          path,
          "names more than one provider ("
              + String.join(", ", present)
              + "); put each one in its own list entry");
    }
    ProviderConfig result = null;
    for (String type : present) {
      String p = entry.pathOf(type);
      Node body = entry.node(type);
      result =
          switch (type) {
            case IDENTITY -> readIdentity(body, p);
            case AESCBC -> withKeys(readKeys(body, p, AES_KEY_SIZES), ProviderConfig.AesCbc::new);
            case AESGCM -> withKeys(readKeys(body, p, AES_KEY_SIZES), ProviderConfig.AesGcm::new);
            case SECRETBOX ->
                withKeys(readKeys(body, p, SECRETBOX_KEY_SIZES), ProviderConfig.Secretbox::new);
            case KMS -> readKms(body, p);
            default -> throw new IllegalStateException(type);
          };
    }
    return present.size() == 1 ? result : null;
  }

  private static ProviderConfig withKeys(
      List<KeyConfig> keys, Function<List<KeyConfig>, ProviderConfig> provider) {
    return keys == null ? null : provider.apply(keys);
  }

  private ProviderConfig readIdentity(Node body, String path) {
    YamlObject identity = YamlObject.read(body, path, problems, List.of());
    return identity == null ? null : new ProviderConfig.Identity();
  }

  /** The keys of an aescbc/aesgcm/secretbox provider; {@code null} if any is invalid. */
  private List<KeyConfig> readKeys(Node body, String path, List<Integer> allowedSizes) {
    YamlObject provider = YamlObject.read(body, path, problems, KEYS_FIELDS);
    if (provider == null) {
      return null;
    }
    String keysPath = provider.pathOf("keys");
    List<Node> keyNodes = provider.list("keys");
    if (keyNodes == null || keyNodes.isEmpty()) {
      if (!problems.hasErrorAt(keysPath)) {
        problems.error(keysPath, "at least one key is required");
      }
      return null;
    }
    List<KeyConfig> keys = new ArrayList<>();
    Set<String> names = new HashSet<>();
    boolean valid = true;
    for (int i = 0; i < keyNodes.size(); i++) {
      KeyConfig key = readKey(keyNodes.get(i), YamlObject.index(keysPath, i), allowedSizes);
      if (key == null) {
        valid = false;
        continue;
      }
      if (!names.add(key.name())) {
        problems.warning(
            YamlObject.child(YamlObject.index(keysPath, i), "name"),
            "key name \""
                + key.name()
                + "\" is also used by an earlier key of this provider; stored values are tagged with the name of"
                + " the key that encrypted them, so give every key a distinct name");
      }
      keys.add(key);
    }
    return valid ? keys : null;
  }

  private KeyConfig readKey(Node node, String path, List<Integer> allowedSizes) {
    YamlObject key = YamlObject.read(node, path, problems, KEY_FIELDS);
    if (key == null && problems.hasErrorAt(path)) {
      return null;
    }
    String namePath = YamlObject.child(path, "name");
    String secretPath = YamlObject.child(path, "secret");
    String name = key == null ? null : key.string("name");
    String secret = key == null ? null : key.string("secret");
    boolean valid = true;
    if (name == null || name.isEmpty()) {
      if (!problems.hasErrorAt(namePath)) {
        problems.error(namePath, "name is required");
      }
      valid = false;
    }
    if (secret == null || secret.isEmpty()) {
      if (!problems.hasErrorAt(secretPath)) {
        problems.error(secretPath, "secret is required: the base64 encoding of the key");
      }
      return null;
    }
    byte[] decoded = decodeStdBase64(secret);
    if (decoded == null) {
      // Never quote the value: it is (possibly mistyped) key material.
      problems.error(
          secretPath, "secret must be standard base64 (RFC 4648 alphabet, with '=' padding)");
      return null;
    }
    if (!allowedSizes.contains(decoded.length)) {
      problems.error(
          secretPath,
          "secret must be base64 of "
              + sizes(allowedSizes)
              + " bytes, got "
              + decoded.length
              + " bytes");
      return null;
    }
    return valid ? new KeyConfig(name, decoded) : null;
  }

  private ProviderConfig readKms(Node body, String path) {
    YamlObject kms = YamlObject.read(body, path, problems, KMS_FIELDS);
    if (kms == null) {
      return null;
    }
    String apiVersion = kms.string("apiVersion");
    if (apiVersion == null && kms.node("apiVersion") == null) {
      apiVersion = KMS_V1;
    } else if (apiVersion != null && apiVersion.isEmpty()) {
      apiVersion = KMS_V1;
    }
    boolean v1 = KMS_V1.equals(apiVersion);
    boolean valid = apiVersion != null;
    if (v1) {
      problems.warning(kms.pathOf("apiVersion"), KMS_V1_DEPRECATED);
    }

    // name
    String name = kms.string("name");
    String namePath = kms.pathOf("name");
    if (name == null || name.isEmpty()) {
      if (!problems.hasErrorAt(namePath)) {
        problems.error(namePath, "name is required");
      }
      valid = false;
    } else {
      if (apiVersion != null && !v1 && name.contains(":")) {
        problems.error(
            namePath, "KMS provider name \"" + name + "\" must not contain ':' with apiVersion v2");
        valid = false;
      }
    }
    String knownName = name == null ? "" : name;
    // kube-apiserver checks v2 names (and, with automatic reload, v1 names too) against all KMS
    // names seen so far.
    if ((automaticReload || !v1) && kmsNames.contains(knownName) && !knownName.isEmpty()) {
      problems.error(
          namePath,
          "duplicate KMS provider name \""
              + knownName
              + "\"; names must be unique"
              + (v1 ? " when automatic reload is enabled" : ""));
      valid = false;
    }
    kmsNames.add(knownName);

    // timeout
    Duration timeout = DEFAULT_KMS_TIMEOUT;
    String timeoutPath = kms.pathOf("timeout");
    String timeoutText = kms.string("timeout");
    if (timeoutText != null) {
      try {
        timeout = GoDuration.parse(timeoutText);
        if (timeout.isZero() || timeout.isNegative()) {
          problems.error(timeoutPath, "timeout must be positive, got " + timeoutText);
          valid = false;
        }
      } catch (GoDuration.InvalidDurationException e) {
        problems.error(timeoutPath, e.getMessage());
        valid = false;
      }
    } else if (problems.hasErrorAt(timeoutPath)) {
      valid = false;
    }

    // endpoint
    String endpoint = kms.string("endpoint");
    String endpointPath = kms.pathOf("endpoint");
    if (endpoint == null || endpoint.isEmpty()) {
      if (!problems.hasErrorAt(endpointPath)) {
        problems.error(endpointPath, "endpoint is required, e.g. unix:///var/run/kms-plugin.sock");
      }
      valid = false;
    } else {
      try {
        KmsEndpoint parsed = KmsEndpoint.parse(endpoint);
        if (!parsed.host().isEmpty()) {
          problems.warning(
              endpointPath,
              "endpoint has a host part (\""
                  + parsed.host()
                  + "\") that kube-apiserver"
                  + " ignores: it connects to \""
                  + parsed.socketPath()
                  + "\"; write unix:///"
                  + parsed.host()
                  + parsed.socketPath()
                  + " if that is the socket you mean");
        }
      } catch (KmsEndpoint.InvalidEndpointException e) {
        problems.error(endpointPath, e.getMessage());
        valid = false;
      }
    }

    // cachesize: defaulted to 1000 for v1 only; must stay unset for any other apiVersion
    Integer cacheSize = kms.int32("cachesize");
    String cachePath = kms.pathOf("cachesize");
    if (problems.hasErrorAt(cachePath)) {
      valid = false;
    } else if (apiVersion == null) {
      valid = false; // the apiVersion error says it all
    } else if (v1) {
      if (cacheSize == null) {
        cacheSize = DEFAULT_KMS_V1_CACHE_SIZE;
      } else if (cacheSize == 0) {
        problems.error(
            cachePath,
            "cachesize must be positive, or negative to disable the cache; 0 is not allowed");
        valid = false;
      }
    } else if (cacheSize != null) {
      problems.error(cachePath, "cachesize is only supported with apiVersion v1; remove it for v2");
      valid = false;
    }

    // apiVersion
    if (apiVersion != null && !v1 && !KMS_V2.equals(apiVersion)) {
      problems.error(
          kms.pathOf("apiVersion"),
          "unsupported KMS apiVersion \"" + apiVersion + "\"; use v1 or v2");
      valid = false;
    }
    if (!valid) {
      return null;
    }
    return new ProviderConfig.Kms(
        v1 ? KmsApiVersion.V1 : KmsApiVersion.V2, name, endpoint, v1 ? cacheSize : 0, timeout);
  }

  /**
   * Go's {@code base64.StdEncoding.DecodeString}: standard alphabet, padding required, CR and LF
   * ignored. Returns {@code null} if the text is not valid.
   */
  static byte[] decodeStdBase64(String text) {
    String s =
        text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0
            ? text.replace("\n", "").replace("\r", "")
            : text;
    if (s.length() % 4 != 0) {
      return null;
    }
    try {
      return Base64.getDecoder().decode(s);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static String sizes(List<Integer> sizes) {
    if (sizes.size() == 1) {
      return sizes.get(0).toString();
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < sizes.size(); i++) {
      if (i > 0) {
        sb.append(i == sizes.size() - 1 ? " or " : ", ");
      }
      sb.append(sizes.get(i));
    }
    return sb.toString();
  }
}
