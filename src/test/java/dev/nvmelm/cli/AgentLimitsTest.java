package dev.nvmelm.cli;

import dev.nvmelm.Await;
import dev.nvmelm.net.agent.AgentLimits;
import dev.nvmelm.net.agent.DestinationAgent;
import dev.nvmelm.net.agent.Transport;
import dev.nvmelm.net.proto.Compression;
import dev.nvmelm.net.proto.Frame;
import dev.nvmelm.net.proto.FrameCodec;
import dev.nvmelm.net.tls.TlsConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Hostile peers of the destination agent as real sockets over loopback: handshake deadlines,
 * no buffers before authentication, connection bounds per peer and for unauthenticated ones,
 * idle authenticated connections closed; migrations release their threads when finished or
 * abandoned, and space admission counts the migrations already admitted.
 */
class AgentLimitsTest {
    @TempDir
    Path dir;
    DestinationAgent agent;
    final List<Socket> sockets = new ArrayList<>();
    final List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());

    DestinationAgent agent(boolean tls, AgentLimits limits, java.util.function.LongSupplier usable) throws Exception {
        Transport t = new Transport(null, true);
        if (tls) {
            Path d = dir.resolve("tls");
            assertThat(CliRunner.run("tls", "gen", "--dir", d.toString()).exit()).isZero();
            t = new Transport(new TlsConfig(d.resolve("server.crt"), d.resolve("server.key"), d.resolve("ca.crt")), false);
        }
        agent = new DestinationAgent(t, new InetSocketAddress("127.0.0.1", 0), AgentTarget.factory(dir.resolve("agent")), log::add,
                null, java.util.EnumSet.allOf(Compression.class), limits, usable);
        return agent;
    }

    @AfterEach
    void stop() throws Exception {
        for (Socket s : sockets) s.close();
        if (agent != null) agent.close();
    }

    Socket connect(String from) throws IOException {
        Socket s = new Socket();
        sockets.add(s);
        s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
        s.connect(agent.address());
        return s;
    }

    /** True once the agent has closed the connection (end of stream or a reset). */
    static boolean closedByPeer(Socket s) {
        try {
            InputStream in = s.getInputStream();
            while (true) if (in.read() < 0) return true;
        } catch (IOException reset) {
            return true;
        }
    }

    /** Waits for a condition the agent reaches on its own (a thread ending). */
    static void await(BooleanSupplier condition) throws Exception {
        Await.until("the agent reached the condition", Duration.ofSeconds(30), condition::getAsBoolean);
    }

    static long heapUsedBytes() {
        for (int i = 0; i < 3; i++) System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    static long controllerThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("nvme-ctrl-") && t.isAlive()).count();
    }

    /** A HELLO answered: WELCOME, or a REFUSE for a bad one. */
    static Frame hello(Socket s, Frame.Hello h) throws IOException {
        FrameCodec.write(new DataOutputStream(s.getOutputStream()), h);
        return FrameCodec.read(new DataInputStream(s.getInputStream()));
    }

    static Frame.Hello hello(UUID id, long sizeBytes, boolean resume) {
        return new Frame.Hello(Frame.VERSION, id, sizeBytes, 4096, resume, false, Compression.NONE);
    }

    @Test
    void aClientHelloSentByteByByteIsCutAtTheDeadline() throws Exception {
        agent(true, new AgentLimits(500, 600_000, 16, 64, 300_000), null);
        Socket s = connect("127.0.0.1");
        // the start of a TLS ClientHello, one byte every 50 ms: each read gets something, so only a whole-handshake deadline ends it
        Thread dribbler = Thread.ofVirtual().start(() -> {
            // a 16 KiB record: at 20 bytes a second it would be complete after 13 minutes
            byte[] hello = {0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, (byte) 0xfc, 0x03, 0x03};
            try {
                for (int i = 0; ; i++) {
                    s.getOutputStream().write(hello[Math.min(i, hello.length - 1)]);
                    Thread.sleep(50);   // pacing a hostile peer, not synchronisation
                }
            } catch (IOException | InterruptedException closed) {
                // the agent cut it
            }
        });
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> assertThat(closedByPeer(s)).isTrue());
        dribbler.interrupt();
        await(() -> log.stream().anyMatch(l -> l.contains("did not finish its handshake")));
    }

    @Test
    void idlePlaintextConnectionsHoldNoFrameBuffers() throws Exception {
        agent(false, new AgentLimits(60_000, 600_000, 1000, 1000, 300_000), null);
        long before = heapUsedBytes();
        for (int i = 0; i < 200; i++) connect("127.0.0.1");
        // a refused HELLO on one more: the agent has been serving every connection accepted before it
        assertThat(hello(connect("127.0.0.1"), new Frame.Hello(99, UUID.randomUUID(), 1 << 20, 4096, false))).isInstanceOf(Frame.Refuse.class);
        long grownBytes = heapUsedBytes() - before;
        // the old agent allocated a 1 MiB read buffer per accepted socket: 200 MiB here
        assertThat(grownBytes).isLessThan(40L << 20);
    }

    @Test
    void connectionsAreBoundedPerPeerAndWhileUnauthenticated() throws Exception {
        agent(false, new AgentLimits(60_000, 600_000, 4, 6, 300_000), null);
        for (int i = 0; i < 4; i++) connect("127.0.0.1");
        Socket fifth = connect("127.0.0.1");
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThat(closedByPeer(fifth)).isTrue());
        // another peer address is still served
        assertThat(hello(connect("127.0.0.2"), new Frame.Hello(99, UUID.randomUUID(), 1 << 20, 4096, false))).isInstanceOf(Frame.Refuse.class);
        // 4 + 2 unauthenticated in all: the seventh is closed whoever sends it
        connect("127.0.0.3");
        connect("127.0.0.3");
        Socket seventh = connect("127.0.0.4");
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThat(closedByPeer(seventh)).isTrue());
        assertThat(log).anyMatch(l -> l.contains("127.0.0.1 has 4 connections open"));
    }

    @Test
    void anAuthenticatedConnectionThatGoesSilentIsClosed() throws Exception {
        agent(false, new AgentLimits(60_000, 300, 16, 64, 300_000), null);
        Socket s = connect("127.0.0.1");
        assertThat(hello(s, hello(UUID.randomUUID(), 1 << 20, false))).isInstanceOf(Frame.Welcome.class);
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThat(closedByPeer(s)).isTrue());
    }

    @Test
    void abandonedAndCommittedMigrationsReleaseTheirThreads() throws Exception {
        long baseline = controllerThreads();
        agent(false, new AgentLimits(60_000, 600_000, 16, 64, 200), null);
        UUID id = UUID.randomUUID();
        try (Socket s = connect("127.0.0.1")) {
            assertThat(hello(s, hello(id, 1 << 20, false))).isInstanceOf(Frame.Welcome.class);
            assertThat(controllerThreads()).isGreaterThan(baseline);
        }
        await(() -> controllerThreads() == baseline);   // abandoned: released
        // the source comes back: the migration is reopened from its files and committed
        try (Socket s = connect("127.0.0.1")) {
            var out = new DataOutputStream(s.getOutputStream());
            var in = new DataInputStream(s.getInputStream());
            FrameCodec.write(out, hello(id, 1 << 20, true));
            assertThat(FrameCodec.read(in)).isEqualTo(new Frame.Welcome(Frame.VERSION, 0));
            byte[] data = new byte[4096];
            data[1] = 1;
            FrameCodec.write(out, new Frame.Data(1, 0, FrameCodec.crc32c(data), data));
            FrameCodec.write(out, new Frame.Flush(2));
            FrameCodec.write(out, new Frame.Commit(3, new byte[32]));
            Frame f = FrameCodec.read(in);
            while (f instanceof Frame.Ack) f = FrameCodec.read(in);
            assertThat(f).isEqualTo(new Frame.Committed(3));
        }
        await(() -> controllerThreads() == baseline);   // committed: released
        assertThat(Files.exists(dir.resolve("agent").resolve(id.toString()))).isTrue();   // the files stay
    }

    @Test
    void spaceAdmissionCountsMigrationsAlreadyAdmitted() throws Exception {
        Files.createDirectories(dir.resolve("agent"));
        java.nio.file.FileStore store = Files.getFileStore(dir.resolve("agent"));
        long usable = store.getUsableSpace();
        agent(false, AgentLimits.DEFAULT, () -> {
            try {
                return store.getUsableSpace();
            } catch (IOException e) {
                return 0;
            }
        });
        long size = usable * 6 / 10 / (1 << 20) * (1 << 20);   // each fits alone, two do not
        Socket first = connect("127.0.0.1");
        assertThat(hello(first, hello(UUID.randomUUID(), size, false))).isInstanceOf(Frame.Welcome.class);
        Frame second = hello(connect("127.0.0.1"), hello(UUID.randomUUID(), size, false));
        assertThat(second).isInstanceOfSatisfying(Frame.Refuse.class, r -> {
            assertThat(r.code()).isEqualTo(Frame.REFUSE_NO_SPACE);
            assertThat(r.reason()).contains("promised to 1 migration");
        });
    }
}
