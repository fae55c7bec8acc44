package dev.nvmelm.cli;

import dev.nvmelm.Await;
import dev.nvmelm.net.agent.DestinationAgent;
import dev.nvmelm.net.agent.Transport;
import dev.nvmelm.net.tls.TlsConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The agent's directory on a small filesystem (a tmpfs the test mounts) that fills up in the
 * middle of the copy: the agent refuses with the reason, the source aborts cleanly and its data is
 * untouched. Skipped where the test cannot mount.
 */
class AgentFullDiskTest {
    @TempDir
    Path dir;
    Path small;
    DestinationAgent agent;

    static int sh(String... cmd) throws Exception {
        return dev.nvmelm.Procs.exitCode(cmd);
    }

    @BeforeEach
    void mount() throws Exception {
        small = Files.createDirectories(dir.resolve("small"));
        Assumptions.assumeTrue(sh("mount", "-t", "tmpfs", "-o", "size=72m", "tmpfs", small.toString()) == 0, "cannot mount a tmpfs here");
    }

    @AfterEach
    void unmount() throws Exception {
        if (agent != null) agent.close();
        sh("umount", "-l", small.toString());
    }

    @Test
    void aDestinationThatFillsUpRefusesAndTheSourceStaysIntact() throws Exception {
        Path tls = dir.resolve("tls");
        assertThat(CliRunner.run("tls", "gen", "--dir", tls.toString()).exit()).isZero();
        List<String> log = new ArrayList<>();
        agent = new DestinationAgent(new Transport(new TlsConfig(tls.resolve("server.crt"), tls.resolve("server.key"), tls.resolve("ca.crt")), false),
                new InetSocketAddress("127.0.0.1", 0), AgentTarget.factory(small.resolve("agent")), log::add);
        Path src = dir.resolve("src.img");
        byte[] mib = new byte[1 << 20];
        Random r = new Random(4);
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            for (int i = 0; i < 48; i++) {
                r.nextBytes(mib);
                f.write(mib);
            }
            f.setLength(64 << 20);
        }
        byte[] before = Files.readAllBytes(src);
        CompletableFuture<CliRunner> run = CompletableFuture.supplyAsync(() -> CliRunner.run("migrate", "--source-image", src.toString(),
                "--to", "127.0.0.1:" + agent.address().getPort(), "--tls-cert", tls.resolve("client.crt").toString(),
                "--tls-key", tls.resolve("client.key").toString(), "--tls-ca", tls.resolve("ca.crt").toString(), "--max-rate", "16M"));
        // once the migration is admitted (the space check passed), something else takes most of the disk
        Await.until("the agent admitted the migration", java.time.Duration.ofSeconds(30), () -> {
            if (!Files.isDirectory(small.resolve("agent"))) return false;
            try (var entries = Files.list(small.resolve("agent"))) {
                return entries.findAny().isPresent();
            }
        });
        try (RandomAccessFile filler = new RandomAccessFile(small.resolve("filler").toFile(), "rw")) {
            byte[] z = new byte[1 << 20];
            for (int i = 0; i < 50; i++) filler.write(z);
        }
        CliRunner res = run.get(120, TimeUnit.SECONDS);
        assertThat(res.exit()).as(res.out() + res.err()).isEqualTo(1);
        assertThat(res.err().strip().lines()).hasSize(1);
        assertThat(res.err()).contains("out of space").contains("source controller is resumed");
        assertThat(Files.readAllBytes(src)).isEqualTo(before);
    }
}
