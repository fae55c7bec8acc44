package dev.nvmelm.cli;

import dev.nvmelm.bench.FaultProxy;
import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.nbd.NbdClient;
import dev.nvmelm.nbd.NbdServer;
import dev.nvmelm.nbd.NbdUri;
import dev.nvmelm.net.agent.DestinationAgent;
import dev.nvmelm.net.agent.Transport;
import dev.nvmelm.net.tls.TlsConfig;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.StatusCodes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code migrate --source sim:D/ctl.sock#1 --to HOST:PORT}: a served controller moved to an agent
 * while NBD clients of {@code device serve --nbd} keep writing verifiable blocks through it. After
 * the commit every acknowledged write is in the agent's namespace and later writes fail with an
 * error; an agent killed during the stop, and a link cut during the dirty passes, lose nothing.
 */
class CrossHostServedTest {
    static final long NS_BYTES = 16 << 20;
    static final int BLOCK = 4096, BLOCKS = (int) (NS_BYTES / BLOCK);
    @TempDir
    static Path certificates;
    /** One CA and its certificates for every test here: generating keys is the slowest part of a test's set-up. */
    static Path tls;
    @TempDir
    Path dir;
    Path agentDir, serverDir;
    DeviceServer server;
    NbdServer nbd;
    String nbdUri;
    DestinationAgent agent;
    final List<String> agentLog = new ArrayList<>();
    /** Called with every line the device server logs, on the thread that logs it. */
    volatile Consumer<String> onServerLog = line -> {};

    @BeforeAll
    static void certificates() {
        tls = certificates.resolve("tls");
        assertThat(CliRunner.run("tls", "gen", "--dir", tls.toString()).exit()).isZero();
    }

    @BeforeEach
    void start() throws Exception {
        agentDir = dir.resolve("agent");
        serverDir = dir.resolve("server");
        Files.createDirectories(serverDir);
        // the namespace before the migration: every block holds version 0 of its verifiable content
        ByteBuffer all = ByteBuffer.allocate((int) NS_BYTES);
        for (int b = 0; b < BLOCKS; b++) all.put(VerifiableWriters.content(b, 0));
        Files.write(serverDir.resolve("c1n1.img"), all.array());
        PrintStream log = new PrintStream(OutputStream.nullOutputStream()) {
            @Override
            public void println(String line) {
                onServerLog.accept(line);
            }
        };
        server = DeviceServer.start(new Subsystem.Config(serverDir, NS_BYTES, 1, 2, BLOCK), 64 << 20, log);
        nbd = new NbdServer(NamespaceExports.of(server), line -> {});
        nbdUri = NamespaceExports.listen(nbd, "unix:" + serverDir.resolve("nbd.sock")).getFirst();
    }

    @AfterEach
    void stop() throws Exception {
        if (agent != null) agent.close();
        nbd.close();
        server.close();
    }

    void startAgentInProcess() throws Exception {
        Transport t = new Transport(new TlsConfig(tls.resolve("server.crt"), tls.resolve("server.key"), tls.resolve("ca.crt")), false);
        agent = new DestinationAgent(t, new InetSocketAddress("127.0.0.1", 0), AgentTarget.factory(agentDir), agentLog::add);
    }

    String[] migrate(String to, UUID id, String... more) {
        List<String> a = new ArrayList<>(List.of("migrate", "--source", server.deviceString() + "#1", "--to", to,
                "--migration-id", id.toString(), "--tls-cert", tls.resolve("client.crt").toString(),
                "--tls-key", tls.resolve("client.key").toString(), "--tls-ca", tls.resolve("ca.crt").toString(),
                // a loaded machine may copy slower than the writers dirty: force keeps the test about correctness
                "--on-stall", "force", "--max-passes", "4", "-o", "json"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void aServedControllerMovesToAnAgentUnderLiveNbdWritersAndLaterWritesFail() throws Exception {
        startAgentInProcess();
        UUID id = UUID.randomUUID();
        try (VerifiableWriters w = VerifiableWriters.start(nbdUri, BLOCKS, 2)) {
            w.awaitAcks(100);
            long before = w.acks();
            // --verify full: the agent compares its copy with the SHA-256 of the source read through the MMC during the stop
            CliRunner r = CliRunner.run(migrate("127.0.0.1:" + agent.address().getPort(), id, "--verify", "full"));
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).contains("\"verified\": true").contains("\"quiesce\"").contains("detached")
                    .contains("SHA-256 of the whole namespace matches");
            // the writers ran through the copy, then met the detach: an error, never a silent loss
            w.awaitEnd(Duration.ofSeconds(60));
            assertThat(w.acks()).isGreaterThan(before);
            assertThat(w.errors()).as("each writer's first write after the commit fails").hasSize(2);
            w.checkAgainst(Files.readAllBytes(agentDir.resolve(id.toString()).resolve("c1n1.img")));
        }
        // a new NBD client's write fails too, and a new sim: client is told where the controller went
        try (NbdClient late = NbdClient.connect(NbdUri.parse(nbdUri))) {
            assertThatThrownBy(() -> NbdClient.await(late.write(0, new byte[BLOCK], false))).isInstanceOf(IOException.class);
        }
        assertThatThrownBy(() -> SimNvmeDevice.open(server.deviceString() + "#1", Duration.ofSeconds(10)).close())
                .isInstanceOf(NvmeException.class).hasMessageContaining("migrated to agent 127.0.0.1:" + agent.address().getPort())
                .hasMessageContaining(id.toString());
        assertThat(agentLog).anyMatch(l -> l.contains("committed"));
    }

    /** What a served source with --to refuses, in one line, before anything connects. */
    @Test
    void badServedSourcesAreRefusedInOneLine() {
        String to = "127.0.0.1:9";
        for (String[] bad : new String[][]{
                {"--source", server.deviceString(), "--to", to, "--insecure"},
                {"--source", server.deviceString() + "#1", "--dest", server.deviceString() + "#2", "--to", to, "--insecure"},
                {"--source", server.deviceString() + "#1", "--source-image", dir.resolve("x.img").toString(), "--to", to, "--insecure"},
                {"--source", server.deviceString() + "#1", "--to", to, "--insecure", "--workload", "random-write:iops=10"}}) {
            CliRunner r = CliRunner.run(java.util.stream.Stream.concat(java.util.stream.Stream.of("migrate"), java.util.stream.Stream.of(bad)).toArray(String[]::new));
            assertThat(r.exit()).as(String.join(" ", bad)).isEqualTo(1);
            assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
            assertThat(r.err()).doesNotContain("Exception");
        }
        assertThat(CliRunner.run("migrate", "--source", server.deviceString(), "--to", to, "--insecure").err()).contains("CNTLID >= 1");
        assertThat(CliRunner.run("migrate", "--source", server.deviceString() + "#1", "--to", to, "--insecure", "--workload", "random-write:iops=10").err())
                .contains("--workload");
    }

    /** A sim: client already on MC 1 gets an NVMe status for its commands after the commit. */
    @Test
    void aSimClientOnTheMovedControllerGetsAnNvmeStatus() throws Exception {
        startAgentInProcess();
        try (SimNvmeDevice guest = SimNvmeDevice.open(server.deviceString() + "#1", Duration.ofSeconds(30))) {
            var buf = guest.allocateBuffer(BLOCK);
            guest.io(IoCommands.write(1, 3, 1, false).toSqe(), buf).orThrow("write before");
            CliRunner r = CliRunner.run(migrate("127.0.0.1:" + agent.address().getPort(), UUID.randomUUID()));
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            var after = guest.io(IoCommands.write(1, 3, 1, false).toSqe(), buf);
            assertThat(after.ok()).isFalse();
            assertThat(after.status().is(StatusCodes.ABORT_SQ_DELETED)).as(after.status().toString()).isTrue();
        }
    }

    /** The agent SIGKILLed the moment the stop begins (the server's quiesce): the source resumes and the writers go on, nothing lost. */
    @Test
    void anAgentKilledDuringTheStopLeavesTheGuestsRunningOnTheSource() throws Exception {
        int port;
        try (var probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        Process agentProcess = AgentTest.startAgent(tls, port, agentDir);
        CompletableFuture<Void> killed = new CompletableFuture<>();
        onServerLog = line -> {
            // runs before the server answers the quiesce, so before the engine's Suspend
            if (line.contains("quiesced") && !killed.isDone()) {
                try {
                    agentProcess.destroyForcibly().waitFor();   // SIGKILL, by the PID this test started
                    killed.complete(null);
                } catch (InterruptedException e) {
                    killed.completeExceptionally(e);
                }
            }
        };
        try (VerifiableWriters w = VerifiableWriters.start(nbdUri, BLOCKS, 2)) {
            w.awaitAcks(100);
            CliRunner r = CliRunner.run(migrate("127.0.0.1:" + port, UUID.randomUUID(), "--reconnect-window", "2"));
            assertThat(killed).as("the agent was killed at the quiesce").isDone();
            assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
            assertThat(r.err().strip().lines()).hasSize(1);
            assertThat(r.err()).contains("resumed").doesNotContain("Exception");
            long after = w.acks();
            w.awaitAcks(after + 100);   // the writers continue on the source
            w.stopAndAwait();
            assertThat(w.errors()).as("no writer saw an error").isEmpty();
            try (NbdClient c = NbdClient.connect(NbdUri.parse(nbdUri))) {
                NbdClient.await(c.flush());
            }
            w.checkAgainst(Files.readAllBytes(serverDir.resolve("c1n1.img")));
        } finally {
            dev.nvmelm.Procs.stop(agentProcess);
        }
    }

    /**
     * The link lost for good as the suspended source sends its controller state (frame type 8,
     * seen by AgentStopCutTest's relay): the commit cannot complete, so the source resumes MC 1
     * and releases the held requests; the writers go on, nothing lost, and the agent never committed.
     */
    @Test
    void aCommitThatCannotCompleteResumesTheSourceAndReleasesTheHeldRequests() throws Exception {
        agent = new DestinationAgent(new Transport(null, true), new InetSocketAddress("127.0.0.1", 0), AgentTarget.factory(agentDir), agentLog::add);
        try (FaultProxy proxy = new FaultProxy(agent.address());
             AgentStopCutTest.Relay relay = new AgentStopCutTest.Relay(proxy.address());
             VerifiableWriters w = VerifiableWriters.start(nbdUri, BLOCKS, 2)) {
            CompletableFuture<Void> cut = new CompletableFuture<>();
            relay.onFrameUp = type -> {
                if (type == 8 && !cut.isDone()) {
                    proxy.cut();   // and never up again
                    cut.complete(null);
                }
            };
            w.awaitAcks(100);
            CliRunner r = CliRunner.run("migrate", "--source", server.deviceString() + "#1", "--to", "127.0.0.1:" + relay.port(), "--insecure",
                    "--reconnect-window", "2", "--on-stall", "force", "--max-passes", "4", "-o", "json");
            assertThat(cut).as("the controller state was sent").isDone();
            assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
            assertThat(r.err().strip().lines()).hasSize(1);
            assertThat(r.err()).contains("not committed").contains("the source controller is resumed and its guests continue on it, nothing lost");
            w.awaitAcks(w.acks() + 100);   // the writers continue on the source
            w.stopAndAwait();
            assertThat(w.errors()).as("no writer saw an error").isEmpty();
            try (NbdClient c = NbdClient.connect(NbdUri.parse(nbdUri))) {
                NbdClient.await(c.flush());
            }
            w.checkAgainst(Files.readAllBytes(serverDir.resolve("c1n1.img")));
        }
        assertThat(agentLog).noneMatch(l -> l.contains("committed"));
    }

    /** The link cut for a second once the bulk copy is through (the dirty passes): the source reconnects and commits, nothing lost. */
    @Test
    void aLinkCutDuringTheDirtyPassesReconnectsAndLosesNothing() throws Exception {
        startAgentInProcess();
        UUID id = UUID.randomUUID();
        try (FaultProxy proxy = new FaultProxy(agent.address());
             VerifiableWriters w = VerifiableWriters.start(nbdUri, BLOCKS, 2)) {
            proxy.throttle(8 << 20);
            w.awaitAcks(100);
            CompletableFuture<Void> outage = CompletableFuture.runAsync(() -> {
                try {
                    dev.nvmelm.Await.until("the bulk has sent the whole namespace", Duration.ofSeconds(60),
                            () -> proxy.forwardedBytes() >= NS_BYTES + (256 << 10));
                    proxy.cut();
                    Thread.sleep(1000);   // the outage itself
                    proxy.up();
                } catch (Exception e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            CliRunner r = CliRunner.run(migrate("127.0.0.1:" + proxy.port(), id));
            outage.get(60, TimeUnit.SECONDS);
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).contains("\"verified\": true").doesNotContain("\"reconnects\": 0");
            w.awaitEnd(Duration.ofSeconds(60));
            assertThat(w.errors()).hasSize(2);
            w.checkAgainst(Files.readAllBytes(agentDir.resolve(id.toString()).resolve("c1n1.img")));
        }
    }
}
