package dev.nvmelm.cli;

import dev.nvmelm.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.time.Duration;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The agent in a network namespace the test creates, reached over a veth pair with a real (non
 * loopback) address and TLS; the link is taken down for 3 s in the middle of the copy, the agent's
 * end of the connection is destroyed meanwhile, and the link is brought back: the source must
 * reconnect (asserted) and end verified. Everything the test creates is removed afterwards. Skipped where namespaces cannot be made.
 */
class AgentNetnsTest {
    @TempDir
    Path dir;
    final String ns = "nvlm" + ProcessHandle.current().pid() % 100000;
    final String hostIf = ns + "h", nsIf = ns + "n";
    final String hostIp = "10.231.77.1", nsIp = "10.231.77.2";
    Process agent;

    static int sh(String... cmd) throws Exception {
        return dev.nvmelm.Procs.exitCode(cmd);
    }

    @BeforeEach
    void network() throws Exception {
        Assumptions.assumeTrue(sh("ip", "netns", "add", ns) == 0, "cannot create network namespaces here");
        assertThat(sh("ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf)).isZero();
        assertThat(sh("ip", "link", "set", nsIf, "netns", ns)).isZero();
        assertThat(sh("ip", "addr", "add", hostIp + "/24", "dev", hostIf)).isZero();
        assertThat(sh("ip", "link", "set", hostIf, "up")).isZero();
        assertThat(sh("ip", "netns", "exec", ns, "ip", "addr", "add", nsIp + "/24", "dev", nsIf)).isZero();
        assertThat(sh("ip", "netns", "exec", ns, "ip", "link", "set", nsIf, "up")).isZero();
        assertThat(sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")).isZero();
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (agent != null) dev.nvmelm.Procs.stop(agent);
        sh("ip", "link", "del", hostIf);   // removes the peer too
        sh("ip", "netns", "del", ns);
    }

    @Test
    void aLinkDownForThreeSecondsMidCopyStillEndsVerified() throws Exception {
        Path tls = dir.resolve("tls");
        assertThat(CliRunner.run("tls", "gen", "--dir", tls.toString(), "--san", nsIp).exit()).isZero();
        Path agentDir = dir.resolve("agent");
        String java = ProcessHandle.current().info().command().orElseThrow();
        agent = new ProcessBuilder("ip", "netns", "exec", ns, java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "serve", "--listen", nsIp + ":7340", "--dir", agentDir.toString(),
                "--tls-cert", tls.resolve("server.crt").toString(), "--tls-key", tls.resolve("server.key").toString(), "--tls-ca", tls.resolve("ca.crt").toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        assertThat(new BufferedReader(new InputStreamReader(agent.getInputStream())).readLine()).startsWith("listening on " + nsIp);

        Path src = dir.resolve("src.img");
        byte[] mib = new byte[1 << 20];
        Random r = new Random(3);
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            for (int i = 0; i < 40; i++) {
                r.nextBytes(mib);
                f.write(mib);
            }
            f.setLength(64 << 20);
        }
        CompletableFuture<CliRunner> run = CompletableFuture.supplyAsync(() -> CliRunner.run("migrate", "--source-image", src.toString(),
                "--to", nsIp + ":7340", "--tls-cert", tls.resolve("client.crt").toString(), "--tls-key", tls.resolve("client.key").toString(),
                "--tls-ca", tls.resolve("ca.crt").toString(), "--max-rate", "16M", "--verify", "full", "-o", "json"));
        // mid-copy: 8 MiB of the 40 MiB of data have left through the link (the kernel's counter of it)
        Path txBytes = Path.of("/sys/class/net", hostIf, "statistics", "tx_bytes");
        Await.until("8 MiB went out through " + hostIf, Duration.ofSeconds(60),
                () -> Long.parseLong(Files.readString(txBytes).trim()) >= (8 << 20));
        assertThat(sh("ip", "link", "set", hostIf, "down")).isZero();
        // a link down for 3 s alone is ridden out by TCP's retransmission, with no reconnect; the far
        // end also loses the connection's state (as a rebooted host or a NAT that forgot it would),
        // so the source's next segment after the outage meets a reset and it must reconnect
        assertThat(sh("ip", "netns", "exec", ns, "ss", "-K", "dst", hostIp)).as("ss -K (sock_destroy) in the namespace").isZero();
        Thread.sleep(3000);   // the outage itself: the link stays down this long
        assertThat(sh("ip", "link", "set", hostIf, "up")).isZero();
        CliRunner res = run.get(120, TimeUnit.SECONDS);
        assertThat(res.exit()).as(res.out() + res.err()).isZero();
        assertThat(res.out()).as("the cut link cost a reconnect").containsPattern("\"reconnects\": [1-9]");
        assertThat(res.out()).contains("\"verified\": true").contains("SHA-256 of the whole namespace matches");
        try (Stream<Path> ids = Files.list(agentDir)) {
            Path img = ids.filter(d -> d.getFileName().toString().length() == 36).findFirst().orElseThrow().resolve("c1n1.img");
            assertThat(Files.mismatch(src, img)).isEqualTo(-1);
        }
    }
}
