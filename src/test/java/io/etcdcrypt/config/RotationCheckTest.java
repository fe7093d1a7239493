package io.etcdcrypt.config;

import static io.etcdcrypt.config.TestConfigs.parse;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class RotationCheckTest {

  private static final String V2_A = "{kms: {apiVersion: v2, name: a, endpoint: 'unix:///a.sock'}}";
  private static final String V2_B = "{kms: {apiVersion: v2, name: b, endpoint: 'unix:///b.sock'}}";
  private static final String IDENTITY = "{identity: {}}";

  private static EncryptionConfiguration secrets(String... providers) throws Exception {
    return parse(TestConfigs.secretsWith(providers));
  }

  private static List<String> compare(
      EncryptionConfiguration before, EncryptionConfiguration after) {
    return RotationCheck.compare(before, after);
  }

  @Test
  void aNewKmsProviderGoesSecondThenFirst() throws Exception {
    assertEquals(List.of(), compare(secrets(V2_A), secrets(V2_A, V2_B)));
    assertEquals(List.of(), compare(secrets(V2_A, V2_B), secrets(V2_B, V2_A)));
    assertEquals(List.of(), compare(secrets(V2_B, V2_A), secrets(V2_B)));
    List<String> oneStep = compare(secrets(V2_A), secrets(V2_B, V2_A));
    assertEquals(1, oneStep.size(), oneStep::toString);
    assertTrue(
        oneStep.get(0).startsWith("secrets: this file writes with kms v2 provider b, which the"),
        oneStep::toString);
  }

  @Test
  void encryptingForTheFirstTimeStartsWithIdentityFirst() throws Exception {
    EncryptionConfiguration none =
        parse(
            TestConfigs.doc(
                "resources: [{resources: [configmaps], providers: [" + IDENTITY + "]}]\n"));
    assertEquals(List.of(), compare(none, secrets(IDENTITY, V2_A)), "no rule is identity");
    assertEquals(List.of(), compare(secrets(IDENTITY, V2_A), secrets(V2_A, IDENTITY)));
    List<String> dropped = compare(secrets(V2_A, IDENTITY), secrets(V2_A));
    assertEquals(List.of(), dropped, "identity wrote nothing since the previous file");
    List<String> tooEarly = compare(secrets(IDENTITY, V2_A), secrets(V2_A));
    assertEquals(1, tooEarly.size(), tooEarly::toString);
    assertTrue(
        tooEarly.get(0).contains("the previous file wrote with identity"), tooEarly::toString);
  }
}
