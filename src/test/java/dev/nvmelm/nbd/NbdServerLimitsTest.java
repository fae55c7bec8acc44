package dev.nvmelm.nbd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Hostile NBD clients as real sockets against the bounds in {@link NbdLimits}: the server's heap
 * stays bounded whatever they announce or leave unread, late handshakes and stalled requests are
 * cut, and a legitimate client is served while the hostile ones hold their connections.
 */
class NbdServerLimitsTest {
    static final int EXPORT_BYTES = 64 << 20;
    static final long MiB = 1 << 20;

    @TempDir
    Path dir;
    NbdServer server;
    FileExport export;
    UnixDomainSocketAddress socket;
    final List<SocketChannel> hostile = new ArrayList<>();
    final List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());

    void start(NbdLimits limits) throws IOException {
        Path image = dir.resolve("disk.img");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(EXPORT_BYTES);   // sparse
        }
        export = new FileExport("c1n1", image, false);
        server = new NbdServer(List.of(export), log::add, limits);
        socket = UnixDomainSocketAddress.of(dir.resolve("nbd.sock"));
        server.listen(socket);
    }

    @AfterEach
    void stop() throws IOException {
        for (SocketChannel c : hostile) c.close();
        if (server != null) server.close();
        if (export != null) export.close();
    }

    static long heapUsedBytes() {
        for (int i = 0; i < 3; i++) System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    static void readFully(SocketChannel c, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) if (c.read(b) < 0) throw new IOException("server closed the connection");
    }

    static ByteBuffer request(int type, long cookie, long offset, int length) {
        return ByteBuffer.allocate(28).putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) type)
                .putLong(cookie).putLong(offset).putInt(length).flip();
    }

    /** Connects and does the whole handshake (EXPORT_NAME, simple replies). */
    SocketChannel handshaken() throws IOException {
        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        hostile.add(c);
        c.connect(socket);
        readFully(c, ByteBuffer.allocate(18));
        byte[] name = "c1n1".getBytes();
        c.write(ByteBuffer.allocate(4 + 16 + name.length).putInt(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)
                .putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_EXPORT_NAME).putInt(name.length).put(name).flip());
        readFully(c, ByteBuffer.allocate(10));
        return c;
    }

    /** A READ answered in full: the server's reader for this connection is waiting for the next request. */
    static void roundTrip(SocketChannel c) throws IOException {
        c.write(request(Nbd.CMD_READ, 7, 0, 4096));
        ByteBuffer reply = ByteBuffer.allocate(16 + 4096);
        readFully(c, reply);
        assertThat(reply.flip().getInt()).isEqualTo(Nbd.SIMPLE_REPLY_MAGIC);
        assertThat(reply.getInt()).isZero();
    }

    /** A legitimate client writes 4 MiB in 1 MiB requests and reads it back in one 4 MiB read. */
    void legitimateClientIsServed() throws IOException {
        try (NbdClient c = NbdClient.connect(NbdUri.parse("nbd+unix:///c1n1?socket=" + socket.getPath()))) {
            byte[] data = new byte[4 << 20];
            new Random(5).nextBytes(data);
            List<java.util.concurrent.CompletableFuture<Void>> writes = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                writes.add(c.write(40 * MiB + i * MiB, java.util.Arrays.copyOfRange(data, (int) (i * MiB), (int) ((i + 1) * MiB)), false));
            }
            for (var w : writes) NbdClient.await(w);
            byte[] back = new byte[data.length];
            NbdClient.await(c.read(40 * MiB, back));
            assertThat(back).isEqualTo(data);
        }
    }

    @Test
    void announcedWritesThatNeverArriveHoldOneChunkEach() throws Exception {
        start(new NbdLimits(128 << 20, 16 << 20, 1 << 20, 60_000, 120_000, 256));
        legitimateClientIsServed();   // warm: classes loaded, buffers of a normal client counted in the baseline
        long before = heapUsedBytes();
        for (int i = 0; i < 40; i++) {
            SocketChannel c = handshaken();
            roundTrip(c);
            // a 32 MiB WRITE whose payload stops after one byte
            c.write(request(Nbd.CMD_WRITE, 1000 + i, 0, 32 << 20));
            c.write(ByteBuffer.wrap(new byte[]{1}));
        }
        assertTimeoutPreemptively(Duration.ofSeconds(60), this::legitimateClientIsServed);
        long grownBytes = heapUsedBytes() - before;
        // the old server pinned 40 x 32 MiB = 1.25 GiB here; now one 1 MiB chunk per connection
        assertThat(grownBytes).isLessThan(128 * MiB);
        assertThat(server.heldBytes()).isLessThanOrEqualTo(128 * MiB);
        assertThat(log).noneMatch(l -> l.contains("Error"));
    }

    @Test
    void readsWhoseRepliesAreNeverTakenHoldTheConnectionsShareOnly() throws Exception {
        start(new NbdLimits(128 << 20, 16 << 20, 1 << 20, 60_000, 120_000, 256));
        legitimateClientIsServed();
        long before = heapUsedBytes();
        for (int k = 0; k < 3; k++) {
            SocketChannel c = handshaken();
            ByteBuffer reads = ByteBuffer.allocate(28 * NbdServer.MAX_IN_FLIGHT);
            for (int i = 0; i < NbdServer.MAX_IN_FLIGHT; i++) reads.put(request(Nbd.CMD_READ, i, 0, 32 << 20));
            c.write(reads.flip());   // 64 x 32 MiB asked for, nothing ever read
        }
        assertTimeoutPreemptively(Duration.ofSeconds(60), this::legitimateClientIsServed);
        long grownBytes = heapUsedBytes() - before;
        // the old server built every reply whole: 3 x 64 x 32 MiB (an OutOfMemoryError in a 2 GiB heap)
        assertThat(grownBytes).isLessThan(128 * MiB);
        assertThat(server.heldBytes()).isLessThanOrEqualTo(3 * 16 * MiB);
    }

    @Test
    void aHandshakeThatIsNotOverInTimeIsCut() throws Exception {
        start(new NbdLimits(128 << 20, 16 << 20, 1 << 20, 300, 120_000, 256));
        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        hostile.add(c);
        c.connect(socket);
        readFully(c, ByteBuffer.allocate(18));
        c.write(ByteBuffer.allocate(4).putInt(Nbd.FLAG_C_FIXED_NEWSTYLE).flip());   // then silence, mid-haggling
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThat(c.read(ByteBuffer.allocate(64))).isEqualTo(-1));
        assertThat(log).anyMatch(l -> l.contains("handshake was not over"));
        legitimateClientIsServed();
    }

    @Test
    void aWritePayloadThatStallsIsCutButAnIdleConnectionIsNot() throws Exception {
        start(new NbdLimits(128 << 20, 16 << 20, 1 << 20, 60_000, 300, 256));
        SocketChannel idle = handshaken();
        SocketChannel stalled = handshaken();
        stalled.write(request(Nbd.CMD_WRITE, 1, 0, 1 << 20));
        stalled.write(ByteBuffer.wrap(new byte[100]));
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThat(stalled.read(ByteBuffer.allocate(64))).isEqualTo(-1));
        assertThat(log).anyMatch(l -> l.contains("WRITE payload stalled"));
        roundTrip(idle);   // idle all along, longer than the progress deadline: still served
        assertThat(server.heldBytes()).isZero();
    }

    @Test
    void connectionsBeyondTheBoundAreClosedAtOnce() throws Exception {
        start(new NbdLimits(128 << 20, 16 << 20, 1 << 20, 60_000, 120_000, 4));
        for (int i = 0; i < 4; i++) handshaken();
        SocketChannel extra = SocketChannel.open(StandardProtocolFamily.UNIX);
        hostile.add(extra);
        extra.connect(socket);
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThat(extra.read(ByteBuffer.allocate(18))).isEqualTo(-1));
        hostile.getFirst().close();
        // a freed slot takes a new client (the server notices the close asynchronously: retry until it has)
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            while (true) {
                try {
                    legitimateClientIsServed();
                    return;
                } catch (IOException refusedWhileTheSlotIsStillCounted) {
                    Thread.onSpinWait();
                }
            }
        });
    }
}
