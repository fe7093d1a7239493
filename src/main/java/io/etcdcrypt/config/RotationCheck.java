package io.etcdcrypt.config;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Compares a new EncryptionConfiguration with the one the cluster runs now, as a rolling change
 * meets it: for a while some kube-apiservers (or proxies) still use the previous file. That is safe
 * only when every node can read what any other node writes, so a new writing key goes out second
 * first and moves first in a later rollout, and the key the previous file wrote with stays
 * readable.
 */
public final class RotationCheck {

  private static final List<ProviderConfig> NO_RULE = List.of(new ProviderConfig.Identity());

  private RotationCheck() {}

  /** One line per resource and problem, naming providers and keys, never key material. */
  public static List<String> compare(
      EncryptionConfiguration previous, EncryptionConfiguration next) {
    Set<String> names = new LinkedHashSet<>();
    for (EncryptionConfiguration c : List.of(next, previous)) {
      c.rules().forEach(r -> names.addAll(r.resources()));
    }
    List<String> problems = new ArrayList<>();
    for (String name : names) {
      GroupResource gr = GroupResource.parse(name);
      List<ProviderConfig> before = providers(previous, gr);
      List<ProviderConfig> after = providers(next, gr);
      if (!canRead(before, after.get(0))) {
        problems.add(
            name
                + ": this file writes with "
                + writer(after.get(0))
                + ", which the previous file cannot read: nodes still on it could not read what"
                + " nodes on this file write. Roll out a file that lists it second first, then move"
                + " it first");
      }
      if (!canRead(after, before.get(0))) {
        problems.add(
            name
                + ": the previous file wrote with "
                + writer(before.get(0))
                + ", which this file cannot read: the values it wrote would become unreadable."
                + " Keep it (after the new one) until rewrap has run and census shows no value"
                + " uses it");
      }
    }
    return problems;
  }

  private static List<ProviderConfig> providers(EncryptionConfiguration c, GroupResource gr) {
    return c.providersFor(gr).map(ResolvedRule::providers).orElse(NO_RULE);
  }

  /** Whether one of {@code readers} opens what {@code writer} writes. */
  static boolean canRead(List<ProviderConfig> readers, ProviderConfig writer) {
    for (ProviderConfig reader : readers) {
      if (reader.getClass() != writer.getClass()) {
        continue;
      }
      if (writer instanceof ProviderConfig.Kms w) {
        ProviderConfig.Kms r = (ProviderConfig.Kms) reader;
        if (r.apiVersion() == w.apiVersion() && r.name().equals(w.name())) {
          return true;
        }
      } else if (keys(writer).isEmpty() || keys(reader).contains(keys(writer).get(0))) {
        return true; // identity, or a local provider that holds the writing key (name and secret)
      }
    }
    return false;
  }

  private static List<KeyConfig> keys(ProviderConfig p) {
    if (p instanceof ProviderConfig.AesCbc c) {
      return c.keys();
    }
    if (p instanceof ProviderConfig.AesGcm c) {
      return c.keys();
    }
    if (p instanceof ProviderConfig.Secretbox c) {
      return c.keys();
    }
    return List.of();
  }

  /** {@code aesgcm key key2}, {@code kms v2 provider vault}, {@code identity}. */
  static String writer(ProviderConfig p) {
    if (p instanceof ProviderConfig.Kms k) {
      return "kms " + k.apiVersion().text() + " provider " + k.name();
    }
    List<KeyConfig> keys = keys(p);
    return keys.isEmpty() ? p.describe() : p.describe() + " key " + keys.get(0).name();
  }
}
