package io.etcdcrypt.testing;

import java.io.InputStream;
import java.io.Reader;
import java.net.Socket;
import java.nio.file.Files;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509TrustManager;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/** TLS client material from {@link TestPki} files, for tests that connect to a TLS server. */
public final class TlsClients {

  private TlsClients() {}

  /** Trusts any server certificate: for tests where only the client's side matters. */
  public static final X509TrustManager ANY =
      new X509TrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public X509Certificate[] getAcceptedIssuers() {
          return new X509Certificate[0];
        }
      };

  /**
   * A client context presenting {@code client} (none when null) and checking with {@code trust}.
   */
  public static SSLContext context(TestPki.Leaf client, TrustManager trust) throws Exception {
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(client == null ? null : keyManagers(client), new TrustManager[] {trust}, null);
    return tls;
  }

  /** A trust manager that trusts {@code pki}'s CA alone. */
  public static TrustManager trusting(TestPki pki) throws Exception {
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    try (InputStream in = Files.newInputStream(pki.caCert())) {
      store.setCertificateEntry(
          "ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory f =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    f.init(store);
    return f.getTrustManagers()[0];
  }

  /**
   * Presents {@code leaf} whatever CAs the server asks for (the JDK's own key manager sends no
   * certificate when its issuer is not among them, as a client configured with the wrong CA's
   * certificate does not).
   */
  public static KeyManager[] keyManagers(TestPki.Leaf leaf) throws Exception {
    PrivateKey key;
    try (Reader r = Files.newBufferedReader(leaf.key());
        PEMParser pem = new PEMParser(r)) {
      key = new JcaPEMKeyConverter().getPrivateKey((PrivateKeyInfo) pem.readObject());
    }
    X509Certificate[] chain = {leaf.certificate()};
    return new KeyManager[] {
      new X509ExtendedKeyManager() {
        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
          return new String[] {"leaf"};
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
          return "leaf";
        }

        @Override
        public String chooseEngineClientAlias(
            String[] keyType, Principal[] issuers, SSLEngine engine) {
          return "leaf"; // HttpClient's connections are engines, not sockets
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
          return null;
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
          return null;
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
          return chain;
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
          return key;
        }
      }
    };
  }
}
