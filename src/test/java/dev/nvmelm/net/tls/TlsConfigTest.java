package dev.nvmelm.net.tls;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Real TLS 1.3 handshakes over loopback with generated certificates: who gets in, who doesn't. */
class TlsConfigTest {
    @TempDir
    static Path dir;
    static Path good, other;

    @BeforeAll
    static void generate() throws Exception {
        good = dir.resolve("good");
        other = dir.resolve("other");
        CertificateGenerator.generate(good, "nvme-lm-test", List.of(), 30);
        CertificateGenerator.generate(other, "intruder", List.of(), 30);
    }

    @Test
    void writesTheFiveFilesWithOwnerOnlyKeys() throws IOException {
        for (String f : CertificateGenerator.FILES) assertThat(good.resolve(f)).exists();
        assertThat(Files.getPosixFilePermissions(good.resolve("server.key")))
                .isEqualTo(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
        assertThat(Files.readString(good.resolve("client.key"))).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThatThrownBy(() -> CertificateGenerator.generate(good, "x", List.of(), 1)).hasMessageContaining("already exists");
    }

    private static TlsConfig server(Path d) { return new TlsConfig(d.resolve("server.crt"), d.resolve("server.key"), d.resolve("ca.crt")); }
    private static TlsConfig client(Path d) { return new TlsConfig(d.resolve("client.crt"), d.resolve("client.key"), d.resolve("ca.crt")); }

    /** Handshakes once; returns the negotiated protocol or throws what the client saw. */
    private static String handshake(SSLContext serverCtx, SSLContext clientCtx) throws Exception {
        try (SSLServerSocket ss = (SSLServerSocket) serverCtx.getServerSocketFactory().createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            ss.setSSLParameters(TlsConfig.serverParameters(serverCtx));
            CompletableFuture<Void> srv = CompletableFuture.runAsync(() -> {
                try (SSLSocket s = (SSLSocket) ss.accept()) {
                    s.setSoTimeout(5000);
                    s.startHandshake();
                    s.getOutputStream().write(42);
                    s.getOutputStream().flush();
                } catch (IOException ignored) {
                    // the client's view is what the test asserts
                }
            });
            try (SSLSocket c = (SSLSocket) clientCtx.getSocketFactory().createSocket("127.0.0.1", ss.getLocalPort())) {
                c.setSSLParameters(TlsConfig.clientParameters(clientCtx));
                c.setSoTimeout(5000);
                c.startHandshake();
                int b = c.getInputStream().read();  // TLS 1.3 reports a rejected client cert here
                if (b != 42) throw new IOException("connection closed by server");
                return c.getSession().getProtocol();
            } finally {
                srv.get(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void mutuallyAuthenticatedPeersTalkTls13() throws Exception {
        assertThat(handshake(server(good).context(), client(good).context())).isEqualTo("TLSv1.3");
    }

    @Test
    void aClientSignedByAnotherCaIsRefused() throws Exception {
        assertThatThrownBy(() -> handshake(server(good).context(), client(other).context())).isInstanceOf(IOException.class);
    }

    @Test
    void aClientWithoutCertificateIsRefused() throws Exception {
        SSLContext anonymous = SSLContext.getInstance("TLSv1.3");
        var tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        var ts = java.security.KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        ts.setCertificateEntry("ca", Pem.readCertificates(good.resolve("ca.crt")).getFirst());
        tmf.init(ts);
        anonymous.init(null, tmf.getTrustManagers(), null);
        assertThatThrownBy(() -> handshake(server(good).context(), anonymous)).isInstanceOf(IOException.class);
    }

    @Test
    void aServerSignedByAnotherCaIsRefusedByTheClient() throws Exception {
        assertThatThrownBy(() -> handshake(server(other).context(), client(good).context())).isInstanceOf(IOException.class);
    }

    @Test
    void theSameUnchangedFilesGiveTheSameContextSoAReconnectCanResume() throws Exception {
        assertThat(client(good).context()).isSameAs(client(good).context());
        assertThat(server(good).context()).isNotSameAs(client(good).context());
    }

    @Test
    void aRenewedCertificateGivesANewContext() throws Exception {
        Path renewed = dir.resolve("renewed");
        CertificateGenerator.generate(renewed, "nvme-lm-test", List.of(), 30);
        SSLContext before = client(renewed).context();
        Files.move(renewed.resolve("client.crt"), renewed.resolve("client.old"));
        Files.copy(renewed.resolve("client.old"), renewed.resolve("client.crt"));   // a new inode, as a rotation by rename leaves
        assertThat(client(renewed).context()).isNotSameAs(before);
    }

    @Test
    void missingFilesGiveAClearReason() {
        assertThatThrownBy(() -> new TlsConfig(dir.resolve("nope.crt"), good.resolve("server.key"), good.resolve("ca.crt")).context())
                .hasMessageContaining("nope.crt").hasMessageContaining("missing");
    }
}
