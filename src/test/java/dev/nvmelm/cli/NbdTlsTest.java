package dev.nvmelm.cli;

import dev.nvmelm.nbd.FileExport;
import dev.nvmelm.nbd.Nbd;
import dev.nvmelm.nbd.NbdClient;
import dev.nvmelm.nbd.NbdServer;
import dev.nvmelm.nbd.NbdUri;
import dev.nvmelm.net.tls.CertificateGenerator;
import dev.nvmelm.net.tls.TlsConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * NBD over TLS (NBD_OPT_STARTTLS, TLS 1.3, client certificates): our server with our client,
 * libnbd's nbdinfo/nbdcopy and qemu-img; our client against qemu-nbd's TLS; plaintext clients,
 * a foreign CA's certificate and garbage instead of a ClientHello refused while the server keeps serving.
 */
class NbdTlsTest {
    static final long SIZE = 8 << 20;
    @TempDir
    static Path certs;
    @TempDir
    Path dir;
    static Path good, other;
    NbdServer server;
    Path image;
    int port;
    final List<String> log = new ArrayList<>();

    @BeforeAll
    static void makeCertificates() throws Exception {
        good = certs.resolve("good");
        other = certs.resolve("other");
        CertificateGenerator.generate(good, "nvme-lm-test", List.of(), 30);
        CertificateGenerator.generate(other, "intruder", List.of(), 30);
    }

    static SSLContext server(Path d) throws IOException {
        return new TlsConfig(d.resolve("server.crt"), d.resolve("server.key"), d.resolve("ca.crt")).context();
    }

    static SSLContext client(Path d) throws IOException {
        return new TlsConfig(d.resolve("client.crt"), d.resolve("client.key"), d.resolve("ca.crt")).context();
    }

    /** The file names libnbd (GnuTLS) and QEMU look for in a certificate directory. */
    static Path gnutlsDir(Path from, Path to, String role) throws IOException {
        Files.createDirectories(to);
        Files.copy(from.resolve("ca.crt"), to.resolve("ca-cert.pem"));
        Files.copy(from.resolve(role + ".crt"), to.resolve(role + "-cert.pem"));
        Files.copy(from.resolve(role + ".key"), to.resolve(role + "-key.pem"));
        return to;
    }

    @BeforeEach
    void start() throws Exception {
        image = dir.resolve("x.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            byte[] b = new byte[1 << 20];
            new Random(4).nextBytes(b);
            f.seek(2 << 20);
            f.write(b);
            f.setLength(SIZE);
        }
        server = new NbdServer(List.of(new FileExport("x", image, false)), log::add);
        port = ((InetSocketAddress) server.listen(new InetSocketAddress("127.0.0.1", 0), server(good))).getPort();
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
    }

    String uri() {
        return "nbds://127.0.0.1:" + port + "/x";
    }

    void ourClientWorks() throws IOException {
        try (NbdClient c = NbdClient.connect(NbdUri.parse(uri()), NbdClient.Options.PLAIN.withTls(client(good)))) {
            assertThat(c.sizeBytes()).isEqualTo(SIZE);
            byte[] got = new byte[1 << 20];
            NbdClient.await(c.read(2 << 20, got));
            assertThat(got).isEqualTo(Arrays.copyOfRange(Files.readAllBytes(image), 2 << 20, 3 << 20));
            assertThat(NbdClient.await(c.blockStatus(0, SIZE))).isNotEmpty();
        }
    }

    @Test
    void ourClientAndServerOverTls() throws Exception {
        ourClientWorks();
        try (NbdClient c = NbdClient.connect(NbdUri.parse(uri()), NbdClient.Options.PLAIN.withTls(client(good)))) {
            assertThat(NbdClient.await(c.blockStatus(0, SIZE)).getFirst().flags() & Nbd.STATE_HOLE).isEqualTo(Nbd.STATE_HOLE);
        }
        try (NbdClient c = NbdClient.connect(NbdUri.parse(uri()), NbdClient.Options.PLAIN.withTls(client(good)))) {
            byte[] b = new byte[4096];
            Arrays.fill(b, (byte) 0x3c);
            NbdClient.await(c.write(0, b, true));
            NbdClient.await(c.flush());
        }
        assertThat(Files.readAllBytes(image)[100]).isEqualTo((byte) 0x3c);
    }

    @Test
    void plaintextClientsGetTlsRequired() throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            DataInputStream in = new DataInputStream(s.getInputStream());
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            in.readFully(new byte[18]);
            out.writeInt(Nbd.FLAG_C_FIXED_NEWSTYLE);
            for (int opt : new int[]{Nbd.OPT_STRUCTURED_REPLY, Nbd.OPT_LIST, Nbd.OPT_GO}) {
                byte[] data = opt == Nbd.OPT_GO ? new byte[]{0, 0, 0, 1, 'x', 0, 0} : new byte[0];
                out.writeLong(Nbd.IHAVEOPT);
                out.writeInt(opt);
                out.writeInt(data.length);
                out.write(data);
                assertThat(in.readLong()).isEqualTo(Nbd.REPLY_MAGIC);
                assertThat(in.readInt()).isEqualTo(opt);
                assertThat(in.readInt()).as("reply to option " + opt).isEqualTo(Nbd.REP_ERR_TLS_REQD);
                in.readFully(new byte[in.readInt()]);
            }
            // EXPORT_NAME has no error reply: the server hangs up
            out.writeLong(Nbd.IHAVEOPT);
            out.writeInt(Nbd.OPT_EXPORT_NAME);
            out.writeInt(1);
            out.write('x');
            assertThat(in.read()).isEqualTo(-1);
        }
        // our own client on the plaintext URI is told why in one line
        assertThatThrownBy(() -> NbdClient.connect(NbdUri.parse("nbd://127.0.0.1:" + port + "/x")))
                .hasMessageContaining("TLS is required");
        // libnbd too
        Process p = new ProcessBuilder("nbdinfo", "nbd://127.0.0.1:" + port + "/x").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isNotZero();
        ourClientWorks();
    }

    @Test
    void aForeignCertificateAndGarbageInsteadOfTlsAreRefusedWhileTheServerKeepsServing() throws Exception {
        assertThatThrownBy(() -> NbdClient.connect(NbdUri.parse(uri()), NbdClient.Options.PLAIN.withTls(client(other))))
                .hasMessageContaining("TLS handshake");
        // a client that says STARTTLS and then sends junk
        try (Socket s = new Socket("127.0.0.1", port)) {
            DataInputStream in = new DataInputStream(s.getInputStream());
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            in.readFully(new byte[18]);
            out.writeInt(Nbd.FLAG_C_FIXED_NEWSTYLE);
            out.writeLong(Nbd.IHAVEOPT);
            out.writeInt(Nbd.OPT_STARTTLS);
            out.writeInt(0);
            in.readLong();
            in.readInt();
            assertThat(in.readInt()).isEqualTo(Nbd.REP_ACK);
            in.readFully(new byte[in.readInt()]);
            byte[] junk = new byte[4096];
            new Random(1).nextBytes(junk);
            out.write(junk);
            out.flush();
            assertThat(in.read(new byte[1 << 16])).isLessThanOrEqualTo(64);  // at most an alert, then the connection ends
        }
        // nbds:// to a listener without TLS: the client says the server refused STARTTLS
        NbdServer plain = new NbdServer(List.of(new FileExport("x", image, true)), log::add);
        try {
            int p1 = ((InetSocketAddress) plain.listen(new InetSocketAddress("127.0.0.1", 0))).getPort();
            assertThatThrownBy(() -> NbdClient.connect(NbdUri.parse("nbds://127.0.0.1:" + p1 + "/x"), NbdClient.Options.PLAIN.withTls(client(good))))
                    .hasMessageContaining("refused STARTTLS").hasMessageContaining("TLS is not configured");
        } finally {
            plain.close();
        }
        // a server certificate from another CA is refused by our client
        NbdServer impostor = new NbdServer(List.of(new FileExport("x", image, true)), log::add);
        try {
            int p2 = ((InetSocketAddress) impostor.listen(new InetSocketAddress("127.0.0.1", 0), server(other))).getPort();
            assertThatThrownBy(() -> NbdClient.connect(NbdUri.parse("nbds://127.0.0.1:" + p2 + "/x"), NbdClient.Options.PLAIN.withTls(client(good))))
                    .hasMessageContaining("TLS handshake");
        } finally {
            impostor.close();
        }
        ourClientWorks();
    }

    @Test
    void libnbdAndQemuImgTalkToOurTlsServer() throws Exception {
        Path lib = gnutlsDir(good, dir.resolve("libnbd"), "client");
        String u = uri() + "?tls-certificates=" + lib;
        assertThat(run("nbdinfo", u)).contains("with TLS").contains("export-size: " + SIZE);
        assertThat(run("nbdinfo", "--map", u)).containsPattern("(?m)^\\s+2097152\\s+1048576\\s+0\\s+data");
        Path in = dir.resolve("in.img");
        byte[] data = new byte[(int) SIZE];
        new Random(9).nextBytes(data);
        Files.write(in, data);
        run("nbdcopy", in.toString(), u);
        assertThat(Files.mismatch(in, image)).isEqualTo(-1);
        // qemu as a TLS client (its tls-creds-x509 directory uses the same names)
        Path q = gnutlsDir(good, dir.resolve("qemu"), "client");
        String nbdJson = "json:{\"driver\":\"raw\",\"file\":{\"driver\":\"nbd\",\"server\":{\"type\":\"inet\",\"host\":\"127.0.0.1\",\"port\":\""
                + port + "\"},\"export\":\"x\",\"tls-creds\":\"tls0\"}}";
        assertThat(run("qemu-img", "compare", "--object", "tls-creds-x509,id=tls0,dir=" + q + ",endpoint=client", "-f", "raw", in.toString(), nbdJson))
                .contains("identical");
        // a libnbd client with the other CA's certificate is refused, and the server carries on
        Path bad = gnutlsDir(other, dir.resolve("bad"), "client");
        Process p = new ProcessBuilder("nbdinfo", uri() + "?tls-certificates=" + bad).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isNotZero();
        ourClientWorks();
    }

    /** Our client (migrate --source nbds://, and --source-image into --dest nbds://) against qemu-nbd's TLS with verify-peer=on. */
    @Test
    void ourClientAgainstQemuNbdTls() throws Exception {
        server.close();
        Path qdir = gnutlsDir(good, dir.resolve("qemu-server"), "server");
        int qport;
        try (ServerSocket ss = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            qport = ss.getLocalPort();
        }
        Process q = new ProcessBuilder("qemu-nbd", "--object", "tls-creds-x509,id=tls0,dir=" + qdir + ",endpoint=server,verify-peer=on",
                "--tls-creds", "tls0", "-f", "raw", "-r", "-b", "127.0.0.1", "-p", String.valueOf(qport), "-x", "s", "--persistent", image.toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            dev.nvmelm.Procs.awaitPort(q, qport);
            String src = "nbds://127.0.0.1:" + qport + "/s";
            Path dst = dir.resolve("out.img");
            CliRunner r = CliRunner.run("migrate", "--source", src, "--dest-image", dst.toString(),
                    "--tls-cert", good.resolve("client.crt").toString(), "--tls-key", good.resolve("client.key").toString(),
                    "--tls-ca", good.resolve("ca.crt").toString());
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(Files.mismatch(image, dst)).isEqualTo(-1);
            // the other CA's client certificate: qemu-nbd refuses it, one line and exit 1
            CliRunner bad = CliRunner.run("migrate", "--source", src, "--dest-image", dir.resolve("no.img").toString(),
                    "--tls-cert", other.resolve("client.crt").toString(), "--tls-key", other.resolve("client.key").toString(),
                    "--tls-ca", good.resolve("ca.crt").toString());
            assertThat(bad.exit()).isEqualTo(1);
            assertThat(bad.err().strip().lines()).hasSize(1);
            // and the other direction: an image migrated into a writable qemu-nbd over TLS
            Path target = dir.resolve("target.img");
            try (RandomAccessFile f = new RandomAccessFile(target.toFile(), "rw")) {
                f.setLength(SIZE);
            }
            int wport;
            try (ServerSocket ss = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                wport = ss.getLocalPort();
            }
            Process w = new ProcessBuilder("qemu-nbd", "--object", "tls-creds-x509,id=tls0,dir=" + qdir + ",endpoint=server,verify-peer=on",
                    "--tls-creds", "tls0", "-f", "raw", "-b", "127.0.0.1", "-p", String.valueOf(wport), "-x", "t", "--persistent", target.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            try {
                dev.nvmelm.Procs.awaitPort(w, wport);
                CliRunner into = CliRunner.run("migrate", "--source-image", image.toString(), "--dest", "nbds://127.0.0.1:" + wport + "/t",
                        "--tls-cert", good.resolve("client.crt").toString(), "--tls-key", good.resolve("client.key").toString(),
                        "--tls-ca", good.resolve("ca.crt").toString());
                assertThat(into.exit()).as(into.out() + into.err()).isZero();
                assertThat(into.out()).contains("verified      yes");
            } finally {
                dev.nvmelm.Procs.stop(w);
            }
            assertThat(Files.mismatch(image, target)).isEqualTo(-1);
            // plaintext to a TLS-only qemu-nbd: refused with its reason
            CliRunner plain = CliRunner.run("migrate", "--source", "nbd://127.0.0.1:" + qport + "/s", "--dest-image", dir.resolve("no.img").toString());
            assertThat(plain.exit()).isEqualTo(1);
            assertThat(plain.err().strip().lines()).hasSize(1);
        } finally {
            dev.nvmelm.Procs.stop(q);
        }
    }

    @Test
    void deviceServeNeedsTlsOffLoopbackAndAdvertisesNbds() throws Exception {
        NbdServer s = new NbdServer(List.of(new FileExport("c1n1", image, true)), log::add);
        try {
            assertThatThrownBy(() -> NamespaceExports.listen(s, "tcp:0.0.0.0:0")).hasMessageContaining("needs TLS");
            List<String> uris = NamespaceExports.listen(s, "tcp:0.0.0.0:0", server(good));
            assertThat(uris).singleElement().asString().startsWith("nbds://");
        } finally {
            s.close();
        }
        CliRunner partial = CliRunner.run("device", "serve", "--dir", dir.resolve("d").toString(), "--nbd", "tcp:127.0.0.1:0",
                "--tls-cert", good.resolve("server.crt").toString());
        assertThat(partial.exit()).isEqualTo(1);
        assertThat(partial.err()).contains("--tls-cert, --tls-key and --tls-ca together");
    }

    /** The real command in its own JVM: device serve --nbd tcp: with TLS and nvme-lm:dirty, read by libnbd and by migrate --source nbds://. */
    @Test
    void deviceServeWithTlsEndToEnd() throws Exception {
        server.close();
        Path d = dir.resolve("served");
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "device", "serve", "--dir", d.toString(), "--ns-size", "8M", "--migratable", "1", "--host-memory", "16M",
                "--nbd", "tcp:127.0.0.1:0", "--nbd-dirty", "--tls-cert", good.resolve("server.crt").toString(),
                "--tls-key", good.resolve("server.key").toString(), "--tls-ca", good.resolve("ca.crt").toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
            assertThat(r.readLine()).startsWith("sim:");
            String uri = r.readLine();
            assertThat(uri).matches("nbds://127\\.0\\.0\\.1:\\d+/c1n1");
            Path lib = gnutlsDir(good, dir.resolve("libnbd"), "client");
            Path in = dir.resolve("in.img");
            byte[] data = new byte[1 << 20];
            new Random(5).nextBytes(data);
            Files.write(in, data);
            // nbdcopy writes the whole disk through TLS (zeroes for the holes too): nvme-lm:dirty marks all of it
            try (RandomAccessFile f = new RandomAccessFile(in.toFile(), "rw")) {
                f.setLength(8 << 20);
            }
            run("nbdcopy", in.toString(), uri + "?tls-certificates=" + lib);
            assertThat(run("nbdinfo", "--map=nvme-lm:dirty", uri + "?tls-certificates=" + lib)).containsPattern("(?m)^\\s+0\\s+8388608\\s+1\\s*$");
            Path out = dir.resolve("out.img");
            CliRunner m = CliRunner.run("migrate", "--source", uri, "--dest-image", out.toString(), "--tls-cert", good.resolve("client.crt").toString(),
                    "--tls-key", good.resolve("client.key").toString(), "--tls-ca", good.resolve("ca.crt").toString());
            assertThat(m.exit()).as(m.out() + m.err()).isZero();
            assertThat(m.out()).contains("dirty map     nvme-lm:dirty").contains("converged after 1 dirty pass").contains("verified      yes");
            assertThat(Files.mismatch(in, out)).isEqualTo(-1);
            p.destroy();   // SIGTERM
            assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isZero();
        } finally {
            p.destroyForcibly();
        }
    }

    static String run(String... cmd) throws Exception {
        return dev.nvmelm.Procs.run(cmd);
    }
}
