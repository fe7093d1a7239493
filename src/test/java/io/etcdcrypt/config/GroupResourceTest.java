package io.etcdcrypt.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GroupResourceTest {

  @ParameterizedTest(name = "{0} -> group={1} resource={2}")
  @CsvSource({
    "secrets, '', secrets",
    "deployments.apps, apps, deployments",
    "pandas.awesome.bears.example, awesome.bears.example, pandas",
    "'*.', '', *",
    "'*.apps', apps, *",
    "'*.*', *, *",
    "secrets., '', secrets",
  })
  void parseSplitsAtTheFirstDot(String text, String group, String resource) {
    assertEquals(new GroupResource(group, resource), GroupResource.parse(text));
  }

  @ParameterizedTest
  @CsvSource({"secrets", "deployments.apps", "'*.'", "'*.apps'", "'*.*'", "widgets.example.com"})
  void configNameRoundTrips(String text) {
    assertEquals(text, GroupResource.parse(text).configName());
  }

  @Test
  void wildcards() {
    assertTrue(GroupResource.ANY.isWildcard());
    assertTrue(GroupResource.ANY_CORE.isWildcard());
    assertEquals("*.", GroupResource.ANY_CORE.configName());
    assertFalse(GroupResource.parse("secrets").isWildcard());
  }
}
