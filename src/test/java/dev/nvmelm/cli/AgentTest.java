package dev.nvmelm.cli;

import dev.nvmelm.Await;
import dev.nvmelm.bench.FaultProxy;
import dev.nvmelm.net.agent.DestinationAgent;
import dev.nvmelm.net.agent.Transport;
import dev.nvmelm.net.tls.TlsConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.time.Duration;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Two agents over TLS 1.3 with mutual authentication on loopback: a migration, a cut link, wrong certificates, a full disk. */
class AgentTest {
    @TempDir
    Path dir;
    Path tls, agentDir;
    DestinationAgent agent;
    final List<String> log = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        tls = dir.resolve("tls");
        assertThat(CliRunner.run("tls", "gen", "--dir", tls.toString()).exit()).isZero();
        agentDir = dir.resolve("agent");
        Transport server = new Transport(new TlsConfig(tls.resolve("server.crt"), tls.resolve("server.key"), tls.resolve("ca.crt")), false);
        agent = new DestinationAgent(server, new InetSocketAddress("127.0.0.1", 0), AgentTarget.factory(agentDir), log::add);
    }

    @AfterEach
    void stop() throws Exception {
        agent.close();
    }

    Path source(long sizeBytes, int dataMiB) throws Exception {
        Path src = dir.resolve("src.img");
        byte[] mib = new byte[1 << 20];
        Random r = new Random(9);
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            for (int i = 0; i < dataMiB; i++) {
                r.nextBytes(mib);
                f.seek((long) i * 2 << 20);   // data every other MiB, holes between
                f.write(mib);
            }
            f.setLength(sizeBytes);
        }
        return src;
    }

    String[] client(String to, String... more) {
        // no guest writes in these runs, so the stop's length is not what they test: a generous
        // budget keeps a slow fsync on a loaded machine from aborting them "not converging"
        List<String> a = new ArrayList<>(List.of("--to", to, "--tls-cert", tls.resolve("client.crt").toString(),
                "--tls-key", tls.resolve("client.key").toString(), "--tls-ca", tls.resolve("ca.crt").toString(), "--max-downtime", "5000"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    static String[] concat(String[] a, String[] b) {
        return Stream.concat(Stream.of(a), Stream.of(b)).toArray(String[]::new);
    }

    Path destinationImage() throws Exception {
        try (Stream<Path> ids = Files.list(agentDir)) {
            return ids.filter(d -> Files.isDirectory(d) && d.getFileName().toString().length() == 36).findFirst().orElseThrow().resolve("c1n1.img");
        }
    }

    @Test
    void aMigrationOverTlsCommitsADurableVerifiedCopy() throws Exception {
        Path src = source(64 << 20, 10);
        CliRunner r = CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString(), "--verify", "full", "-o", "json"},
                client("127.0.0.1:" + agent.address().getPort())));
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("\"verified\": true").contains("\"reconnects\": 0").contains("\"commit\"").contains("SHA-256 of the whole namespace matches");
        assertThat(r.out()).contains("\"verify_mode\": \"full\"").contains("\"destination_verified\": true");
        assertThat(CliRunner.run("migrate", "--help").out()).contains("--to");
        assertThat(Files.mismatch(src, destinationImage())).isEqualTo(-1);
        assertThat(log).anyMatch(l -> l.contains("committed"));
    }

    /** Without --verify the report says what ran (the agent's CRC32C read-back), and its booleans are booleans. */
    @Test
    void theDefaultCheckIsReportedAsWhatRan() throws Exception {
        Path src = source(16 << 20, 3);
        CliRunner r = CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString(), "-o", "json"},
                client("127.0.0.1:" + agent.address().getPort())));
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("\"verify_mode\": \"crc32c\"").contains("\"destination_verified\": true")
                .contains("\"destination_check\": \"destination agent: durable, every extent read back");
        assertThat(Files.mismatch(src, destinationImage())).isEqualTo(-1);
        CliRunner sampled = CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString(), "--verify", "sampled"},
                client("127.0.0.1:" + agent.address().getPort())));
        assertThat(sampled.exit()).isEqualTo(1);
        assertThat(sampled.err().strip().lines()).hasSize(1);
        assertThat(CliRunner.run("migrate", "--help").out().replaceAll("\\s+", " ")).contains("so there the default is the CRC32C check alone");
    }

    @Test
    void aCutLinkCostsAReconnectAndAResendNotARestart() throws Exception {
        Path src = source(64 << 20, 24);
        try (FaultProxy proxy = new FaultProxy(agent.address())) {
            proxy.throttle(16 << 20);   // slow enough to cut in the middle
            CompletableFuture<Void> outage = CompletableFuture.runAsync(() -> {
                try {
                    Await.until("8 MiB went through the proxy", Duration.ofSeconds(60), () -> proxy.forwardedBytes() >= (8 << 20));
                    proxy.cut();
                    Thread.sleep(1500);   // the outage itself: the link stays down this long
                    proxy.up();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            CliRunner r = CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString(), "-o", "json"},
                    client("127.0.0.1:" + proxy.port())));
            outage.join();
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).contains("\"verified\": true").doesNotContain("\"reconnects\": 0").contains("read back and checked");
        }
        assertThat(Files.mismatch(src, destinationImage())).isEqualTo(-1);
    }

    /** A stalled path (bytes held, connection open) and added delay slow the migration down; it still ends verified. */
    @Test
    void aStallAndDelayOnThePathStillEndVerified() throws Exception {
        Path src = source(32 << 20, 12);
        try (FaultProxy proxy = new FaultProxy(agent.address())) {
            proxy.delay(2);
            proxy.throttle(32 << 20);
            CompletableFuture<Void> stall = CompletableFuture.runAsync(() -> {
                try {
                    Await.until("6 MiB went through the proxy", Duration.ofSeconds(60), () -> proxy.forwardedBytes() >= (6 << 20));
                    proxy.stall();
                    Thread.sleep(2000);   // the stall itself: bytes are held this long
                    proxy.unstall();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            CliRunner r = CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString(), "--verify", "full", "-o", "json"},
                    client("127.0.0.1:" + proxy.port())));
            stall.join();
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).contains("\"verified\": true");
        }
        assertThat(Files.mismatch(src, destinationImage())).isEqualTo(-1);
    }

    @Test
    void aClientWithACertificateFromAnotherCaIsRefused() throws Exception {
        Path other = dir.resolve("other");
        assertThat(CliRunner.run("tls", "gen", "--dir", other.toString()).exit()).isZero();
        Path src = source(8 << 20, 1);
        CliRunner r = CliRunner.run("migrate", "--source-image", src.toString(), "--to", "127.0.0.1:" + agent.address().getPort(),
                "--tls-cert", other.resolve("client.crt").toString(), "--tls-key", other.resolve("client.key").toString(),
                "--tls-ca", other.resolve("ca.crt").toString(), "--reconnect-window", "2");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).doesNotContain("Exception:").contains("--to");
        assertThat(agentDir).satisfiesAnyOf(d -> assertThat(d).doesNotExist(), d -> assertThat(d).isEmptyDirectory());
    }

    @Test
    void plaintextOnlyOnLoopbackAndAFullDiskIsARefusal() throws Exception {
        Path src = source(8 << 20, 1);
        CliRunner insecure = CliRunner.run("migrate", "--source-image", src.toString(), "--to", "192.0.2.1:9", "--insecure");
        assertThat(insecure.exit()).isEqualTo(1);
        assertThat(insecure.err()).contains("only on loopback");
        assertThat(CliRunner.run("migrate", "--source-image", src.toString(), "--to", "127.0.0.1:9").err()).contains("--tls-cert");
        // a namespace larger than the agent's free space: refused with the reason, nothing left behind
        Path huge = dir.resolve("huge.img");
        try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(Files.getFileStore(dir).getUsableSpace() / 4096 * 4096 + (1L << 40));
        }
        CliRunner full = CliRunner.run(concat(new String[]{"migrate", "--source-image", huge.toString()}, client("127.0.0.1:" + agent.address().getPort())));
        assertThat(full.exit()).isEqualTo(1);
        assertThat(full.err()).contains("not enough space");
    }

    /** No certificate at all (plaintext at a TLS agent), and a hostile peer's oversized frame: refused, and the agent keeps serving. */
    @Test
    void noCertificateAndOversizedFramesAreRefusedAndTheAgentKeepsServing() throws Exception {
        Path src = source(8 << 20, 2);
        CliRunner plain = CliRunner.run("migrate", "--source-image", src.toString(), "--to", "127.0.0.1:" + agent.address().getPort(),
                "--insecure", "--reconnect-window", "2");
        assertThat(plain.exit()).isEqualTo(1);
        assertThat(plain.err().strip().lines()).hasSize(1);
        // a TLS peer with a valid certificate that then sends a 2 GiB frame length
        Transport client = new Transport(new TlsConfig(tls.resolve("client.crt"), tls.resolve("client.key"), tls.resolve("ca.crt")), false);
        try (java.net.Socket s = client.connect(agent.address(), 5000)) {
            s.getOutputStream().write(new byte[]{0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff, 1});
            s.getOutputStream().flush();
            s.setSoTimeout(5000);
            assertThat(s.getInputStream().read()).as("agent closes the connection").isEqualTo(-1);
        } catch (java.net.SocketException closed) {
            // reset: also a refusal
        }
        CliRunner ok = CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString()}, client("127.0.0.1:" + agent.address().getPort())));
        assertThat(ok.exit()).as(ok.err()).isZero();
        assertThat(log).anyMatch(l -> l.contains("protocol error"));
    }

    /** The agent in its own JVM, killed with SIGKILL mid-copy and restarted: the source resumes from its journal. */
    @Test
    void anAgentKilledMidCopyIsRestartedAndTheSourceResumes() throws Exception {
        agent.close();
        Path dir2 = dir.resolve("agent2");
        int port;
        try (var probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        Path src = source(64 << 20, 24);
        Process first = startAgent(port, dir2);
        Process second = null;
        try (FaultProxy slow = new FaultProxy(new InetSocketAddress("127.0.0.1", port))) {
            slow.throttle(16 << 20);
            CompletableFuture<CliRunner> run = CompletableFuture.supplyAsync(() -> CliRunner.run(concat(
                    new String[]{"migrate", "--source-image", src.toString(), "--verify", "full", "-o", "json"}, client("127.0.0.1:" + slow.port()))));
            Await.until("12 MiB went through the proxy", Duration.ofSeconds(30), () -> slow.forwardedBytes() >= (12 << 20));
            first.destroyForcibly().waitFor();   // SIGKILL: no goodbye, no flush
            second = startAgent(port, dir2);
            CliRunner r = run.get(120, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).contains("\"verified\": true").doesNotContain("\"reconnects\": 0");
        } finally {
            dev.nvmelm.Procs.stop(first);
            if (second != null) dev.nvmelm.Procs.stop(second);
        }
        try (Stream<Path> ids = Files.list(dir2)) {
            Path img = ids.filter(d -> d.getFileName().toString().length() == 36).findFirst().orElseThrow().resolve("c1n1.img");
            assertThat(Files.mismatch(src, img)).isEqualTo(-1);
        }
    }

    /**
     * The source in its own JVM, killed with SIGKILL at a random point of the bulk copy; the guest
     * (here: the test) then changes a chunk the agent already holds; {@code migrate --resume ID}
     * gets the agent's digests, resends only the chunks that differ, and ends verified and equal.
     */
    @Test
    void aSourceKilledMidCopyResumesAndResendsOnlyWhatDiffers() throws Exception {
        Path src = source(64 << 20, 24);
        String id = java.util.UUID.randomUUID().toString();
        long seed = System.nanoTime();
        long killAt = (6 << 20) + new Random(seed).nextLong(12 << 20);   // somewhere in the middle of the 24 MiB of data
        Process first;
        try (FaultProxy slow = new FaultProxy(agent.address())) {
            slow.throttle(16 << 20);
            String java = ProcessHandle.current().info().command().orElseThrow();
            // its temporary directory inside ours: SIGKILL leaves no chance to remove it
            List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + dir, "-cp",
                    System.getProperty("java.class.path"), Main.class.getName(), "migrate", "--source-image", src.toString(), "--migration-id", id, "-o", "json"));
            cmd.addAll(List.of(client("127.0.0.1:" + slow.port())));
            first = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            try {
                Process copying = first;
                Await.until(killAt + " bytes went through the proxy", Duration.ofSeconds(60), () -> slow.forwardedBytes() >= killAt || !copying.isAlive());
                assertThat(first.isAlive()).as("source still copying at " + killAt + " bytes (seed " + seed + ")").isTrue();
                first.destroyForcibly().waitFor();   // SIGKILL: its CDQ tracking state and unacknowledged frames are gone
            } finally {
                dev.nvmelm.Procs.stop(first);
            }
        }
        // meanwhile the data changes in a chunk the agent already has (chunk 0 went first)
        byte[] changed = new byte[4096];
        new Random(seed).nextBytes(changed);
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            f.seek(8192);
            f.write(changed);
        }
        CliRunner r = CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString(), "--resume", id, "--verify", "full", "-o", "json"},
                client("127.0.0.1:" + agent.address().getPort())));
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("\"verified\": true").contains("\"resumed\": true").contains("\"migration_id\": \"" + id + "\"");
        long skipped = number(r.out(), "bytes_skipped_by_digest"), sent = number(r.out(), "bytes_data_copied");
        assertThat(skipped).as("killed at %d bytes (seed %d)", killAt, seed).isPositive();
        assertThat(sent).as("data resent, of 24 MiB").isLessThan(24L << 20).isGreaterThanOrEqualTo(1 << 20);   // at least the changed chunk
        assertThat(number(r.out(), "bytes_sent_wire")).isLessThan(24L << 20);
        assertThat(Files.mismatch(src, destinationImage())).isEqualTo(-1);
        assertThat(log).anyMatch(l -> l.contains("chunk digests to a restarted source"));

        // nothing left to resume: committed; and a resume must match the geometry
        CliRunner again = CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString(), "--resume", id},
                client("127.0.0.1:" + agent.address().getPort())));
        assertThat(again.exit()).isEqualTo(1);
        assertThat(again.err().strip().lines()).hasSize(1);
        assertThat(again.err()).contains("already committed").contains("source is untouched").doesNotContain("Exception");
    }

    @Test
    void resumingAnUnknownOrMalformedMigrationIdIsRefusedInOneLine() throws Exception {
        Path src = source(8 << 20, 2);
        byte[] before = Files.readAllBytes(src);
        String id = java.util.UUID.randomUUID().toString();
        CliRunner r = CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString(), "--resume", id, "-o", "json"},
                client("127.0.0.1:" + agent.address().getPort())));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).contains("no migration " + id).contains("nothing to resume").doesNotContain("Exception");
        assertThat(Files.readAllBytes(src)).isEqualTo(before);
        CliRunner bad = CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString(), "--resume", "1-2-3-4-5"},
                client("127.0.0.1:" + agent.address().getPort())));
        assertThat(bad.exit()).isEqualTo(1);
        assertThat(bad.err().strip().lines()).hasSize(1);
        assertThat(bad.err()).contains("--resume '1-2-3-4-5' is not a migration id");
        assertThat(CliRunner.run("migrate", "--source-image", src.toString(), "--dest-image", dir.resolve("d.img").toString(), "--resume", id).err())
                .contains("go with --to");
        // a known migration with another geometry: a 16 MiB source resuming an 8 MiB migration
        String known = java.util.UUID.randomUUID().toString();
        assertThat(CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString(), "--migration-id", known},
                client("127.0.0.1:" + agent.address().getPort()))).exit()).isZero();
        Path bigger = dir.resolve("bigger.img");
        try (RandomAccessFile f = new RandomAccessFile(bigger.toFile(), "rw")) {
            f.setLength(16 << 20);
        }
        CliRunner geometry = CliRunner.run(concat(new String[]{"migrate", "--source-image", bigger.toString(), "--resume", known},
                client("127.0.0.1:" + agent.address().getPort())));
        assertThat(geometry.exit()).isEqualTo(1);
        assertThat(geometry.err()).contains("is 8388608 bytes / 4096-byte LBAs here, not 16777216");
    }

    /** Compressible data (repeated text with a varying counter) travels smaller with either codec and ends equal. */
    @Test
    void compressedMigrationsEndVerifiedAndAnAgentThatDoesNotAcceptTheCodecRefuses() throws Exception {
        Path src = dir.resolve("text.img");
        StringBuilder text = new StringBuilder();
        for (int i = 0; text.length() < (4 << 20); i++) text.append("block ").append(i).append(" of a compressible namespace\n");
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            f.write(text.substring(0, 4 << 20).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            f.setLength(16 << 20);
        }
        for (String codec : List.of("lz4", "zstd")) {
            CliRunner r = CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString(), "--compress", codec, "--verify", "full", "-o", "json"},
                    client("127.0.0.1:" + agent.address().getPort())));
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).contains("\"verified\": true").contains("\"compression\": \"" + codec + "\"");
            assertThat(number(r.out(), "data_bytes_before_compression")).isEqualTo(4 << 20);
            assertThat(number(r.out(), "data_bytes_on_wire")).as(codec).isLessThan(1 << 20);
            assertThat(number(r.out(), "bytes_sent_wire")).isLessThan(1 << 20);
        }
        try (Stream<Path> ids = Files.list(agentDir)) {
            for (Path d : ids.filter(d -> d.getFileName().toString().length() == 36).toList()) {
                assertThat(Files.mismatch(src, d.resolve("c1n1.img"))).isEqualTo(-1);
            }
        }
        Transport server = new Transport(new TlsConfig(tls.resolve("server.crt"), tls.resolve("server.key"), tls.resolve("ca.crt")), false);
        try (DestinationAgent lz4Only = new DestinationAgent(server, new InetSocketAddress("127.0.0.1", 0), AgentTarget.factory(dir.resolve("lz4only")),
                log::add, null, java.util.EnumSet.of(dev.nvmelm.net.proto.Compression.LZ4))) {
            CliRunner r = CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString(), "--compress", "zstd"},
                    client("127.0.0.1:" + lz4Only.address().getPort())));
            assertThat(r.exit()).isEqualTo(1);
            assertThat(r.err().strip().lines()).hasSize(1);
            assertThat(r.err()).contains("does not accept zstd-compressed data (it accepts [none, lz4])");
        }
        CliRunner bad = CliRunner.run(concat(new String[]{"migrate", "--source-image", src.toString(), "--compress", "gzip"},
                client("127.0.0.1:" + agent.address().getPort())));
        assertThat(bad.exit()).isEqualTo(1);
        assertThat(bad.err().strip()).isEqualTo("nvme-lm: --compress 'gzip' is not none, lz4 or zstd");
    }

    static long number(String json, String key) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + key + "\": (\\d+)").matcher(json);
        assertThat(m.find()).as(key + " in " + json).isTrue();
        return Long.parseLong(m.group(1));
    }

    Process startAgent(int port, Path agentDir) throws Exception {
        return startAgent(tls, port, agentDir);
    }

    /** {@code nvme-lm serve} in its own JVM on 127.0.0.1:{@code port}, with the certificates of {@code tls gen --dir tls}. */
    static Process startAgent(Path tls, int port, Path agentDir) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "serve",
                "--listen", "127.0.0.1:" + port, "--dir", agentDir.toString(), "--tls-cert", tls.resolve("server.crt").toString(),
                "--tls-key", tls.resolve("server.key").toString(), "--tls-ca", tls.resolve("ca.crt").toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String line = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream())).readLine();
        assertThat(line).as("agent started").startsWith("listening on 127.0.0.1:" + port);
        return p;
    }
}
