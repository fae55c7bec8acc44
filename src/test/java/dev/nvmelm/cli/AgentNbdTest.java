package dev.nvmelm.cli;

import dev.nvmelm.nbd.Nbd;
import dev.nvmelm.nbd.NbdClient;
import dev.nvmelm.nbd.NbdError;
import dev.nvmelm.nbd.NbdLimits;
import dev.nvmelm.nbd.NbdServer;
import dev.nvmelm.nbd.NbdUri;
import dev.nvmelm.net.agent.DestinationAgent;
import dev.nvmelm.net.agent.MigrationStatus;
import dev.nvmelm.net.agent.RemoteDestination;
import dev.nvmelm.net.agent.Transport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.UUID;

import static dev.nvmelm.nbd.NbdClient.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code nvme-lm serve --nbd}: each migration exported under its id; before the commit reads
 * answer what was copied so far and writes are refused (EPERM) with no I/O queue created on the
 * destination controller; from the commit on the agent serves the subsystem as device serve
 * does, the export writes through MC 1's adopted queues, a CDQ on the served MMC logs those
 * writes, and the namespace migrates on from {@code sim:DIR/<id>/ctl.sock#1}.
 */
class AgentNbdTest {
    @TempDir
    Path dir;
    Path agentDir, nbdSocket;
    DestinationAgent agent;
    NbdServer nbd;
    final List<String> log = new java.util.concurrent.CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        agentDir = dir.resolve("agent");
        agent = new DestinationAgent(new Transport(null, true), new InetSocketAddress("127.0.0.1", 0), AgentTarget.factory(agentDir), log::add);
        nbd = new NbdServer(new MigrationExports(agent), log::add, NbdLimits.DEFAULT);
        nbdSocket = dir.resolve("nbd.sock");
        nbd.listen(java.net.UnixDomainSocketAddress.of(nbdSocket));
    }

    @AfterEach
    void stop() throws Exception {
        nbd.close();
        agent.close();
    }

    NbdClient export(Object name) throws IOException {
        return NbdClient.connect(NbdUri.parse("nbd+unix:///" + name + "?socket=" + nbdSocket));
    }

    static byte[] block(int seed) {
        byte[] b = new byte[4096];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void beforeTheCommitTheExportReadsWhatArrivedRefusesWritesAndAnAbortedMigrationIsRefusedInTheHandshake() throws Exception {
        UUID id = UUID.randomUUID();
        assertThatThrownBy(() -> export(id)).hasMessageContaining("no migration " + id + " on this agent");
        assertThatThrownBy(() -> export("not-a-uuid")).hasMessageContaining("an export is named by its migration id");
        byte[] first = block(1);
        try (RemoteDestination source = new RemoteDestination(new Transport(null, true), agent.address(), id, 8 << 20, 4096, Duration.ofSeconds(10))) {
            source.write(0, MemorySegment.ofArray(first));
            source.flush();   // acknowledged as durable: applied at the agent
            try (NbdClient c = export(id)) {
                assertThat(c.sizeBytes()).isEqualTo(8 << 20);
                byte[] got = new byte[4096];
                await(c.read(0, got));   // what a destination QEMU does at start (sector 0): answered, no deadlock
                assertThat(got).isEqualTo(first);
                await(c.read(1 << 20, got));
                assertThat(got).isEqualTo(new byte[4096]);   // not copied yet: a hole
                assertThatThrownBy(() -> await(c.write(4096, block(2), false)))
                        .isInstanceOfSatisfying(NbdError.class, e -> assertThat(e.errno()).isEqualTo(Nbd.EPERM));
                assertThatThrownBy(() -> await(c.trim(0, 4096)))
                        .isInstanceOfSatisfying(NbdError.class, e -> assertThat(e.errno()).isEqualTo(Nbd.EPERM));
                await(c.flush());   // nothing was accepted, so nothing to flush: not an error
                await(c.read(0, got));
                assertThat(got).as("the refused requests changed nothing").isEqualTo(first);
                assertThat(agent.status(id).orElseThrow().phase()).isEqualTo(MigrationStatus.Phase.OPEN);

                source.commit(null, new byte[32], Duration.ofSeconds(30));   // no controller state: MC 1 resumes with none to adopt
                assertThat(agent.status(id).orElseThrow().phase()).isEqualTo(MigrationStatus.Phase.SERVED);
                byte[] later = block(5);
                await(c.write(4096, later, true));   // the same connection, now served: through MC 1's I/O queues
                await(c.read(4096, got));
                assertThat(got).isEqualTo(later);
            }
        }
        byte[] c1 = Files.readAllBytes(agentDir.resolve(id.toString()).resolve("c1n1.img"));
        assertThat(Arrays.copyOfRange(c1, 4096, 8192)).isEqualTo(block(5));

        UUID bad = UUID.randomUUID();
        try (RemoteDestination source = new RemoteDestination(new Transport(null, true), agent.address(), bad, 8 << 20, 4096, Duration.ofSeconds(10))) {
            source.write(0, MemorySegment.ofArray(first));
            byte[] wrongSha = new byte[32];
            Arrays.fill(wrongSha, (byte) 7);
            assertThatThrownBy(() -> source.commit(null, wrongSha, Duration.ofSeconds(30))).hasMessageContaining("does not match the source's SHA-256");
        }
        assertThat(agent.status(bad).orElseThrow().phase()).isEqualTo(MigrationStatus.Phase.ABORTED);
        assertThatThrownBy(() -> export(bad)).hasMessageContaining("migration " + bad + " aborted").hasMessageContaining("SHA-256");
    }

    /**
     * A served namespace still counts against the agent's space: its guests may fill its holes
     * and its host memory file may grow (a committed migration counted for nothing before).
     */
    @Test
    void aServedMigrationKeepsItsSpacePromised() throws Exception {
        long usable = 200L << 20;
        try (DestinationAgent small = new DestinationAgent(new Transport(null, true), new InetSocketAddress("127.0.0.1", 0),
                AgentTarget.factory(dir.resolve("small")), log::add, null, java.util.EnumSet.allOf(dev.nvmelm.net.proto.Compression.class),
                dev.nvmelm.net.agent.AgentLimits.DEFAULT, () -> usable)) {
            UUID first = UUID.randomUUID();
            try (RemoteDestination source = new RemoteDestination(new Transport(null, true), small.address(), first, 64 << 20, 4096, Duration.ofSeconds(10))) {
                source.write(0, MemorySegment.ofArray(new byte[1 << 20]));
                source.commit(null, new byte[32], Duration.ofSeconds(30));
            }
            assertThat(small.status(first).orElseThrow().phase()).isEqualTo(MigrationStatus.Phase.SERVED);
            // 63 MiB of holes plus 64 MiB and more of host memory are promised: 80 MiB more do not fit in 200
            assertThatThrownBy(() -> new RemoteDestination(new Transport(null, true), small.address(), UUID.randomUUID(), 80 << 20, 4096, Duration.ofSeconds(10)).close())
                    .hasMessageContaining("not enough space").hasMessageContaining("promised to 1 migration");
            try (RemoteDestination fits = new RemoteDestination(new Transport(null, true), small.address(), UUID.randomUUID(), 32 << 20, 4096, Duration.ofSeconds(10))) {
                fits.flush();
            }
        }
    }

    Path source(long sizeBytes) throws Exception {
        Path src = dir.resolve("src.img");
        byte[] mib = new byte[1 << 20];
        Random r = new Random(5);
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            for (int i = 0; i < 4; i++) {
                r.nextBytes(mib);
                f.seek((long) i * 3 << 20);
                f.write(mib);
            }
            f.setLength(sizeBytes);
        }
        return src;
    }

    static CliRunner ok(String... args) {
        CliRunner r = CliRunner.run(args);
        assertThat(r.exit()).as("%s: %s %s", String.join(" ", args), r.out(), r.err()).isZero();
        return r;
    }

    @Test
    void afterTheCommitTheAgentServesTheControllerItsExportWritesThroughMc1AndTheNamespaceMigratesOn() throws Exception {
        Path src = source(16 << 20);
        UUID id = UUID.randomUUID();
        ok("migrate", "--source-image", src.toString(), "--to", "127.0.0.1:" + agent.address().getPort(), "--insecure",
                "--migration-id", id.toString(), "--verify", "full", "--max-downtime", "5000");
        assertThat(agent.status(id).orElseThrow().phase()).isEqualTo(MigrationStatus.Phase.SERVED);
        String mmc = "sim:" + agentDir.resolve(id.toString()).resolve("ctl.sock");
        assertThat(log).noneMatch(l -> l.contains(id + " released its target"));
        try (NbdClient c = export(id)) {
            byte[] srcBytes = Files.readAllBytes(src);
            byte[] got = new byte[1 << 20];
            for (int mib = 0; mib < 16; mib++) {
                await(c.read((long) mib << 20, got));
                assertThat(got).as("MiB %d", mib).isEqualTo(Arrays.copyOfRange(srcBytes, mib << 20, (mib + 1) << 20));
            }
            // a CDQ on the served MMC tracks MC 1: the export's writes are logged like any guest's
            long cdqid = ok("lm", "create-cdq", mmc, "--size=256", "--cntlid=1", "-o", "json").jsonLong("cdqid");
            ok("lm", "track-send", mmc, "--sel=0", "--cdqid=" + cdqid, "--start");
            byte[] w = block(3);
            await(c.write(100L * 4096, w, false));
            await(c.write(7L * 4096, w, true));
            await(c.flush());
            String read = ok("lm", "cdq-read", mmc, "--cdqid=" + cdqid, "-o", "json").out().replaceAll("\\s", "");
            assertThat(read).contains("{\"nsid\":1,\"slba\":100,\"nlb\":0,").contains("{\"nsid\":1,\"slba\":7,\"nlb\":0,");
            ok("lm", "delete-cdq", mmc, "--cdqid=" + cdqid);   // the MC's one User Data Migration Queue is the next migration's
            // a sim: client of MC 1 uses the same driver and sees the export's write
            assertThat(ok("io", "read", mmc + "#1", "-n", "1", "-s", "100", "-c", "0", "-o", "json").out()).isNotBlank();

            // the namespace migrates on, locally, from the served controller
            ok("migrate", "--source", mmc + "#1", "--dest", mmc + "#2", "--verify", "full", "--max-downtime", "5000");
            byte[] back = new byte[4096];
            await(c.read(100L * 4096, back));   // the export followed the guest to MC 2
            assertThat(back).isEqualTo(w);
            byte[] w2 = block(4);
            await(c.write(200L * 4096, w2, true));
            byte[] c2 = Files.readAllBytes(agentDir.resolve(id.toString()).resolve("c2n1.img"));
            assertThat(Arrays.copyOfRange(c2, 100 * 4096, 101 * 4096)).isEqualTo(w);
            assertThat(Arrays.copyOfRange(c2, 200 * 4096, 201 * 4096)).as("written after the second migration, on MC 2").isEqualTo(w2);
        }
        List<String> names = new ArrayList<>(nbd.exportNames());
        assertThat(names).contains(id.toString());
    }
}
