package dev.nvmelm.net.agent;

import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.net.proto.Compression;
import dev.nvmelm.net.proto.Frame;
import dev.nvmelm.net.proto.FrameCodec;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The destination agent as the engine's block device: writes become numbered frames (data with
 * its CRC32C, zero ranges as ranges), kept until the agent says they are durable, so a cut link
 * or even a restarted agent costs only a reconnect and a resend, never a restart. What is kept is
 * bounded ({@link #WINDOW_BYTES}): past half of it, a FLUSH asks the agent to make it durable. Reads are not offered: the destination verifies itself at
 * {@link #commit} against the source's SHA-256.
 */
public final class RemoteDestination implements BlockDevice {
    static final long WINDOW_BYTES = 64L << 20;
    private static final int CONNECT_TIMEOUT_MS = 5_000;

    private final Transport transport;
    private final InetSocketAddress address;
    private final UUID migrationId;
    private final long sizeBytes;
    private final int lbaSizeBytes;
    private final Duration reconnectWindow;
    private final Compression compression;
    private final int digestChunkBytes;
    /** SHA-256 per chunk of what the agent holds durably, when this source restarted; else null. */
    private byte[] agentDigests;
    private boolean restartPending;
    private final ReentrantLock sendLock = new ReentrantLock();
    private final ConcurrentSkipListMap<Long, Frame> retained = new ConcurrentSkipListMap<>();
    private final Object acks = new Object();
    private final AtomicLong retainedBytes = new AtomicLong();
    private volatile long acked, durable, committed = -1;
    private volatile String refused;
    /** Set when a reconnect gave up after the whole window: every later send fails at once with it. */
    private volatile IOException lost;
    private volatile int generation;
    private volatile boolean connected;
    private long seq;
    private Socket socket;
    private DataOutputStream out;
    /** Counters for the report. */
    public final AtomicLong bytesSentWire = new AtomicLong(), bytesResent = new AtomicLong(), reconnects = new AtomicLong();
    /** DATA bytes before compression, and what they took on the wire (compressed or not). */
    public final AtomicLong dataBytesRaw = new AtomicLong(), dataBytesWire = new AtomicLong();

    public RemoteDestination(Transport transport, InetSocketAddress address, UUID migrationId, long sizeBytes, int lbaSizeBytes, Duration reconnectWindow)
            throws IOException {
        this(transport, address, migrationId, sizeBytes, lbaSizeBytes, reconnectWindow, Compression.NONE, 0);
    }

    /**
     * @param compression      how DATA payloads travel (the agent refuses a codec it does not accept)
     * @param digestChunkBytes 0 for a new migration; otherwise this source restarted and resumes
     *                         migration {@code migrationId}: the agent must know it, and sends the
     *                         SHA-256 of every chunk of this size it holds ({@link #agentDigest})
     */
    public RemoteDestination(Transport transport, InetSocketAddress address, UUID migrationId, long sizeBytes, int lbaSizeBytes, Duration reconnectWindow,
                             Compression compression, int digestChunkBytes) throws IOException {
        this.compression = compression;
        this.digestChunkBytes = digestChunkBytes;
        this.restartPending = digestChunkBytes > 0;
        this.transport = transport;
        this.address = address;
        this.migrationId = migrationId;
        this.sizeBytes = sizeBytes;
        this.lbaSizeBytes = lbaSizeBytes;
        this.reconnectWindow = reconnectWindow;
        sendLock.lock();
        try {
            connect(false);
        } finally {
            sendLock.unlock();
        }
    }

    /** Opens a connection, says HELLO, and on a resume resends every frame the agent has not applied. Holds sendLock. */
    private void connect(boolean resume) throws IOException {
        Socket s = transport.connect(address, CONNECT_TIMEOUT_MS);
        DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream(), 1 << 16));
        DataOutputStream o = new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), 1 << 20));
        FrameCodec.write(o, new Frame.Hello(Frame.VERSION, migrationId, sizeBytes, lbaSizeBytes, resume || restartPending, restartPending, compression));
        o.flush();
        Frame reply = FrameCodec.read(in);
        if (reply instanceof Frame.Refuse r) {
            s.close();
            refused = "destination refused: " + r.reason();
            throw new IOException(refused);
        }
        if (!(reply instanceof Frame.Welcome w)) {
            s.close();
            throw new IOException("destination answered HELLO with " + reply.getClass().getSimpleName());
        }
        if (restartPending) {
            // a restarted source numbers on from what the agent applied, and learns what it holds
            seq = Math.max(seq, w.durableSeq());
            agentDigests = readDigests(s, in, o);
            restartPending = false;
        }
        socket = s;
        out = o;
        int gen = ++generation;
        connected = true;
        ackApplied(w.durableSeq(), false);
        // The agent counts a FLUSH as applied only once it is durable, and does not acknowledge a
        // resent frame it already applied: a durable ack lost with the old link is implied here.
        for (var e : retained.headMap(w.durableSeq(), true).descendingMap().entrySet()) {
            if (e.getValue() instanceof Frame.Flush) {
                ackApplied(e.getKey(), true);
                break;
            }
        }
        // what the agent has applied (after a restart: what its journal says is durable) need not come again
        for (Map.Entry<Long, Frame> e : retained.tailMap(w.durableSeq(), false).entrySet()) {
            long n = write(e.getValue());
            if (resume) bytesResent.addAndGet(n);
        }
        out.flush();
        Thread.ofVirtual().name("remote-acks").start(() -> readAcks(in, gen));
    }

    private byte[] readDigests(Socket s, DataInputStream in, DataOutputStream o) throws IOException {
        long chunks = (sizeBytes + digestChunkBytes - 1) / digestChunkBytes;
        if (chunks > Integer.MAX_VALUE / 32) throw new IOException("a namespace of " + chunks + " digest chunks is too large to resume");
        byte[] all = new byte[(int) chunks * 32];
        try {
            FrameCodec.write(o, new Frame.DigestRequest(digestChunkBytes));
            o.flush();
            for (long have = 0; have < chunks; ) {
                Frame f = FrameCodec.read(in);
                if (f instanceof Frame.Refuse r) {
                    refused = "destination refused: " + r.reason();
                    throw new IOException(refused);
                }
                if (!(f instanceof Frame.Digests d) || d.firstChunk() != have || have + d.count() > chunks || d.count() == 0) {
                    throw new IOException("destination answered DIGEST_REQUEST with " + f.getClass().getSimpleName() + " out of order");
                }
                System.arraycopy(d.sha256s(), 0, all, (int) have * 32, d.sha256s().length);
                have += d.count();
            }
        } catch (IOException e) {
            s.close();
            throw e;
        }
        return all;
    }

    /** Chunk size of {@link #agentDigest}; 0 when this source did not restart. */
    public int digestChunkBytes() {
        return digestChunkBytes;
    }

    /** The SHA-256 of chunk {@code chunk} as the agent held it durably when this restarted source connected. */
    public boolean agentChunkMatches(long chunk, byte[] sha256) {
        return agentDigests != null && java.util.Arrays.equals(agentDigests, (int) chunk * 32, (int) chunk * 32 + 32, sha256, 0, 32);
    }

    private void readAcks(DataInputStream in, int gen) {
        try {
            while (true) {
                Frame f = FrameCodec.read(in);
                switch (f) {
                    case Frame.Ack a -> ackApplied(a.seq(), a.durable());
                    case Frame.Committed c -> {
                        ackApplied(c.seq(), true);
                        committed = c.seq();
                    }
                    case Frame.Refuse r -> refused = "destination refused: " + r.reason();
                    default -> refused = "destination sent " + f.getClass().getSimpleName();
                }
                if (refused != null) break;
            }
        } catch (IOException e) {
            // the link dropped: whoever waits next reconnects
        } finally {
            if (generation == gen) connected = false;
            synchronized (acks) {
                acks.notifyAll();
            }
        }
    }

    private void ackApplied(long upTo, boolean isDurable) {
        if (isDurable) {   // only durable frames are safe to forget: an agent may restart from its journal
            var head = retained.headMap(upTo, true);
            for (Frame f : head.values()) retainedBytes.addAndGet(-sizeOf(f));
            head.clear();
        }
        synchronized (acks) {
            if (upTo > acked) acked = upTo;
            if (isDurable && upTo > durable) durable = upTo;
            acks.notifyAll();
        }
    }

    private static long sizeOf(Frame f) {
        return FrameCodec.wireBytes(f);
    }

    /** Writes one frame to the current connection; returns its size. Holds sendLock. */
    private long write(Frame f) throws IOException {
        long n = FrameCodec.write(out, f);
        bytesSentWire.addAndGet(n);
        return n;
    }

    /** Numbers and sends a frame, retaining it until acknowledged; reconnects through a cut link. */
    private long send(java.util.function.LongFunction<Frame.Numbered> make) throws IOException {
        sendLock.lock();
        try {
            awaitWindow();
            long n = transmit(make.apply(++seq));
            if (retainedBytes.get() > WINDOW_BYTES / 2 && lastFlush <= durable) lastFlush = transmit(new Frame.Flush(++seq));
            return n;
        } finally {
            sendLock.unlock();
        }
    }

    private long lastFlush;

    /** Retains and writes one numbered frame. Holds sendLock. */
    private long transmit(Frame.Numbered f) throws IOException {
        long n = f.seq();
        retained.put(n, f);
        retainedBytes.addAndGet(sizeOf(f));
        try {
            ensureConnected();
            write(f);
            out.flush();
        } catch (IOException e) {
            if (refused != null) throw new IOException(refused, e);
            reconnect(e);   // resends f with everything else not yet durable
        }
        return n;
    }

    private void awaitWindow() throws IOException {
        while (retainedBytes.get() > WINDOW_BYTES) {
            ensureConnected();
            if (lastFlush <= durable) lastFlush = transmit(new Frame.Flush(++seq));   // make room
            synchronized (acks) {
                if (retainedBytes.get() <= WINDOW_BYTES || !connected) continue;
                try {
                    acks.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted waiting for the destination");
                }
            }
        }
    }

    private void ensureConnected() throws IOException {
        if (refused != null) throw new IOException(refused);
        if (!connected) reconnect(null);
    }

    /** Reconnects within the window, or gives up with the reason. Holds sendLock. */
    private void reconnect(IOException cause) throws IOException {
        if (refused != null) throw new IOException(refused);
        // the copier's other senders queue on sendLock behind the one that gave up: without this each
        // waited out its own window (64 requests x 60 s with the source suspended and its guests held)
        if (lost != null) throw new IOException(lost.getMessage(), lost);
        connected = false;
        try {
            if (socket != null) socket.close();
        } catch (IOException ignored) {
            // already broken
        }
        long deadline = System.nanoTime() + reconnectWindow.toNanos();
        long backoffMs = 50;
        IOException last = cause;
        while (System.nanoTime() < deadline) {
            try {
                reconnects.incrementAndGet();
                connect(true);
                return;
            } catch (Transport.HandshakeException e) {
                refused = e.getMessage();   // certificates do not change by waiting
                throw e;
            } catch (IOException e) {
                if (refused != null) throw new IOException(refused, e);
                last = e;
            }
            try {
                Thread.sleep(backoffMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while reconnecting to " + address);
            }
            backoffMs = Math.min(100, backoffMs * 2);   // a link back up is found within a tenth of a second (a refused attempt costs one SYN)
        }
        lost = new IOException("lost the destination " + address + " and could not reconnect within " + reconnectWindow.toSeconds() + " s"
                + (last == null ? "" : ": " + last.getMessage()), last);
        throw lost;
    }

    /** Waits until the agent has applied (and, if asked, made durable) frame {@code n}, reconnecting as needed. */
    private void awaitAck(long n, boolean mustBeDurable, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (mustBeDurable ? durable < n : acked < n) {
            if (refused != null) throw new IOException(refused);
            if (!connected) {
                sendLock.lock();
                try {
                    if (!connected) reconnect(null);
                } finally {
                    sendLock.unlock();
                }
            }
            if (System.nanoTime() > deadline) throw new IOException("the destination did not acknowledge frame " + n + " in " + timeout.toSeconds() + " s");
            synchronized (acks) {
                if ((mustBeDurable ? durable : acked) >= n || !connected) continue;
                try {
                    acks.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted waiting for the destination");
                }
            }
        }
    }

    @Override public String name() { return "nvme-lm agent " + address.getHostString() + ":" + address.getPort(); }

    @Override public long sizeBytes() { return sizeBytes; }

    @Override public int blockSizeBytes() { return lbaSizeBytes; }

    @Override public int maxRequestBytes() { return FrameCodec.MAX_DATA_BYTES; }

    @Override public MemorySegment allocateBuffer(long size) { return Arena.ofAuto().allocate(size, 4096); }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        throw new IOException(name() + ": the destination is remote; it verifies itself at commit against the source's SHA-256");
    }

    private void check(long offset, long length) throws IOException {
        if (offset < 0 || length < 0 || offset % lbaSizeBytes != 0 || length % lbaSizeBytes != 0 || offset + length > sizeBytes) {
            throw new IOException(name() + ": request [" + offset + ", +" + length + ") is unaligned or past the end");
        }
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        check(offset, src.byteSize());
        for (long at = 0; at < src.byteSize(); at += FrameCodec.MAX_DATA_BYTES) {
            int n = (int) Math.min(FrameCodec.MAX_DATA_BYTES, src.byteSize() - at);
            byte[] b = src.asSlice(at, n).toArray(ValueLayout.JAVA_BYTE);
            int crc = FrameCodec.crc32c(b);
            long off = offset + at;
            // compressed here, on the copier's threads, not under the send lock; kept compressed for a resend
            byte[] c = compression.compress(b);
            dataBytesRaw.addAndGet(n);
            if (c == null) {
                dataBytesWire.addAndGet(n);
                send(s -> new Frame.Data(s, off, crc, b));
            } else {
                dataBytesWire.addAndGet(c.length);
                send(s -> new Frame.CompressedData(s, off, crc, n, compression, c));
            }
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean deallocate) throws IOException {
        check(offset, length);
        send(s -> new Frame.Zero(s, offset, length, deallocate));
    }

    @Override
    public void flush() throws IOException {
        long n = send(Frame.Flush::new);
        awaitAck(n, true, Duration.ofMinutes(10));
    }

    @Override
    public List<Extent> allocated(long offset, long length) {
        return List.of(new Extent(offset, length));
    }

    /**
     * Ends the stream: the controller state (if any) and a Commit with the source's SHA-256. Returns
     * when the agent answers Committed — its copy durable, verified and the controller resumed.
     */
    public void commit(byte[] controllerState, byte[] sourceSha256, Duration timeout) throws IOException {
        if (controllerState != null) send(s -> new Frame.ControllerStateBlob(s, controllerState));
        long n = send(s -> new Frame.Commit(s, sourceSha256));
        long deadline = System.nanoTime() + timeout.toNanos();
        while (committed < n) {
            awaitAck(n - 1, false, timeout);
            if (refused != null) throw new IOException(refused);
            if (System.nanoTime() > deadline) throw new IOException("the destination did not commit within " + timeout.toSeconds() + " s");
            synchronized (acks) {
                if (committed >= n || refused != null) continue;
                try {
                    acks.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted waiting for the commit");
                }
            }
            if (!connected && committed < n) {
                sendLock.lock();
                try {
                    if (!connected) reconnect(null);
                } finally {
                    sendLock.unlock();
                }
            }
        }
    }

    @Override
    public void close() throws IOException {
        sendLock.lock();
        try {
            if (socket != null) socket.close();
        } finally {
            sendLock.unlock();
        }
    }
}
