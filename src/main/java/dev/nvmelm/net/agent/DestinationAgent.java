package dev.nvmelm.net.agent;

import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.block.OutOfSpace;
import dev.nvmelm.net.proto.Compression;
import dev.nvmelm.net.proto.Frame;
import dev.nvmelm.net.proto.FrameCodec;
import dev.nvmelm.net.proto.ProtocolException;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * {@code nvme-lm serve}: the destination agent. A source connects (TLS 1.3, mutual
 * authentication), says which migration and what geometry, and streams numbered frames; the
 * agent applies them strictly in order, acknowledges them, makes them durable on Flush, and on
 * Commit flushes, checks the whole namespace against the source's SHA-256, applies the
 * controller state and resumes the controller before answering Committed. A connection that
 * drops leaves the migration resumable: the source reconnects with the same migration id and
 * continues after the last frame applied here.
 *
 * <p>No peer gets memory or time before it has authenticated ({@link AgentLimits}): the TLS
 * handshake and the HELLO must be over within a deadline, the frame buffers are allocated only
 * after them, connections are bounded per peer address and (while unauthenticated) in total.
 * A migration's target (a subsystem with its threads) is open only while it is used: closed after
 * COMMITTED and when no source has been connected for a while, reopened from its files when one
 * comes back. The record of every migration (its id, geometry, frame and journal) is kept for the
 * agent's life; a new migration is admitted only if the space left covers it and what the
 * migrations already admitted may still write.
 */
public final class DestinationAgent implements AutoCloseable {
    private final Transport transport;
    private final DestinationTarget.Factory factory;
    private final Consumer<String> log;
    private final ServerSocket listener;
    private final java.nio.file.Path journals;   // null: migrations live only as long as this process
    private final java.util.Set<Compression> accepts;
    private final Map<UUID, Session> sessions = new ConcurrentHashMap<>();
    private final AgentLimits limits;
    private final java.util.function.LongSupplier usableBytes;   // null: the factory alone checks space
    private final javax.net.ssl.SSLContext tlsContext;
    private final Map<java.net.InetAddress, Integer> perPeer = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger unauthenticated = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.ScheduledExecutorService timer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().daemon().name("agent-timer").unstarted(r));
    private volatile boolean closed;

    /** One migration: its target, what has been applied, and the connection feeding it. */
    private final class Session {
        final UUID id;
        final long sizeBytes;
        final int lbaSizeBytes;
        private DestinationTarget target;   // null while released
        long applied;
        byte[] state;
        boolean committed;
        /** Why the agent refused this migration for good (its source then resumes); null while it is alive. */
        volatile String abortReason;
        /** Local users of the target right now ({@link #withTarget}); it is not closed under them. */
        int pins;
        volatile Socket connection;
        /** When the last connection ended (System.nanoTime()). */
        volatile long detachedNanos = System.nanoTime();
        /** The 1 MiB pieces DATA has written: what this migration may already have taken of the disk. */
        final java.util.BitSet writtenMiB = new java.util.BitSet();

        Session(UUID id, long sizeBytes, int lbaSizeBytes, DestinationTarget target) {
            this.id = id;
            this.sizeBytes = sizeBytes;
            this.lbaSizeBytes = lbaSizeBytes;
            this.target = target;
        }

        /** The target, reopened from its files if it was released. */
        synchronized DestinationTarget target() throws IOException {
            if (target == null) target = factory.open(id, sizeBytes, lbaSizeBytes);
            return target;
        }

        /**
         * Closes the target (its subsystem and threads) unless a connection or a local user has
         * it, or it serves a committed migration; {@code force} closes it regardless.
         */
        synchronized void release(String why, boolean force) {
            if (target == null || !force && (connection != null || pins > 0 || target.serving())) return;
            try {
                target.close();
            } catch (IOException e) {
                log.accept("agent: closing migration " + id + ": " + e.getMessage());
            }
            target = null;
            log.accept("agent: migration " + id + " released its target (" + why + ")");
        }

        synchronized boolean open() {
            return target != null;
        }

        /**
         * Bytes this migration may still write into the disk (all of it for a recovered one). A
         * committed one that is served may still fill its holes (its guests write) and its host
         * memory file; one that is not served writes nothing more.
         */
        long outstandingBytes() {
            synchronized (this) {
                boolean served = target != null && target.serving();
                if (committed && !served) return 0;
                return Math.max(0, sizeBytes - ((long) writtenMiB.cardinality() << 20)) + (served ? target.servingBytes() : 0);
            }
        }
    }

    public DestinationAgent(Transport transport, InetSocketAddress listen, DestinationTarget.Factory factory, Consumer<String> log) throws IOException {
        this(transport, listen, factory, log, null);
    }

    /**
     * With {@code journals}, every FLUSH records the migration and its last durable frame there
     * (written to a temporary file, forced, then renamed), and a restarted agent picks its
     * migrations up again, so a source can resume after the agent was killed.
     */
    public DestinationAgent(Transport transport, InetSocketAddress listen, DestinationTarget.Factory factory, Consumer<String> log,
                            java.nio.file.Path journals) throws IOException {
        this(transport, listen, factory, log, journals, java.util.EnumSet.allOf(Compression.class));
    }

    public DestinationAgent(Transport transport, InetSocketAddress listen, DestinationTarget.Factory factory, Consumer<String> log,
                            java.nio.file.Path journals, java.util.Set<Compression> accepts) throws IOException {
        this(transport, listen, factory, log, journals, accepts, AgentLimits.DEFAULT, null);
    }

    /**
     * {@code accepts}: the DATA compressions a source may ask for (NONE is always accepted);
     * {@code usableBytes}: the space left where targets are created (null: not accounted across migrations).
     */
    public DestinationAgent(Transport transport, InetSocketAddress listen, DestinationTarget.Factory factory, Consumer<String> log,
                            java.nio.file.Path journals, java.util.Set<Compression> accepts, AgentLimits limits,
                            java.util.function.LongSupplier usableBytes) throws IOException {
        this.limits = limits;
        this.usableBytes = usableBytes;
        this.accepts = java.util.EnumSet.copyOf(accepts);
        this.accepts.add(Compression.NONE);
        this.transport = transport;
        this.factory = factory;
        this.log = log;
        this.journals = journals;
        if (journals != null) recover();
        this.listener = transport.listen(listen);
        this.tlsContext = transport.serverContext();
        long tick = Math.max(10, Math.min(limits.releaseMs() / 2, 10_000));
        timer.scheduleWithFixedDelay(this::releaseIdle, tick, tick, java.util.concurrent.TimeUnit.MILLISECONDS);
        Thread.ofPlatform().daemon().name("agent-accept").start(this::acceptLoop);
    }

    private void recover() throws IOException {
        java.nio.file.Files.createDirectories(journals);
        try (var files = java.nio.file.Files.list(journals)) {
            for (java.nio.file.Path p : files.filter(f -> f.getFileName().toString().endsWith(".journal")).toList()) {
                String[] f = java.nio.file.Files.readString(p).trim().split(" ");
                if (f.length != 5) {
                    log.accept("agent: ignoring malformed journal " + p);
                    continue;
                }
                UUID id = UUID.fromString(f[0]);
                long size = Long.parseLong(f[1]), durable = Long.parseLong(f[3]);
                int lba = Integer.parseInt(f[2]);
                boolean committed = f[4].equals("committed");
                Session s = new Session(id, size, lba, null);   // opened when its source comes back
                s.applied = durable;
                s.committed = committed;
                sessions.put(id, s);
                log.accept("agent: recovered migration " + id + " at frame " + durable + (committed ? " (committed)" : ""));
            }
        }
    }

    /** Records the migration's durable point: after this a restarted agent resumes from here. */
    private void journal(Session s, long durableSeq) throws IOException {
        if (journals == null) return;
        java.nio.file.Path tmp = journals.resolve(s.id + ".journal.tmp"), dst = journals.resolve(s.id + ".journal");
        try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE,
                java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(java.nio.ByteBuffer.wrap((s.id + " " + s.sizeBytes + " " + s.lbaSizeBytes + " " + durableSeq + " "
                    + (s.committed ? "committed" : "open") + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
            ch.force(true);
        }
        java.nio.file.Files.move(tmp, dst, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) listener.getLocalSocketAddress();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = listener.accept();
                java.net.InetAddress peer = s.getInetAddress();
                int fromPeer = perPeer.merge(peer, 1, Integer::sum);
                if (fromPeer > limits.maxPerPeer() || unauthenticated.incrementAndGet() > limits.maxUnauthenticated()) {
                    if (fromPeer <= limits.maxPerPeer()) unauthenticated.decrementAndGet();
                    else log.accept("agent: " + peer.getHostAddress() + " has " + limits.maxPerPeer() + " connections open: refused one more");
                    if (fromPeer <= limits.maxPerPeer()) log.accept("agent: " + limits.maxUnauthenticated() + " connections are in their handshake: refused one more");
                    s.close();
                    perPeer.merge(peer, -1, (x, y) -> x + y == 0 ? null : x + y);
                    continue;
                }
                Thread.ofVirtual().name("agent-conn").start(() -> {
                    try {
                        serve(s);
                    } finally {
                        perPeer.merge(peer, -1, (x, y) -> x + y == 0 ? null : x + y);
                    }
                });
            } catch (IOException e) {
                if (!closed) log.accept("agent: accept failed: " + e.getMessage());
            }
        }
    }

    /** Closes migrations' targets nobody has used for {@link AgentLimits#releaseMs}. */
    private void releaseIdle() {
        long now = System.nanoTime();
        for (Session s : sessions.values()) {
            if (s.connection == null && s.open() && now - s.detachedNanos > limits.releaseMs() * 1_000_000L) {
                s.release("no source connected for " + limits.releaseMs() + " ms", false);
            }
        }
    }

    private void serve(Socket plain) {
        Session session = null;
        boolean authenticated = false;
        // the handshake and the HELLO must be over by the deadline, however slowly the peer keeps sending
        java.util.concurrent.ScheduledFuture<?> cut = timer.schedule(() -> {
            log.accept("agent: " + plain.getRemoteSocketAddress() + " did not finish its handshake within " + limits.handshakeMs() + " ms: closed");
            closeQuietly(plain);
        }, limits.handshakeMs(), java.util.concurrent.TimeUnit.MILLISECONDS);
        Socket socket = plain;
        try (plain) {
            socket = Transport.serverSide(tlsContext, plain);
            if (socket instanceof javax.net.ssl.SSLSocket tls) tls.startHandshake();
            // no buffers until the peer is through: a HELLO is 36 bytes
            java.io.InputStream raw = socket.getInputStream();
            Frame first = readHello(raw, socket);
            if (first == null) return;
            if (!cut.cancel(false)) return;   // too late: the deadline closed it
            unauthenticated.decrementAndGet();
            authenticated = true;
            socket.setSoTimeout(limits.idleMs());
            Frame.Hello h = (Frame.Hello) first;
            DataInputStream in = new DataInputStream(new BufferedInputStream(raw, 1 << 20));
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
            session = admit(h, out);
            if (session == null) return;
            Socket previous;
            synchronized (session) {
                previous = session.connection;
                session.connection = socket;
            }
            if (previous != null && previous != socket) previous.close();   // a resumed source replaces a link we had not seen die
            synchronized (session) {
                FrameCodec.write(out, new Frame.Welcome(h.version(), session.applied));   // we speak the source's version
                // a source that lost the link after its Commit was applied still learns the outcome
                if (session.committed) FrameCodec.write(out, new Frame.Committed(session.applied));
                out.flush();
            }
            loop(session, socket, in, out, h.compression());
        } catch (java.net.SocketTimeoutException e) {
            log.accept("agent: " + plain.getRemoteSocketAddress() + " sent nothing for " + limits.idleMs() + " ms: closed (resumable)");
        } catch (EOFException e) {
            // the source went away between frames: resumable
        } catch (ProtocolException e) {
            log.accept("agent: protocol error from " + plain.getRemoteSocketAddress() + ": " + e.getMessage());
        } catch (IOException e) {
            if (!closed && authenticated) log.accept("agent: connection " + plain.getRemoteSocketAddress() + " ended: " + e.getMessage());
            else if (!closed && !cut.isDone()) log.accept("agent: handshake with " + plain.getRemoteSocketAddress() + " failed: " + e.getMessage());
        } finally {
            cut.cancel(false);
            if (!authenticated) unauthenticated.decrementAndGet();
            if (session != null) {
                synchronized (session) {
                    if (session.connection == socket) {
                        session.connection = null;
                        session.detachedNanos = System.nanoTime();
                    }
                }
                if (session.committed) session.release("switchover done, COMMITTED sent", false);
            }
        }
    }

    /**
     * The first frame, which must be a HELLO, read exactly (no buffer past it, so the frame
     * stream's buffer starts right after it); judged by its length before anything is allocated
     * for it (a longer one closes the connection). Null after a refusal.
     */
    private Frame readHello(java.io.InputStream raw, Socket socket) throws IOException {
        byte[] head = raw.readNBytes(4);
        if (head.length < 4) throw new EOFException("closed before its HELLO");
        int len = java.nio.ByteBuffer.wrap(head).getInt();
        if (len < 0 || len > 64) {
            throw new ProtocolException("the first frame announces " + Integer.toUnsignedString(len) + " bytes; it must be a HELLO of at most 64");
        }
        byte[] body = raw.readNBytes(len);
        if (body.length < len) throw new EOFException("closed in its HELLO");
        byte[] frame = java.util.Arrays.copyOf(head, 4 + len);
        System.arraycopy(body, 0, frame, 4, len);
        Frame first = FrameCodec.read(new DataInputStream(new java.io.ByteArrayInputStream(frame)));
        if (!(first instanceof Frame.Hello)) {
            refuse(new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 512)), Frame.REFUSE_PROTOCOL, "the first frame must be HELLO");
            return null;
        }
        return first;
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    /** Checks the HELLO, opens or finds the migration; null after a refusal. */
    private Session admit(Frame.Hello h, DataOutputStream out) throws IOException {
        if (h.version() < Frame.MIN_VERSION || h.version() > Frame.VERSION) {
            refuse(out, Frame.REFUSE_VERSION, "protocol version " + h.version() + " is not served; this agent speaks " + Frame.MIN_VERSION + ".." + Frame.VERSION);
            return null;
        }
        if (!accepts.contains(h.compression())) {
            refuse(out, Frame.REFUSE_COMPRESSION, "this agent does not accept " + h.compression().label() + "-compressed data (it accepts "
                    + accepts.stream().map(Compression::label).toList() + ")");
            return null;
        }
        if ((h.lbaSizeBytes() != 512 && h.lbaSizeBytes() != 4096) || h.sizeBytes() <= 0 || h.sizeBytes() % h.lbaSizeBytes() != 0) {
            refuse(out, Frame.REFUSE_GEOMETRY, "namespace of " + h.sizeBytes() + " bytes with " + h.lbaSizeBytes() + "-byte LBAs is not a valid geometry");
            return null;
        }
        Session existing = sessions.get(h.migrationId());
        if (existing != null) {
            if (existing.sizeBytes != h.sizeBytes() || existing.lbaSizeBytes != h.lbaSizeBytes()) {
                refuse(out, Frame.REFUSE_GEOMETRY, "migration " + h.migrationId() + " is " + existing.sizeBytes + " bytes / " + existing.lbaSizeBytes
                        + "-byte LBAs here, not " + h.sizeBytes() + " / " + h.lbaSizeBytes());
                return null;
            }
            if (h.restarted() && existing.committed) {
                refuse(out, Frame.REFUSE_COMMITTED, "migration " + h.migrationId() + " is already committed on this agent: nothing to resume");
                return null;
            }
            existing.abortReason = null;   // its source is back: it is alive again
            return existing;
        }
        if (h.restarted()) {
            refuse(out, Frame.REFUSE_UNKNOWN_MIGRATION, "no migration " + h.migrationId() + " on this agent: nothing to resume (start it again without --resume)");
            return null;
        }
        if (h.resume()) {
            refuse(out, Frame.REFUSE_UNKNOWN_MIGRATION, "no migration " + h.migrationId() + " on this agent (it restarted?): start the migration again");
            return null;
        }
        if (usableBytes != null) {
            long promised = 0;
            int open = 0;
            for (Session o : sessions.values()) {
                long b = o.outstandingBytes();
                if (b > 0) open++;
                promised += b;
            }
            long usable = usableBytes.getAsLong();
            if (h.sizeBytes() > usable - promised) {
                refuse(out, Frame.REFUSE_NO_SPACE, "not enough space for a " + h.sizeBytes() + "-byte namespace: " + usable + " bytes usable, "
                        + promised + " of them promised to " + open + " migration(s) already admitted");
                return null;
            }
        }
        DestinationTarget target;
        try {
            target = factory.open(h.migrationId(), h.sizeBytes(), h.lbaSizeBytes());
        } catch (IOException e) {
            refuse(out, OutOfSpace.is(e) ? Frame.REFUSE_NO_SPACE : Frame.REFUSE_IO, String.valueOf(e.getMessage()));
            return null;
        }
        Session s = new Session(h.migrationId(), h.sizeBytes(), h.lbaSizeBytes(), target);
        journal(s, 0);   // known from the start: a restart before the first FLUSH resumes from frame 0
        sessions.put(s.id, s);
        log.accept("agent: migration " + s.id + " (" + s.sizeBytes + " bytes) started");
        return s;
    }

    private static void refuse(DataOutputStream out, int code, String reason) throws IOException {
        FrameCodec.write(out, new Frame.Refuse(code, reason));
        out.flush();
    }

    private void loop(Session s, Socket socket, DataInputStream in, DataOutputStream out, Compression codec) throws IOException {
        BlockDevice data = s.target().data();
        long unacked = 0;
        boolean numberedSeen = false;
        while (true) {
            Frame f = FrameCodec.read(in, codec);
            synchronized (s) {
                if (s.connection != socket) return;   // superseded by a newer connection of the same migration
                if (f instanceof Frame.DigestRequest d) {
                    if (numberedSeen) throw new ProtocolException("DIGEST_REQUEST must come before any numbered frame");
                    sendDigests(s, data, d.chunkBytes(), out);
                    continue;
                }
                numberedSeen = true;
                if (!(f instanceof Frame.Numbered numbered)) throw new ProtocolException("a source may not send " + f.getClass().getSimpleName());
                long seq = numbered.seq();
                if (seq <= s.applied) continue;   // a resent frame we already applied
                if (seq != s.applied + 1) throw new ProtocolException("frame seq " + seq + " after " + s.applied + ": frames must arrive in order");
                try {
                    apply(s, data, f, seq);
                } catch (ProtocolException e) {
                    throw e;
                } catch (IOException e) {
                    // the destination's storage failed (a full disk, say): tell the source, which stops and resumes its controller
                    String m = String.valueOf(e.getMessage());
                    boolean full = OutOfSpace.is(e);
                    String reason = (full ? "the destination is out of space: " : "destination I/O failed: ") + m;
                    refuse(out, full ? Frame.REFUSE_NO_SPACE : Frame.REFUSE_IO, reason);
                    s.abortReason = reason;
                    return;
                }
                if (f instanceof Frame.ControllerStateBlob c) s.state = c.state();
                if (f instanceof Frame.Commit c) {
                    commit(s, c, out);
                    return;
                }
                s.applied = seq;
                unacked++;
                boolean durable = f instanceof Frame.Flush;
                // ack a flush at once; otherwise when the source has nothing more queued, or every 64 frames
                if (durable || unacked >= 64 || in.available() == 0) {
                    FrameCodec.write(out, new Frame.Ack(seq, durable));
                    out.flush();
                    unacked = 0;
                }
            }
        }
    }

    /**
     * For a source that restarted and lost track of what it sent: makes everything applied
     * durable (so the digests describe what survives a crash of this agent too), then reads the
     * namespace back and streams the SHA-256 of every chunk in bounded frames.
     */
    private void sendDigests(Session s, BlockDevice data, int chunkBytes, DataOutputStream out) throws IOException {
        if (chunkBytes < 4096 || chunkBytes > FrameCodec.MAX_DATA_BYTES || chunkBytes % s.lbaSizeBytes != 0) {
            throw new ProtocolException("digest chunk of " + chunkBytes + " bytes: must be a multiple of the LBA size in 4 KiB.." + FrameCodec.MAX_DATA_BYTES);
        }
        data.flush();
        journal(s, s.applied);
        long chunks = (s.sizeBytes + chunkBytes - 1) / chunkBytes;
        try (Arena a = Arena.ofShared()) {   // shared: a backend may complete the read on its own thread
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            MemorySegment buf = a.allocate(chunkBytes, 4096);
            byte[] chunk = new byte[chunkBytes];
            for (long first = 0; first < chunks; first += FrameCodec.MAX_DIGESTS_PER_FRAME) {
                int n = (int) Math.min(FrameCodec.MAX_DIGESTS_PER_FRAME, chunks - first);
                byte[] digests = new byte[32 * n];
                for (int i = 0; i < n; i++) {
                    long off = (first + i) * chunkBytes;
                    int len = (int) Math.min(chunkBytes, s.sizeBytes - off);
                    data.read(off, buf.asSlice(0, len));
                    MemorySegment.copy(buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, chunk, 0, len);
                    md.update(chunk, 0, len);
                    System.arraycopy(md.digest(), 0, digests, 32 * i, 32);
                }
                FrameCodec.write(out, new Frame.Digests(first, digests));
            }
            out.flush();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        log.accept("agent: migration " + s.id + ": sent " + chunks + " chunk digests to a restarted source (durable at frame " + s.applied + ")");
    }

    /**
     * Reads every extent back after writing it and checks it against the CRC32C the source sent:
     * a write the destination's storage lost or misplaced is caught while copying, not at the stop.
     */
    private static void readBack(Session s, BlockDevice data, Frame.Data d) throws IOException {
        byte[] back = new byte[d.data().length];
        data.read(d.offset(), MemorySegment.ofArray(back));
        if (FrameCodec.crc32c(back) != d.crc32c()) {
            throw new IOException("read-back of [" + d.offset() + ", +" + back.length + ") does not match what was written (CRC32C)");
        }
    }

    private void apply(Session s, BlockDevice data, Frame f, long seq) throws IOException {
        switch (f) {
            case Frame.Data d -> {
                check(s, d.offset(), d.data().length);
                if (d.data().length > 0) s.writtenMiB.set((int) (d.offset() >> 20), (int) ((d.offset() + d.data().length - 1) >> 20) + 1);
                data.write(d.offset(), MemorySegment.ofArray(d.data()));
                readBack(s, data, d);
            }
            case Frame.Zero z -> {
                check(s, z.offset(), z.length());
                data.writeZeroes(z.offset(), z.length(), z.deallocate());
            }
            case Frame.Flush fl -> {
                data.flush();
                journal(s, seq);
            }
            default -> { }
        }
    }

    private static void check(Session s, long offset, long length) throws ProtocolException {
        if (offset < 0 || length < 0 || offset % s.lbaSizeBytes != 0 || length % s.lbaSizeBytes != 0 || offset + length > s.sizeBytes || offset + length < 0) {
            throw new ProtocolException("range [" + offset + ", +" + length + ") is unaligned or outside the " + s.sizeBytes + "-byte namespace");
        }
    }

    /** Durable, verified, controller state applied and resumed — only then Committed. */
    private void commit(Session s, Frame.Commit c, DataOutputStream out) throws IOException {
        if (!s.committed) {
            DestinationTarget target = s.target();
            target.data().flush();
            // an all-zero hash asks for no whole-namespace check (every extent was read back as written)
            boolean wholeCheck = !Arrays.equals(c.sha256(), new byte[32]);
            byte[] sha = wholeCheck ? sha256(target.data(), s.sizeBytes) : c.sha256();
            if (!Arrays.equals(sha, c.sha256())) {
                s.abortReason = "the destination namespace does not match the source's SHA-256 after all frames were applied";
                refuse(out, Frame.REFUSE_VERIFY, s.abortReason);
                return;
            }
            try {
                if (s.state != null) target.applyState(s.state);
                target.resume();
            } catch (IOException e) {
                // permanent: a resent commit would fail the same way, so the source must stop retrying
                s.abortReason = "switchover failed at the destination: " + e.getMessage();
                refuse(out, Frame.REFUSE_IO, s.abortReason);
                s.release("its switchover failed", true);   // reopened from its files if its source ever comes back
                return;
            }
            s.committed = true;
            s.applied = c.seq();
            journal(s, c.seq());
            log.accept("agent: migration " + s.id + " committed: durable, verified, controller resumed");
        }
        FrameCodec.write(out, new Frame.Committed(c.seq()));
        out.flush();
    }

    public static byte[] sha256(BlockDevice d, long size) throws IOException {
        try (Arena a = Arena.ofShared()) {   // shared: a backend may complete the read on its own thread
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            MemorySegment buf = a.allocate(1 << 20, 4096);
            byte[] chunk = new byte[(int) buf.byteSize()];
            for (long off = 0; off < size; off += buf.byteSize()) {
                int n = (int) Math.min(buf.byteSize(), size - off);
                d.read(off, buf.asSlice(0, n));
                MemorySegment.copy(buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, chunk, 0, n);
                md.update(chunk, 0, n);
            }
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What this agent knows of migration {@code id}, if it knows it. */
    public java.util.Optional<MigrationStatus> status(UUID id) {
        Session s = sessions.get(id);
        return s == null ? java.util.Optional.empty() : java.util.Optional.of(status(s));
    }

    /** Every migration this agent knows, committed or not. */
    public java.util.List<MigrationStatus> migrations() {
        return sessions.values().stream().map(this::status).toList();
    }

    private MigrationStatus status(Session s) {
        String aborted = s.abortReason;
        synchronized (s) {
            MigrationStatus.Phase p = aborted != null ? MigrationStatus.Phase.ABORTED
                    : !s.committed ? MigrationStatus.Phase.OPEN
                    : s.target != null && s.target.serving() ? MigrationStatus.Phase.SERVED : MigrationStatus.Phase.COMMITTED;
            String why = switch (p) {
                case ABORTED -> aborted;
                case COMMITTED -> "it was committed before this agent restarted; the controller state is not kept across a restart";
                default -> "";
            };
            return new MigrationStatus(s.id, s.sizeBytes, s.lbaSizeBytes, p, why);
        }
    }

    /** Something a local user of a migration's namespace does with its target. */
    public interface TargetUse<T> {
        T apply(DestinationTarget target) throws IOException;
    }

    /**
     * Runs {@code use} on the target of a live migration (receiving, or committed and served),
     * opening it from its files if it was released; the target is not closed meanwhile, and a
     * use counts as activity that keeps it open. Refused for an unknown, aborted or unserved
     * committed migration. Waits while a frame (or the commit) is being applied.
     */
    public <T> T withTarget(UUID id, TargetUse<T> use) throws IOException {
        Session s = sessions.get(id);
        if (s == null) throw new IOException("no migration " + id + " on this agent");
        DestinationTarget t;
        synchronized (s) {
            MigrationStatus st = status(s);
            if (st.phase() == MigrationStatus.Phase.ABORTED) throw new IOException("migration " + id + " aborted: " + st.reason());
            if (st.phase() == MigrationStatus.Phase.COMMITTED) throw new IOException("migration " + id + " is not served here: " + st.reason());
            t = s.target();
            s.pins++;
        }
        try {
            return use.apply(t);
        } finally {
            synchronized (s) {
                s.pins--;
                s.detachedNanos = System.nanoTime();
            }
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        listener.close();
        timer.shutdownNow();
        for (Session s : sessions.values()) {
            Socket c = s.connection;
            if (c != null) c.close();
            s.connection = null;
            s.release("agent closing", true);
        }
        sessions.clear();
    }
}
