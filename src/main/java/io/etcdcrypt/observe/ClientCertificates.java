package io.etcdcrypt.observe;

import io.etcdcrypt.proxy.LiveTls;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Optional;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Checks a client certificate chain against the CA bundle a {@link LiveTls} holds, following its
 * reloads: signed by one of the CAs, valid now, and meant for client authentication (the JDK's PKIX
 * checks, as in a handshake).
 */
final class ClientCertificates {

  /**
   * Accepts every client certificate during the handshake, so that a connection without one (the
   * kubelet's probes) or with an untrusted one still gets an answer; {@link #untrusted} decides per
   * request. It names no CA, so a client sends the certificate it has and hears why it is refused
   * instead of sending none.
   */
  static final TrustManager ANY =
      new X509ExtendedTrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket s) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine e) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket s)
            throws CertificateException {
          throw new CertificateException("a server's trust manager checks no server");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine e)
            throws CertificateException {
          throw new CertificateException("a server's trust manager checks no server");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType)
            throws CertificateException {
          throw new CertificateException("a server's trust manager checks no server");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
          return new X509Certificate[0];
        }
      };

  private volatile X509TrustManager trust;

  ClientCertificates(LiveTls tls) {
    tls.onTrustedCas(cas -> trust = trusting(cas));
  }

  /** Why {@code chain} is not trusted, or empty when it is. */
  Optional<String> untrusted(X509Certificate[] chain) {
    try {
      trust.checkClientTrusted(chain, chain[0].getPublicKey().getAlgorithm());
      return Optional.empty();
    } catch (CertificateException | RuntimeException e) {
      String why = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
      return Optional.of(why.lines().findFirst().orElse(why));
    }
  }

  private static X509TrustManager trusting(X509Certificate[] cas) {
    try {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      for (int i = 0; i < cas.length; i++) {
        store.setCertificateEntry("ca-" + i, cas[i]);
      }
      TrustManagerFactory factory =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init(store);
      for (TrustManager m : factory.getTrustManagers()) {
        if (m instanceof X509TrustManager x509) {
          return x509;
        }
      }
      throw new IllegalStateException("the JDK offers no X.509 trust manager");
    } catch (GeneralSecurityException | java.io.IOException e) {
      throw new IllegalStateException("cannot build a trust manager of the client CAs", e);
    }
  }
}
