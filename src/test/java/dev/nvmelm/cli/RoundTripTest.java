package dev.nvmelm.cli;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.nbd.NbdClient;
import dev.nvmelm.nbd.NbdLimits;
import dev.nvmelm.nbd.NbdServer;
import dev.nvmelm.nbd.NbdUri;
import dev.nvmelm.net.agent.DestinationAgent;
import dev.nvmelm.net.agent.MigrationStatus;
import dev.nvmelm.net.agent.Transport;
import dev.nvmelm.net.tls.TlsConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A→B→A: a served controller of host A's {@code device serve --nbd} moves to host B's agent
 * while NBD writers write through A's export; the writers move to B's export of that migration;
 * then B's agent-served subsystem is the source of a migration back into A's agent, the writers
 * moving again. Every write any writer saw acknowledged is in A's agent's final namespace, and
 * each old export fails its writers with an error.
 */
class RoundTripTest {
    static final long NS_BYTES = 16 << 20;
    static final int BLOCK = 4096, BLOCKS = (int) (NS_BYTES / BLOCK), WRITERS = 2;
    @TempDir
    Path dir;
    Path tls, serverDir, aDir, bDir;
    String onServer;
    DeviceServer server;
    NbdServer serverNbd, aNbd, bNbd;
    DestinationAgent agentA, agentB;
    final List<String> log = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        tls = dir.resolve("tls");
        assertThat(CliRunner.run("tls", "gen", "--dir", tls.toString()).exit()).isZero();
        serverDir = dir.resolve("a");
        aDir = dir.resolve("aa");
        bDir = dir.resolve("bb");
        Files.createDirectories(serverDir);
        ByteBuffer all = ByteBuffer.allocate((int) NS_BYTES);
        for (int b = 0; b < BLOCKS; b++) all.put(VerifiableWriters.content(b, 0));
        Files.write(serverDir.resolve("c1n1.img"), all.array());
        server = DeviceServer.start(new Subsystem.Config(serverDir, NS_BYTES, 1, 2, BLOCK), 64 << 20, new PrintStream(OutputStream.nullOutputStream()));
        serverNbd = new NbdServer(NamespaceExports.of(server), line -> {});
        onServer = NamespaceExports.listen(serverNbd, "unix:" + serverDir.resolve("nbd.sock")).getFirst();
        agentA = agent(aDir);
        agentB = agent(bDir);
        aNbd = exports(agentA, dir.resolve("aa.sock"));
        bNbd = exports(agentB, dir.resolve("bb.sock"));
    }

    DestinationAgent agent(Path agentDir) throws Exception {
        Transport t = new Transport(new TlsConfig(tls.resolve("server.crt"), tls.resolve("server.key"), tls.resolve("ca.crt")), false);
        return new DestinationAgent(t, new InetSocketAddress("127.0.0.1", 0), AgentTarget.factory(agentDir), log::add);
    }

    NbdServer exports(DestinationAgent agent, Path socket) throws IOException {
        NbdServer s = new NbdServer(new MigrationExports(agent), log::add, NbdLimits.DEFAULT);
        s.listen(UnixDomainSocketAddress.of(socket));
        return s;
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[]{aNbd, bNbd, serverNbd, agentA, agentB, server}) {
            if (c != null) c.close();
        }
    }

    static String export(Path socket, UUID id) {
        return "nbd+unix:///" + id + "?socket=" + socket;
    }

    CliRunner migrate(String source, DestinationAgent to, UUID id) {
        CliRunner r = CliRunner.run("migrate", "--source", source, "--to", "127.0.0.1:" + to.address().getPort(),
                "--migration-id", id.toString(), "--tls-cert", tls.resolve("client.crt").toString(),
                "--tls-key", tls.resolve("client.key").toString(), "--tls-ca", tls.resolve("ca.crt").toString(),
                "--on-stall", "force", "--max-passes", "4", "-o", "json");
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("\"verified\": true").contains("\"quiesce\"").contains("detached");
        var downtime = java.util.regex.Pattern.compile("\"downtime_ms\": ([0-9.]+)").matcher(r.out());
        assertThat(downtime.find()).as(r.out()).isTrue();
        System.out.println("round trip hop " + source + " -> agent " + to.address().getPort() + ": downtime_ms " + downtime.group(1));   // docs/network.md's numbers
        return r;
    }

    /** The writers' first request after the commit failed; their old export refuses a new client's write too. */
    static void oldExportFails(VerifiableWriters w, String uri) throws Exception {
        w.awaitEnd(Duration.ofSeconds(60));
        assertThat(w.errors()).as("each writer's first write after the commit fails").hasSize(WRITERS);
        try (NbdClient late = NbdClient.connect(NbdUri.parse(uri))) {
            assertThatThrownBy(() -> NbdClient.await(late.write(0, new byte[BLOCK], false))).isInstanceOf(IOException.class);
        }
    }

    @Test
    void aNamespaceMovesToBAndBackToAUnderLiveNbdWriters() throws Exception {
        UUID id1 = UUID.randomUUID(), id2 = UUID.randomUUID();
        // A -> B
        VerifiableWriters last;
        try (VerifiableWriters w = VerifiableWriters.start(onServer, BLOCKS, WRITERS)) {
            w.awaitAcks(100);
            long before = w.acks();
            migrate(server.deviceString() + "#1", agentB, id1);
            oldExportFails(w, onServer);
            assertThat(w.acks()).isGreaterThan(before);
            last = w;
        }
        assertThat(agentB.status(id1).orElseThrow().phase()).isEqualTo(MigrationStatus.Phase.SERVED);
        // on B: the writers continue on the export of id1, through B's served MC 1
        String onB = export(dir.resolve("bb.sock"), id1);
        try (VerifiableWriters w = VerifiableWriters.continuing(onB, last, WRITERS)) {
            w.awaitAcks(last.acks() + 100);
            long before = w.acks();
            // B -> A: B's agent-served subsystem is the source
            migrate("sim:" + bDir.resolve(id1.toString()).resolve("ctl.sock") + "#1", agentA, id2);
            oldExportFails(w, onB);
            assertThat(w.acks()).isGreaterThan(before);
            last = w;
        }
        assertThat(agentA.status(id2).orElseThrow().phase()).isEqualTo(MigrationStatus.Phase.SERVED);
        String onA = export(dir.resolve("aa.sock"), id2);
        try (VerifiableWriters w = VerifiableWriters.continuing(onA, last, WRITERS)) {
            w.awaitAcks(last.acks() + 100);
            w.stopAndAwait();
            assertThat(w.errors()).isEmpty();
            try (NbdClient c = NbdClient.connect(NbdUri.parse(onA))) {
                NbdClient.await(c.flush());
            }
            w.checkAgainst(Files.readAllBytes(aDir.resolve(id2.toString()).resolve("c1n1.img")));
        }
    }
}
