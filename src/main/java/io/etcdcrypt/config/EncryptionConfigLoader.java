package io.etcdcrypt.config;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.schema.CoreSchema;

/**
 * Reads an EncryptionConfiguration file with kube-apiserver's rules
 * (pkg/server/options/encryptionconfig/config.go,
 * pkg/apis/apiserver/validation/validation_encryption.go, pkg/apis/apiserver/v1/defaults.go):
 *
 * <ul>
 *   <li>YAML or JSON; {@code apiVersion: apiserver.config.k8s.io/v1, kind:
 *       EncryptionConfiguration}, or the legacy {@code apiVersion: v1, kind: EncryptionConfig};
 *   <li>strict decoding: unknown or duplicate fields, wrong value types and an empty file are
 *       errors;
 *   <li>every validation rule, then the cross-rule masking check; all problems are reported
 *       together;
 *   <li>defaults: KMS {@code apiVersion} v1, {@code timeout} 3s, {@code cachesize} 1000 (v1 only).
 * </ul>
 *
 * <p>One deliberate difference: KMS v1 is accepted without kube-apiserver's {@code KMSv1} feature
 * gate (off by default since 1.29), because this proxy supports it.
 *
 * <p>Errors never contain key material.
 */
public final class EncryptionConfigLoader {

  static final String API_VERSION = "apiserver.config.k8s.io/v1";
  static final String KIND = "EncryptionConfiguration";
  static final String LEGACY_API_VERSION = "v1";
  static final String LEGACY_KIND = "EncryptionConfig";

  private static final List<String> TOP_LEVEL_FIELDS = List.of("apiVersion", "kind", "resources");
  private static final List<String> RULE_FIELDS = List.of("resources", "providers");

  private EncryptionConfigLoader() {}

  public static EncryptionConfiguration load(Path file) throws ConfigException {
    return load(file, LoadOptions.defaults());
  }

  public static EncryptionConfiguration load(Path file, LoadOptions options)
      throws ConfigException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw single(file.toString(), "file does not exist");
    } catch (IOException e) {
      throw single(file.toString(), "cannot read the file: " + e);
    }
    return parse(bytes, file.toString(), options);
  }

  public static EncryptionConfiguration parse(String yaml, String sourceName)
      throws ConfigException {
    return parse(yaml, sourceName, LoadOptions.defaults());
  }

  public static EncryptionConfiguration parse(String yaml, String sourceName, LoadOptions options)
      throws ConfigException {
    return parse(yaml.getBytes(StandardCharsets.UTF_8), sourceName, options);
  }

  /**
   * Parses raw file bytes; {@link EncryptionConfiguration#sha256()} is computed over exactly these
   * bytes.
   */
  public static EncryptionConfiguration parse(byte[] bytes, String sourceName, LoadOptions options)
      throws ConfigException {
    if (bytes.length == 0) {
      throw single(sourceName, "the file is empty");
    }
    String text;
    try {
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes))
              .toString();
    } catch (CharacterCodingException e) {
      throw single(sourceName, "the file is not valid UTF-8");
    }
    Node root = compose(tabsOutsideJsonStringsToSpaces(text), sourceName);
    Problems problems = new Problems();
    List<ResourceRule> rules = readDocument(root, problems, options);
    if (problems.hasErrors()) {
      throw new ConfigException(sourceName, problems.errors());
    }
    return new EncryptionConfiguration(rules, sha256(bytes), problems.warnings());
  }

  /**
   * kube-apiserver decodes a document whose first non-blank character is '{' as JSON, where tabs
   * are ordinary whitespace; YAML forbids them as indentation. Turning the tabs between JSON tokens
   * into spaces lets the YAML parser read such files without changing what they mean (a raw tab
   * inside a JSON string is invalid JSON and is left alone for the parser to reject).
   */
  static String tabsOutsideJsonStringsToSpaces(String text) {
    int first = 0;
    while (first < text.length() && Character.isWhitespace(text.charAt(first))) {
      first++;
    }
    if (first == text.length() || text.charAt(first) != '{' || text.indexOf('\t') < 0) {
      return text;
    }
    StringBuilder sb = new StringBuilder(text);
    boolean inString = false;
    for (int i = 0; i < sb.length(); i++) {
      char c = sb.charAt(i);
      if (inString) {
        if (c == '\\') {
          i++;
        } else if (c == '"') {
          inString = false;
        }
      } else if (c == '"') {
        inString = true;
      } else if (c == '\t') {
        sb.setCharAt(i, ' ');
      }
    }
    return sb.toString();
  }

  private static Node compose(String text, String sourceName) throws ConfigException {
    LoadSettings settings =
        LoadSettings.builder()
            .setLabel(sourceName)
            .setSchema(new CoreSchema())
            .setAllowRecursiveKeys(false)
            .build();
    Optional<Node> root;
    try {
      root = new Compose(settings).composeString(text);
    } catch (MarkedYamlEngineException e) {
      throw single(sourceName, syntaxError(e, text));
    } catch (YamlEngineException e) {
      throw single(sourceName, "not valid YAML: " + withoutDocumentText(e.getMessage(), text));
    }
    if (root.isEmpty()) {
      throw single(sourceName, "the file contains no document (only whitespace or comments)");
    }
    return root.get();
  }

  /**
   * Describes a YAML syntax error by position and snakeyaml's wording only: its own message quotes
   * the offending line, and its problem texts name what they found (an alias, a character), which
   * may be a key ({@link #withoutDocumentText}).
   */
  private static String syntaxError(MarkedYamlEngineException e, String text) {
    StringBuilder sb = new StringBuilder("YAML syntax error");
    Optional<Mark> mark = e.getProblemMark().isPresent() ? e.getProblemMark() : e.getContextMark();
    mark.ifPresent(
        m ->
            sb.append(" at line ")
                .append(m.getLine() + 1)
                .append(", column ")
                .append(m.getColumn() + 1));
    if (e.getContext() != null) {
      sb.append(": ").append(withoutDocumentText(e.getContext(), text));
    }
    if (e.getProblem() != null) {
      sb.append(e.getContext() != null ? ", " : ": ")
          .append(withoutDocumentText(e.getProblem(), text));
    }
    return sb.toString();
  }

  /**
   * A parser's {@code message} with every word that also occurs in the document replaced by "…":
   * snakeyaml names what it found ({@code found undefined alias <name>}, where {@code secret:
   * *<key>} makes the name a key), and only its own wording may be shown. Words shorter than four
   * characters (a quote, a tab) stay: no key is that short.
   */
  static String withoutDocumentText(String message, String document) {
    StringBuilder out = new StringBuilder(message.length());
    for (String word : message.split(" ", -1)) {
      String core = word.replaceAll("^['\"(]+|['\",.:;)]+$", "");
      if (out.length() > 0) {
        out.append(' ');
      }
      out.append(core.length() >= 4 && document.contains(core) ? word.replace(core, "…") : word);
    }
    return out.toString();
  }

  private static List<ResourceRule> readDocument(
      Node root, Problems problems, LoadOptions options) {
    YamlObject doc = YamlObject.read(root, "", problems, TOP_LEVEL_FIELDS);
    if (doc == null) {
      if (!problems.hasErrors()) {
        problems.error("", "the document is null; expected an EncryptionConfiguration object");
      }
      return List.of();
    }
    if (!checkTypeMeta(doc, problems)) {
      return List
          .of(); // not an EncryptionConfiguration at all: its fields would only produce noise
    }
    List<Node> ruleNodes = doc.list("resources");
    if (ruleNodes == null || ruleNodes.isEmpty()) {
      if (!problems.hasErrorAt("resources")) {
        problems.error("resources", "at least one resource rule is required");
      }
      return List.of();
    }
    ProviderReader providerReader = new ProviderReader(problems, options.automaticReload());
    List<ResourceRule> rules = new ArrayList<>();
    List<List<String>> resourceLists = new ArrayList<>();
    for (int i = 0; i < ruleNodes.size(); i++) {
      ResourceRule rule =
          readRule(
              ruleNodes.get(i),
              YamlObject.index("resources", i),
              problems,
              providerReader,
              resourceLists);
      if (rule != null) {
        rules.add(rule);
      }
    }
    checkMasking(resourceLists, problems);
    warnAboutUnknownBuiltIns(resourceLists, problems);
    return rules;
  }

  private static boolean checkTypeMeta(YamlObject doc, Problems problems) {
    String apiVersion = doc.string("apiVersion");
    String kind = doc.string("kind");
    if (problems.hasErrorAt("apiVersion") || problems.hasErrorAt("kind")) {
      return false;
    }
    String expected =
        "use apiVersion: "
            + API_VERSION
            + " with kind: "
            + KIND
            + " (or the legacy apiVersion: "
            + LEGACY_API_VERSION
            + " with kind: "
            + LEGACY_KIND
            + ")";
    if (apiVersion == null || apiVersion.isEmpty()) {
      problems.error("apiVersion", "apiVersion is required; " + expected);
    }
    if (kind == null || kind.isEmpty()) {
      problems.error("kind", "kind is required; " + expected);
    }
    if (apiVersion == null || apiVersion.isEmpty() || kind == null || kind.isEmpty()) {
      return false;
    }
    boolean current = apiVersion.equals(API_VERSION) && kind.equals(KIND);
    boolean legacy = apiVersion.equals(LEGACY_API_VERSION) && kind.equals(LEGACY_KIND);
    if (!current && !legacy) {
      problems.error(
          "kind",
          "apiVersion: "
              + apiVersion
              + " with kind: "
              + kind
              + " is not an encryption configuration; "
              + expected);
      return false;
    }
    return true;
  }

  /**
   * Reads one rule; {@code null} if it is invalid. Its resource strings are appended to {@code
   * resourceLists} ({@code null} if they could not be read) so that cross-rule checks still run
   * when some rule is invalid.
   */
  private static ResourceRule readRule(
      Node node,
      String path,
      Problems problems,
      ProviderReader providerReader,
      List<List<String>> resourceLists) {
    YamlObject rule = YamlObject.read(node, path, problems, RULE_FIELDS);
    if (rule == null && problems.hasErrorAt(path)) {
      resourceLists.add(null); // not an object: saying its fields are missing would add nothing
      return null;
    }
    String resourcesPath = YamlObject.child(path, "resources");
    String providersPath = YamlObject.child(path, "providers");
    List<Node> resourceNodes = rule == null ? null : rule.list("resources");
    List<Node> providerNodes = rule == null ? null : rule.list("providers");

    List<String> resources = new ArrayList<>();
    if (resourceNodes == null || resourceNodes.isEmpty()) {
      resourceLists.add(null);
      if (!problems.hasErrorAt(resourcesPath)) {
        problems.error(resourcesPath, "at least one resource is required");
      }
    } else {
      for (int j = 0; j < resourceNodes.size(); j++) {
        String r =
            YamlObject.elementString(
                resourceNodes.get(j), YamlObject.index(resourcesPath, j), problems);
        if (r != null) {
          resources.add(r);
        }
      }
      resourceLists.add(resources.size() == resourceNodes.size() ? resources : null);
      if (resources.size() == resourceNodes.size()) {
        ResourceNameRules.checkOverlap(resources, resourcesPath, problems);
        ResourceNameRules.checkNames(resources, resourcesPath, problems);
        for (int j = 0; j < resources.size(); j++) {
          if (resources.get(j).isEmpty()) {
            problems.warning(
                YamlObject.index(resourcesPath, j), "an empty resource name matches nothing");
          }
        }
      }
    }

    List<ProviderConfig> providers = new ArrayList<>();
    if (providerNodes == null || providerNodes.isEmpty()) {
      if (!problems.hasErrorAt(providersPath)) {
        problems.error(providersPath, "at least one provider is required");
      }
    } else {
      for (int j = 0; j < providerNodes.size(); j++) {
        ProviderConfig provider =
            providerReader.read(providerNodes.get(j), YamlObject.index(providersPath, j));
        if (provider != null) {
          providers.add(provider);
        }
      }
    }
    boolean complete =
        resourceNodes != null
            && !resourceNodes.isEmpty()
            && resources.size() == resourceNodes.size()
            && providerNodes != null
            && !providerNodes.isEmpty()
            && providers.size() == providerNodes.size();
    return complete ? new ResourceRule(resources, providers) : null;
  }

  /**
   * kube-apiserver's load-time check across rules: a resource is rejected when an earlier rule
   * already covers it with {@code *.<its group>} or {@code *.*} (a specific resource listed
   * <em>before</em> a wildcard is fine). Masking inside one list is already reported as an overlap,
   * so only earlier lists count here.
   */
  private static void checkMasking(List<List<String>> resourceLists, Problems problems) {
    Set<GroupResource> earlier = new HashSet<>();
    for (int i = 0; i < resourceLists.size(); i++) {
      List<String> resources = resourceLists.get(i);
      if (resources == null) {
        continue;
      }
      for (int j = 0; j < resources.size(); j++) {
        GroupResource gr = GroupResource.parse(resources.get(j));
        GroupResource groupWildcard = new GroupResource(gr.group(), "*");
        GroupResource mask =
            earlier.contains(groupWildcard)
                ? groupWildcard
                : earlier.contains(GroupResource.ANY) ? GroupResource.ANY : null;
        if (mask != null) {
          problems.error(
              YamlObject.index("resources[" + i + "].resources", j),
              "resource \""
                  + gr.configName()
                  + "\" is masked by earlier rule \""
                  + mask.configName()
                  + "\"");
        }
      }
      for (String r : resources) {
        earlier.add(GroupResource.parse(r));
      }
    }
  }

  /**
   * kube-apiserver accepts any resource name, but this proxy finds built-in resources by their
   * storage path, which it only knows for the resources in its table. A rule for an unknown
   * resource of a built-in group is either a typo (kube-apiserver then encrypts nothing for it
   * either) or a resource newer than this proxy.
   */
  private static void warnAboutUnknownBuiltIns(
      List<List<String>> resourceLists, Problems problems) {
    for (int i = 0; i < resourceLists.size(); i++) {
      List<String> resources = resourceLists.get(i);
      if (resources == null) {
        continue;
      }
      for (int j = 0; j < resources.size(); j++) {
        GroupResource gr = GroupResource.parse(resources.get(j));
        if (gr.isWildcard()
            || gr.resource().isEmpty()
            || BuiltInResources.contains(gr)
            || !BuiltInResources.BUILT_IN_GROUPS.contains(gr.group())) {
          continue;
        }
        String message =
            gr.group().isEmpty()
                ? "\""
                    + resources.get(j)
                    + "\" is not a core resource this proxy knows; check the spelling:"
                    + " kube-apiserver accepts any name and encrypts nothing under a misspelled one"
                : "\""
                    + resources.get(j)
                    + "\" is not a resource of built-in group "
                    + gr.group()
                    + " that this proxy"
                    + " knows: check the spelling; if it is newer than this proxy, the proxy cannot tell where"
                    + " kube-apiserver stores it and its values would pass through unencrypted";
        problems.warning(YamlObject.index("resources[" + i + "].resources", j), message);
      }
    }
  }

  private static String sha256(byte[] bytes) {
    try {
      return "sha256:"
          + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }

  private static ConfigException single(String source, String message) {
    return new ConfigException(source, List.of(new ConfigError("", message)));
  }
}
