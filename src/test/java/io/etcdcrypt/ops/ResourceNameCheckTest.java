package io.etcdcrypt.ops;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.ResourceResolver;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class ResourceNameCheckTest {

  private static final ResourceResolver RESOLVER = ResourceResolver.withDefaultPrefix();

  private static EncryptionConfiguration config() throws Exception {
    return OpsFixtures.parse(
        OpsFixtures.withRule(
            OpsFixtures.config("secrets", OpsFixtures.AESGCM_KEY1),
            "widgets.example.com",
            OpsFixtures.AESGCM_KEY1));
  }

  private static String refusal(String... names) throws Exception {
    EncryptionConfiguration config = config();
    return assertThrows(
            IllegalArgumentException.class,
            () -> ResourceNameCheck.check(List.of(names), config, RESOLVER))
        .getMessage();
  }

  @Test
  void aTypoIsRefusedWithTheNearestKnownNames() throws Exception {
    assertEquals(
        "--resources: \"sekrets\" is neither named in the configuration nor a built-in kube"
            + " resource; did you mean secrets? (leave --resources out to cover every resource)",
        refusal("secrets", "sekrets"));
    assertEquals(
        "--resources: \"deploymnets.apps\" is neither named in the configuration nor a built-in"
            + " kube resource; did you mean deployments.apps, replicasets.apps? (leave --resources out to cover every"
            + " resource)",
        refusal("deploymnets.apps"));
    assertEquals(
        "--resources: \"widget.example.com\" is neither named in the configuration nor a built-in"
            + " kube resource; did you mean widgets.example.com? (leave --resources out to cover"
            + " every resource)",
        refusal("widget.example.com"));
    assertEquals(
        "--resources: \"*.aps\" is neither named in the configuration nor a built-in kube"
            + " resource; did you mean *.apps? (leave --resources out to cover every resource)",
        refusal("*.aps"));
    assertEquals(
        "--resources: \"zzzzzzzzzzzz\" is neither named in the configuration nor a built-in kube"
            + " resource (leave --resources out to cover every resource)",
        refusal("zzzzzzzzzzzz"));
  }

  @Test
  void configuredBuiltInAndWildcardNamesPass() throws Exception {
    EncryptionConfiguration config = config();
    assertDoesNotThrow(
        () ->
            ResourceNameCheck.check(
                List.of(
                    "secrets",
                    " configmaps",
                    "deployments.apps",
                    "widgets.example.com",
                    "*.apps",
                    "*.",
                    "*.*",
                    "*.other.example.org"),
                config,
                RESOLVER));
  }

  @Test
  void distanceIsLevenshtein() {
    assertEquals(0, ResourceNameCheck.distance("secrets", "secrets"));
    assertEquals(1, ResourceNameCheck.distance("sekrets", "secrets"));
    assertEquals(2, ResourceNameCheck.distance("deploymnets", "deployments"));
    assertEquals(3, ResourceNameCheck.distance("kitten", "sitting"));
    assertEquals(4, ResourceNameCheck.distance("", "pods"));
  }
}
