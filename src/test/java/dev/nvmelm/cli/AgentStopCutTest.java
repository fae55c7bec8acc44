package dev.nvmelm.cli;

import dev.nvmelm.Await;
import dev.nvmelm.bench.FaultProxy;
import dev.nvmelm.net.agent.DestinationAgent;
import dev.nvmelm.net.agent.Transport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.time.Duration;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntConsumer;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The link cut during the stop-and-copy: the fault proxy resets every connection at the moment
 * the source, already suspended, sends its controller state (the stop has begun), or after the
 * agent applied the COMMIT but before its COMMITTED reached the source. Plaintext on loopback, so
 * a small relay in front of the proxy can see frame types and pull the trigger at the right frame.
 */
class AgentStopCutTest {
    @TempDir
    Path dir;
    Path agentDir;
    DestinationAgent agent;
    final List<String> log = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        agentDir = dir.resolve("agent");
        agent = new DestinationAgent(new Transport(null, true), new InetSocketAddress("127.0.0.1", 0), AgentTarget.factory(agentDir), log::add,
                dir.resolve("journal"));
    }

    @AfterEach
    void stop() throws Exception {
        agent.close();
    }

    /**
     * 7 = the first FLUSH, which the engine times just before deciding to stop (cut after the agent
     * made it durable, before its durable ACK returns: the agent does not ack a resent FLUSH again),
     * 8 = CONTROLLER_STATE (cut before it reaches the agent), 9 = COMMIT (cut after the agent
     * committed, before COMMITTED returns).
     */
    @ParameterizedTest
    @ValueSource(ints = {7, 8, 9})
    @org.junit.jupiter.api.Timeout(180)
    void aLinkCutDuringTheStopEndsVerified(int frameType) throws Exception {
        Path src = dir.resolve("src.img");
        byte[] mib = new byte[1 << 20];
        Random r = new Random(5);
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            for (int i = 0; i < 8; i++) {
                r.nextBytes(mib);
                f.seek((long) i * 2 << 20);
                f.write(mib);
            }
            f.setLength(32 << 20);
        }
        boolean[] cut = new boolean[1];
        try (FaultProxy proxy = new FaultProxy(agent.address());
             Relay relay = new Relay(proxy.address())) {
            relay.onFrameUp = type -> {
                if (type != frameType || cut[0]) return;
                cut[0] = true;
                if (type == 8) {
                    proxy.cut();   // the state never arrives; the source must resend it
                    Thread.ofVirtual().start(() -> outage(proxy, relay, null));
                } else if (type == 7) {
                    relay.holdDown = true;   // the durable ACK is lost; the agent will not ack the resent FLUSH again
                    Thread.ofVirtual().start(() -> outage(proxy, relay, this::journalShowsAFlush));
                } else {
                    relay.holdDown = true;   // the agent's COMMITTED is lost with the link
                    Thread.ofVirtual().start(() -> outage(proxy, relay, () -> log.stream().anyMatch(l -> l.contains("committed"))));
                }
            };
            CliRunner run = CliRunner.run("migrate", "--source-image", src.toString(), "--to", "127.0.0.1:" + relay.port(), "--insecure",
                    "--verify", "full", "-o", "json", "--max-downtime", "5000");   // the journal's fsyncs are slow on a busy machine
            assertThat(cut[0]).as("frame type " + frameType + " seen").isTrue();
            assertThat(run.exit()).as(run.out() + run.err()).isZero();
            assertThat(run.out()).contains("\"verified\": true").doesNotContain("\"reconnects\": 0").contains("SHA-256 of the whole namespace matches");
        }
        assertThat(log.stream().filter(l -> l.contains("committed"))).hasSize(1);   // applied once, not twice
        try (Stream<Path> ids = Files.list(agentDir)) {
            Path img = ids.filter(d -> d.getFileName().toString().length() == 36).findFirst().orElseThrow().resolve("c1n1.img");
            assertThat(Files.mismatch(src, img)).isEqualTo(-1);
        }
    }

    /** The agent journals a FLUSH (its durable frame, the fourth field) before it acknowledges it. */
    boolean journalShowsAFlush() {
        try (Stream<Path> js = Files.list(dir.resolve("journal"))) {
            for (Path j : js.filter(p -> p.toString().endsWith(".journal")).toList()) {
                if (Long.parseLong(Files.readString(j).trim().split(" ")[3]) > 0) return true;
            }
            return false;
        } catch (IOException | RuntimeException e) {
            return false;   // not written yet, or being renamed into place
        }
    }

    /** Waits for {@code when} (if any), cuts, keeps the link down for 1.5 s, brings it back. */
    static void outage(FaultProxy proxy, Relay relay, java.util.function.BooleanSupplier when) {
        try {
            try {
                if (when != null) Await.until("the moment to cut came", Duration.ofSeconds(30), when::getAsBoolean);
            } catch (AssertionError late) {
                // cut anyway: a migration left waiting would hang the test instead of failing its assertions
            }
            proxy.cut();
            Thread.sleep(1500);   // the outage itself: the link stays down this long
            relay.holdDown = false;
            proxy.up();
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    /** Forwards to the proxy, reading the source's frames (length, type, payload) to call {@link #onFrameUp} before each. */
    static final class Relay implements AutoCloseable {
        final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        final InetSocketAddress target;
        volatile IntConsumer onFrameUp = t -> {};
        volatile boolean holdDown;

        Relay(InetSocketAddress target) throws IOException {
            this.target = target;
            Thread.ofVirtual().start(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket c = server.accept();
                        Thread.ofVirtual().start(() -> relay(c));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        int port() {
            return server.getLocalPort();
        }

        void relay(Socket client) {
            try (client; Socket up = new Socket(target.getAddress(), target.getPort())) {
                Thread down = Thread.ofVirtual().start(() -> {
                    try (InputStream in = up.getInputStream(); OutputStream out = client.getOutputStream()) {
                        byte[] b = new byte[1 << 16];
                        for (int n; (n = in.read(b)) > 0; ) {
                            if (!holdDown) out.write(b, 0, n);
                        }
                    } catch (IOException ignored) {
                        // either side closed
                    } finally {
                        closeQuietly(client);
                        closeQuietly(up);
                    }
                });
                DataInputStream in = new DataInputStream(client.getInputStream());
                OutputStream out = up.getOutputStream();
                while (true) {
                    int len = in.readInt();
                    byte[] frame = new byte[len];
                    in.readFully(frame);
                    onFrameUp.accept(frame[0] & 0xff);
                    out.write(new byte[]{(byte) (len >>> 24), (byte) (len >>> 16), (byte) (len >>> 8), (byte) len});
                    out.write(frame);
                }
            } catch (IOException ignored) {
                // the source or the proxy closed: the source reconnects through a new relay connection
            }
        }

        static void closeQuietly(Socket s) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
