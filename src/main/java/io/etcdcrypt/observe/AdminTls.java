package io.etcdcrypt.observe;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsExchange;
import com.sun.net.httpserver.HttpsParameters;
import io.etcdcrypt.proxy.LiveTls;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * HTTPS for the admin endpoint ({@code --metrics-cert-file}, {@code --metrics-key-file}) and, with
 * {@code --metrics-client-ca-file}, client certificate authentication of the paths that need it, as
 * kube-apiserver authenticates its metrics scraper with {@code --client-ca-file}.
 *
 * <p>The JDK server can only ask for client certificates per connection, not per path, and the
 * kubelet's HTTPS probes present none: so every handshake merely asks ({@code wantClientAuth}),
 * accepts whatever certificate comes (its key is still proven by the handshake), and {@link
 * #refusal} checks it against the CA per request.
 */
public final class AdminTls {

  private final SSLContext context;
  private final ClientCertificates clients;

  private AdminTls(SSLContext context, ClientCertificates clients) {
    this.context = context;
    this.clients = clients;
  }

  /**
   * HTTPS with {@code tls}'s certificate and key, following its reloads; with a CA in {@code tls},
   * client certificates signed by it are required where {@link AdminServer} protects a path.
   */
  public static AdminTls of(LiveTls tls) {
    ClientCertificates clients =
        tls.files().trustedCaFile() != null ? new ClientCertificates(tls) : null;
    return new AdminTls(tls.serverSslContext(ClientCertificates.ANY), clients);
  }

  /** Whether client certificates are checked at all. */
  boolean checksClients() {
    return clients != null;
  }

  HttpsConfigurator configurator() {
    return new HttpsConfigurator(context) {
      @Override
      public void configure(HttpsParameters params) {
        SSLParameters ssl = context.getDefaultSSLParameters();
        ssl.setWantClientAuth(clients != null);
        params.setSSLParameters(ssl);
      }
    };
  }

  /**
   * Why {@code ex} may not be served a protected path: a 401 without a client certificate, a 403
   * with one the CA did not sign; empty when it may, or when no CA is configured.
   */
  Optional<AdminServer.Response> refusal(HttpExchange ex) {
    if (clients == null) {
      return Optional.empty();
    }
    String path = ex.getRequestURI().getPath();
    X509Certificate[] chain;
    try {
      Certificate[] peer = ((HttpsExchange) ex).getSSLSession().getPeerCertificates();
      chain = java.util.Arrays.copyOf(peer, peer.length, X509Certificate[].class);
    } catch (SSLPeerUnverifiedException e) {
      return Optional.of(
          AdminServer.Response.text(
              401,
              "unauthorized: "
                  + path
                  + " needs a client certificate signed by a CA in --metrics-client-ca-file\n"));
    }
    return clients
        .untrusted(chain)
        .map(
            why ->
                AdminServer.Response.text(
                    403,
                    "forbidden: "
                        + path
                        + " needs a client certificate signed by a CA in --metrics-client-ca-file;"
                        + " this one ("
                        + chain[0].getSubjectX500Principal().getName()
                        + ") is not: "
                        + why
                        + "\n"));
  }
}
