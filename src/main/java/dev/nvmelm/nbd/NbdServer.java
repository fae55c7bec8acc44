package dev.nvmelm.nbd;

import dev.nvmelm.migrate.block.OutOfSpace;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * An NBD server (fixed newstyle, structured replies, meta contexts) for a set of exports, on a
 * Unix socket or TCP. Each connection gets a virtual thread that reads requests and dispatches
 * them (up to {@link #MAX_IN_FLIGHT} at once) to further virtual threads; replies are written
 * under a lock, in completion order. A malformed handshake, a bad magic or an oversized
 * write closes that connection only; the server keeps serving the others.
 *
 * <p>No peer is trusted with memory or time ({@link NbdLimits}): write payloads are read and
 * written in chunks, reads are answered in chunks, and every chunk is taken from a
 * {@link MemoryBudget} shared by all connections (a connection that does not fit waits, so its
 * peer's sends stall); a {@link Watchdog} cuts handshakes that run late, requests whose bytes stop
 * arriving and replies the peer does not take.
 *
 * <p>A TCP listener can require TLS (proto.md "TLS support", the "TLS-only" mode): every
 * option before NBD_OPT_STARTTLS gets NBD_REP_ERR_TLS_REQD (NBD_OPT_EXPORT_NAME, which cannot be
 * refused, closes the connection), then TLS 1.3 with a client certificate from our CA is
 * negotiated on the same socket and the handshake starts over inside it.
 */
public final class NbdServer implements AutoCloseable {
    public static final int MAX_IN_FLIGHT = 64;
    /** Hard limit on a request's payload, whatever the export advertises. */
    public static final int HARD_MAX_PAYLOAD = 32 << 20;
    private static final int MAX_OPTION_BYTES = 64 << 10;
    private static final int MAX_EXTENTS_PER_CHUNK = 1 << 16;

    private final NbdExportCatalog exports;
    private final Consumer<String> log;
    private final List<AutoCloseable> listeners = new ArrayList<>();
    private final List<java.nio.file.Path> unixPaths = new ArrayList<>();
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final NbdLimits limits;
    private final MemoryBudget budget;
    private final Watchdog watchdog;
    private volatile boolean closed;

    public NbdServer(List<NbdExport> exports, Consumer<String> log) {
        this(exports, log, NbdLimits.DEFAULT);
    }

    public NbdServer(List<NbdExport> exports, Consumer<String> log, NbdLimits limits) {
        this(NbdExportCatalog.of(exports), log, limits);
    }

    /** Exports looked up by name at each client's request (they may come and go, or be refused with a reason). */
    public NbdServer(NbdExportCatalog exports, Consumer<String> log, NbdLimits limits) {
        this.exports = exports;
        this.log = log;
        this.limits = limits;
        this.budget = new MemoryBudget(limits.budgetBytes());
        this.watchdog = new Watchdog(log);
    }

    /** Payload and reply bytes all connections hold right now (never more than the budget). */
    public long heldBytes() {
        return budget.heldBytes();
    }

    /** The export names, in the order they were given. */
    public List<String> exportNames() {
        return exports.names();
    }

    /** Starts listening without TLS; for a Unix socket, a stale socket file is replaced. */
    public SocketAddress listen(SocketAddress address) throws IOException {
        return listen(address, null);
    }

    /**
     * Starts listening; with {@code tls} (TCP only) every client must do NBD_OPT_STARTTLS and
     * present a certificate the context trusts.
     */
    public SocketAddress listen(SocketAddress address, SSLContext tls) throws IOException {
        if (address instanceof UnixDomainSocketAddress u) {
            if (tls != null) throw new IOException("TLS is offered on TCP listeners only");
            Files.deleteIfExists(u.getPath());
            ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            ch.bind(address);
            listeners.add(ch);
            unixPaths.add(u.getPath());
            Thread.ofVirtual().name("nbd-accept").start(() -> acceptLoop(() -> new Wire.Channel(ch.accept()), null));
            return ch.getLocalAddress();
        }
        ServerSocket ss = new ServerSocket();
        ss.setReuseAddress(true);
        ss.bind(address);
        listeners.add(ss);
        Thread.ofVirtual().name("nbd-accept").start(() -> acceptLoop(() -> {
            Socket s = ss.accept();
            s.setTcpNoDelay(true);
            return new Wire.Stream(s);
        }, tls));
        return ss.getLocalSocketAddress();
    }

    private interface Acceptor {
        Wire accept() throws IOException;
    }

    public int connectionCount() {
        return connections.size();
    }

    private void acceptLoop(Acceptor acceptor, SSLContext tls) {
        while (!closed) {
            try {
                Wire w = acceptor.accept();
                if (connections.size() >= limits.maxConnections()) {
                    w.close();
                    log.accept("nbd: " + limits.maxConnections() + " connections are open: refused one more");
                    continue;
                }
                Connection conn = new Connection(w, tls);
                connections.add(conn);
                watchdog.add(conn);
                Thread.ofVirtual().name("nbd-conn").start(() -> {
                    try {
                        conn.run();
                    } catch (IOException e) {
                        if (!closed) log.accept("nbd: connection closed: " + e.getMessage());
                    } catch (RuntimeException e) {
                        log.accept("nbd: connection failed: " + e);
                    } finally {
                        watchdog.remove(conn);
                        conn.closeQuietly();
                        conn.abort();
                        connections.remove(conn);
                    }
                });
            } catch (IOException e) {
                if (!closed) log.accept("nbd: accept failed: " + e.getMessage());
                return;
            }
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        for (AutoCloseable l : listeners) {
            try {
                l.close();
            } catch (Exception e) {
                log.accept("nbd: closing a listener: " + e.getMessage());
            }
        }
        for (java.nio.file.Path p : unixPaths) Files.deleteIfExists(p);
        watchdog.close();
        for (Connection c : connections) {
            c.closeQuietly();
            c.abort();
        }
    }

    /** One client connection: handshake, then transmission. */
    private final class Connection implements Watchdog.Guarded {
        private volatile Wire wire;
        /** The accepted transport under any TLS layer: closing it wakes every blocked reader and writer. */
        private final Wire raw;
        private final SSLContext tls;
        private final MemoryBudget.Share share = budget.share(limits.perConnectionBytes());
        private volatile long readDeadlineNanos, writeDeadlineNanos;
        private volatile String readStep;
        private boolean tlsActive;
        private boolean noZeroes;
        private boolean structured;
        /** NBD_OPT_EXTENDED_HEADERS negotiated: 32-byte requests, extended reply chunks only (implies structured). */
        private boolean extended;
        private final Map<Integer, String> contexts = new LinkedHashMap<>();
        private NbdExport export;

        Connection(Wire wire, SSLContext tls) {
            this.wire = wire;
            this.raw = wire;
            this.tls = tls;
        }

        @Override
        public long deadlineNanos() {
            long r = readDeadlineNanos, w = writeDeadlineNanos;
            return r == 0 ? w : w == 0 ? r : Math.min(r, w);
        }

        @Override
        public String lateStep() {
            long r = readDeadlineNanos;
            return r != 0 && (writeDeadlineNanos == 0 || r <= writeDeadlineNanos) ? readStep
                    : "the client took no reply data for " + limits.progressMs() + " ms";
        }

        @Override
        public void abort() {
            try {
                raw.close();
            } catch (IOException ignored) {
                // already closed
            }
        }

        /** The reader's current step must be over within {@code ms} (0: no deadline, e.g. idle between requests). */
        private void readDeadline(int ms, String step) {
            readStep = step;
            readDeadlineNanos = ms == 0 ? 0 : Math.max(1, System.nanoTime() + ms * 1_000_000L);
        }

        void run() throws IOException {
            readDeadline(limits.handshakeMs(), "the handshake was not over within " + limits.handshakeMs() + " ms");
            ByteBuffer hello = ByteBuffer.allocate(18);
            hello.putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT).putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES));
            write(hello.flip());
            int clientFlags = readBuffer(4).getInt();
            if ((clientFlags & ~(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)) != 0) {
                throw new IOException("unknown client flags 0x" + Integer.toHexString(clientFlags));
            }
            noZeroes = (clientFlags & Nbd.FLAG_C_NO_ZEROES) != 0;
            if (negotiate()) transmission();
        }

        /** Option haggling; returns true when transmission starts. */
        private boolean negotiate() throws IOException {
            while (true) {
                ByteBuffer h = readBuffer(16);
                if (h.getLong() != Nbd.IHAVEOPT) throw new IOException("bad option magic");
                int opt = h.getInt();
                int len = h.getInt();
                if (len < 0 || len > MAX_OPTION_BYTES) throw new IOException("option data of " + Integer.toUnsignedString(len) + " bytes is too big");
                ByteBuffer data = readBuffer(len);
                if (tls != null && !tlsActive && opt != Nbd.OPT_STARTTLS && opt != Nbd.OPT_ABORT) {
                    // TLS-only: EXPORT_NAME has no error reply, so the only refusal is hanging up
                    if (opt == Nbd.OPT_EXPORT_NAME) throw new IOException("NBD_OPT_EXPORT_NAME before STARTTLS on a TLS-only listener");
                    optError(opt, Nbd.REP_ERR_TLS_REQD, "TLS is required: send NBD_OPT_STARTTLS first");
                    continue;
                }
                switch (opt) {
                    case Nbd.OPT_EXPORT_NAME -> {
                        String name = StandardCharsets.UTF_8.decode(data).toString();
                        try {
                            export = exports.find(name);
                        } catch (NbdExportCatalog.Refused e) {
                            throw new IOException(e.getMessage());   // EXPORT_NAME has no error reply: hang up
                        }
                        ByteBuffer r = ByteBuffer.allocate(10 + (noZeroes ? 0 : 124));
                        r.putLong(export.sizeBytes()).putShort((short) transmissionFlags(export));
                        write(r.position(r.capacity()).flip());
                        return true;
                    }
                    case Nbd.OPT_ABORT -> {
                        optReply(opt, Nbd.REP_ACK, ByteBuffer.allocate(0));
                        return false;
                    }
                    case Nbd.OPT_LIST -> {
                        if (len != 0) { optError(opt, Nbd.REP_ERR_INVALID, "LIST takes no data"); continue; }
                        for (String n : exports.names()) {
                            byte[] b = n.getBytes(StandardCharsets.UTF_8);
                            optReply(opt, Nbd.REP_SERVER, ByteBuffer.allocate(4 + b.length).putInt(b.length).put(b).flip());
                        }
                        optReply(opt, Nbd.REP_ACK, ByteBuffer.allocate(0));
                    }
                    case Nbd.OPT_INFO, Nbd.OPT_GO -> {
                        if (infoOrGo(opt, data) && opt == Nbd.OPT_GO) return true;
                    }
                    case Nbd.OPT_STRUCTURED_REPLY -> {
                        if (len != 0) { optError(opt, Nbd.REP_ERR_INVALID, "STRUCTURED_REPLY takes no data"); continue; }
                        if (extended) { optError(opt, Nbd.REP_ERR_EXT_HEADER_REQD, "extended headers are already negotiated"); continue; }
                        structured = true;
                        optReply(opt, Nbd.REP_ACK, ByteBuffer.allocate(0));
                    }
                    case Nbd.OPT_EXTENDED_HEADERS -> {
                        if (len != 0) { optError(opt, Nbd.REP_ERR_INVALID, "EXTENDED_HEADERS takes no data"); continue; }
                        if (extended) { optError(opt, Nbd.REP_ERR_INVALID, "extended headers are already negotiated"); continue; }
                        extended = true;
                        structured = true;
                        optReply(opt, Nbd.REP_ACK, ByteBuffer.allocate(0));
                    }
                    case Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT -> metaContext(opt, data);
                    case Nbd.OPT_STARTTLS -> {
                        if (tls == null) optError(opt, Nbd.REP_ERR_POLICY, "TLS is not configured on this listener");
                        else if (tlsActive) optError(opt, Nbd.REP_ERR_INVALID, "TLS is already active");
                        else if (len != 0) optError(opt, Nbd.REP_ERR_INVALID, "STARTTLS takes no data");
                        else {
                            optReply(opt, Nbd.REP_ACK, ByteBuffer.allocate(0));
                            startTls();
                        }
                    }
                    default -> optError(opt, Nbd.REP_ERR_UNSUP, "option " + opt + " is not supported");
                }
            }
        }

        /** The server side of STARTTLS: TLS 1.3 over the accepted socket, client certificate required. */
        private void startTls() throws IOException {
            Socket plain = ((Wire.Stream) wire).socket;
            InetSocketAddress peer = (InetSocketAddress) plain.getRemoteSocketAddress();
            SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket(plain, peer.getHostString(), peer.getPort(), true);
            s.setUseClientMode(false);
            s.setSSLParameters(Wire.tlsParameters(tls, true));
            // the handshake deadline (the watchdog) bounds it
            try {
                s.startHandshake();
            } catch (IOException e) {
                throw new IOException("TLS handshake with " + peer + " failed: " + e.getMessage(), e);
            }
            wire = new Wire.Stream(s);
            tlsActive = true;
            // proto.md: after STARTTLS the negotiation starts over; nothing said in plaintext counts
            structured = false;
            extended = false;
            contexts.clear();
        }

        private boolean infoOrGo(int opt, ByteBuffer data) throws IOException {
            if (data.remaining() < 6) { optError(opt, Nbd.REP_ERR_INVALID, "short INFO/GO request"); return false; }
            int nameLen = data.getInt();
            if (nameLen < 0 || nameLen > data.remaining() - 2) { optError(opt, Nbd.REP_ERR_INVALID, "bad export name length"); return false; }
            byte[] nb = new byte[nameLen];
            data.get(nb);
            int nInfo = Short.toUnsignedInt(data.getShort());
            if (data.remaining() != nInfo * 2) { optError(opt, Nbd.REP_ERR_INVALID, "bad information request list"); return false; }
            List<Integer> wanted = new ArrayList<>();
            for (int i = 0; i < nInfo; i++) wanted.add(Short.toUnsignedInt(data.getShort()));
            String name = new String(nb, StandardCharsets.UTF_8);
            NbdExport e;
            try {
                e = exports.find(name);
            } catch (NbdExportCatalog.Refused r) {
                optError(opt, Nbd.REP_ERR_UNKNOWN, r.getMessage());
                return false;
            }
            optReply(opt, Nbd.REP_INFO, ByteBuffer.allocate(12).putShort((short) Nbd.INFO_EXPORT)
                    .putLong(e.sizeBytes()).putShort((short) transmissionFlags(e)).flip());
            if (wanted.contains(Nbd.INFO_NAME)) {
                byte[] b = e.name().getBytes(StandardCharsets.UTF_8);
                optReply(opt, Nbd.REP_INFO, ByteBuffer.allocate(2 + b.length).putShort((short) Nbd.INFO_NAME).put(b).flip());
            }
            if (wanted.contains(Nbd.INFO_DESCRIPTION)) {
                byte[] b = e.description().getBytes(StandardCharsets.UTF_8);
                optReply(opt, Nbd.REP_INFO, ByteBuffer.allocate(2 + b.length).putShort((short) Nbd.INFO_DESCRIPTION).put(b).flip());
            }
            optReply(opt, Nbd.REP_INFO, ByteBuffer.allocate(14).putShort((short) Nbd.INFO_BLOCK_SIZE)
                    .putInt(e.minBlockBytes()).putInt(e.preferredBlockBytes()).putInt(Math.min(e.maxPayloadBytes(), HARD_MAX_PAYLOAD)).flip());
            optReply(opt, Nbd.REP_ACK, ByteBuffer.allocate(0));
            if (opt == Nbd.OPT_GO) export = e;
            return true;
        }

        private void metaContext(int opt, ByteBuffer data) throws IOException {
            if (opt == Nbd.OPT_SET_META_CONTEXT && !structured) {
                optError(opt, Nbd.REP_ERR_INVALID, "SET_META_CONTEXT needs structured replies");
                return;
            }
            if (data.remaining() < 8) { optError(opt, Nbd.REP_ERR_INVALID, "short meta context request"); return; }
            int nameLen = data.getInt();
            if (nameLen < 0 || nameLen > data.remaining() - 4) { optError(opt, Nbd.REP_ERR_INVALID, "bad export name length"); return; }
            byte[] nb = new byte[nameLen];
            data.get(nb);
            NbdExport e;
            try {
                e = exports.find(new String(nb, StandardCharsets.UTF_8));
            } catch (NbdExportCatalog.Refused r) {
                optError(opt, Nbd.REP_ERR_UNKNOWN, r.getMessage());
                return;
            }
            int n = data.getInt();
            List<String> queries = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (data.remaining() < 4) { optError(opt, Nbd.REP_ERR_INVALID, "truncated query list"); return; }
                int ql = data.getInt();
                if (ql < 0 || ql > data.remaining()) { optError(opt, Nbd.REP_ERR_INVALID, "bad query length"); return; }
                byte[] qb = new byte[ql];
                data.get(qb);
                queries.add(new String(qb, StandardCharsets.UTF_8));
            }
            if (data.hasRemaining()) { optError(opt, Nbd.REP_ERR_INVALID, "trailing bytes in meta context request"); return; }
            List<String> available = e.metaContexts();
            List<String> chosen = new ArrayList<>();
            if (queries.isEmpty() && opt == Nbd.OPT_LIST_META_CONTEXT) chosen.addAll(available);
            for (String q : queries) {
                for (String a : available) {
                    boolean match = a.equals(q) || (q.endsWith(":") && a.startsWith(q));
                    if (match && !chosen.contains(a)) chosen.add(a);
                }
            }
            if (opt == Nbd.OPT_SET_META_CONTEXT) contexts.clear();
            for (String c : chosen) {
                int id = available.indexOf(c) + 1;
                if (opt == Nbd.OPT_SET_META_CONTEXT) contexts.put(id, c);
                byte[] b = c.getBytes(StandardCharsets.UTF_8);
                optReply(opt, Nbd.REP_META_CONTEXT, ByteBuffer.allocate(4 + b.length).putInt(id).put(b).flip());
            }
            optReply(opt, Nbd.REP_ACK, ByteBuffer.allocate(0));
        }

        private int transmissionFlags(NbdExport e) {
            int f = Nbd.TF_HAS_FLAGS | Nbd.TF_SEND_FLUSH | Nbd.TF_SEND_FUA | Nbd.TF_SEND_CACHE | Nbd.TF_SEND_DF;
            if (e.readOnly()) f |= Nbd.TF_READ_ONLY;
            else f |= Nbd.TF_SEND_TRIM | Nbd.TF_SEND_WRITE_ZEROES | Nbd.TF_SEND_FAST_ZERO;
            if (e.canMultiConn()) f |= Nbd.TF_CAN_MULTI_CONN;
            return f;
        }

        private void optReply(int opt, int type, ByteBuffer payload) throws IOException {
            ByteBuffer h = ByteBuffer.allocate(20);
            h.putLong(Nbd.REPLY_MAGIC).putInt(opt).putInt(type).putInt(payload.remaining()).flip();
            write(h, payload);
        }

        private void optError(int opt, int type, String msg) throws IOException {
            optReply(opt, type, ByteBuffer.wrap(msg.getBytes(StandardCharsets.UTF_8)));
        }

        private void transmission() throws IOException {
            readDeadline(0, null);   // the handshake is over; an idle connection is never cut
            Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
            try {
                while (true) {
                    // proto.md "Request message": 28 bytes, or 32 with extended headers (64-bit length);
                    // the other form's magic is a protocol violation and ends the connection
                    int magic = readBuffer(4).getInt();
                    readDeadline(limits.progressMs(), "a request header stalled for " + limits.progressMs() + " ms");
                    if (magic != (extended ? Nbd.EXTENDED_REQUEST_MAGIC : Nbd.REQUEST_MAGIC)) {
                        throw new IOException("bad request magic 0x" + Integer.toHexString(magic) + (extended ? " (extended headers negotiated)" : ""));
                    }
                    ByteBuffer r = readBuffer(extended ? 28 : 24);
                    readDeadline(0, null);
                    int flags = Short.toUnsignedInt(r.getShort());
                    int type = Short.toUnsignedInt(r.getShort());
                    long cookie = r.getLong();
                    long offset = r.getLong();
                    long length = extended ? r.getLong() : Integer.toUnsignedLong(r.getInt());
                    if (length < 0) {   // beyond 2^63: nothing is that large
                        error(cookie, offset, Nbd.EOVERFLOW, "length " + Long.toUnsignedString(length) + " is too large");
                        if (type == Nbd.CMD_WRITE) throw new IOException("write with a payload beyond 2^63 bytes: closing the connection");
                        continue;
                    }
                    if (type == Nbd.CMD_DISC) return;
                    if (type == Nbd.CMD_WRITE) {
                        if (length > HARD_MAX_PAYLOAD) {
                            error(cookie, offset, Nbd.EINVAL, "write of " + length + " bytes exceeds the " + HARD_MAX_PAYLOAD + "-byte limit");
                            throw new IOException("oversized write (" + length + " bytes): closing the connection");
                        }
                        receiveWrite(flags, cookie, offset, (int) length, inFlight);
                        continue;
                    }
                    inFlight.acquireUninterruptibly();
                    Thread.ofVirtual().start(() -> {
                        try {
                            handle(flags, type, cookie, offset, length);
                        } catch (IOException e) {
                            closeQuietly();
                        } finally {
                            inFlight.release();
                        }
                    });
                }
            } catch (EOFException e) {
                // client went away without NBD_CMD_DISC
            } finally {
                inFlight.acquireUninterruptibly(MAX_IN_FLIGHT);  // let replies in flight finish
            }
        }

        /**
         * A WRITE's payload, read chunk by chunk into budgeted buffers, each chunk written to the
         * export on its own thread while the next one arrives; the reply goes out when the last
         * chunk is written. A peer that announces a large write and stalls holds one chunk, and
         * only until the progress deadline.
         */
        private void receiveWrite(int flags, long cookie, long offset, int length, Semaphore inFlight) throws IOException {
            NbdExport e = export;
            NbdError refusal = null;
            if (offset < 0 || offset > e.sizeBytes() || length > e.sizeBytes() - offset) {
                refusal = new NbdError(Nbd.EINVAL, "request [" + offset + ", +" + length + ") is outside the export (" + e.sizeBytes() + " bytes)");
            } else if (e.readOnly()) {
                refusal = new NbdError(Nbd.EPERM, "export is read-only");
            }
            boolean fua = (flags & Nbd.CMD_FLAG_FUA) != 0;
            WriteReply reply = new WriteReply(cookie, offset);
            long done = 0;
            do {
                int n = (int) Math.min(limits.chunkBytes(), length - done);
                share.acquireUninterruptibly(n);
                boolean handedOver = false;
                try {
                    byte[] buf = new byte[n];
                    readDeadline(limits.progressMs(), "a WRITE payload stalled (" + n + " bytes not sent within " + limits.progressMs() + " ms)");
                    readFully(ByteBuffer.wrap(buf));
                    readDeadline(0, null);
                    if (refusal == null) {   // a refused write's payload is read and dropped
                        long at = offset + done;
                        reply.pieces.incrementAndGet();
                        inFlight.acquireUninterruptibly();
                        handedOver = true;
                        Thread.ofVirtual().start(() -> {
                            try {
                                e.write(at, buf, n, fua);
                                reply.pieceDone(null);
                            } catch (IOException | RuntimeException x) {
                                reply.pieceDone(x);
                            } finally {
                                share.release(n);
                                inFlight.release();
                            }
                        });
                    }
                } finally {
                    if (!handedOver) share.release(n);
                }
                done += n;
            } while (done < length);
            if (refusal != null) reply.pieceDone(refusal);
            else reply.pieceDone(null);   // the reader's own hold on the reply
        }

        /** The one reply of a chunked WRITE: sent by whoever finishes the last piece, with the first failure. */
        private final class WriteReply {
            final long cookie, offset;
            final java.util.concurrent.atomic.AtomicInteger pieces = new java.util.concurrent.atomic.AtomicInteger(1);
            final java.util.concurrent.atomic.AtomicReference<Exception> failure = new java.util.concurrent.atomic.AtomicReference<>();

            WriteReply(long cookie, long offset) {
                this.cookie = cookie;
                this.offset = offset;
            }

            void pieceDone(Exception x) {
                if (x != null) failure.compareAndSet(null, x);
                if (pieces.decrementAndGet() != 0) return;
                try {
                    Exception f = failure.get();
                    if (f == null) {
                        if (structured) write(chunkHeader(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, cookie, offset, 0));
                        else write(simpleHeader(0, cookie));
                    } else {
                        int errno = f instanceof NbdError n ? n.errno() : f instanceof IOException io ? errnoOf(io) : Nbd.EIO;
                        error(cookie, offset, errno, f.getMessage() == null ? f.toString() : f.getMessage());
                    }
                } catch (IOException io) {
                    closeQuietly();
                }
            }
        }

        /** A simple reply's header went out and its data cannot follow: the only way out is closing the connection. */
        private static final class ReplyBroken extends IOException {
            ReplyBroken(String message, Throwable cause) {
                super(message, cause);
            }
        }

        private void handle(int flags, int type, long cookie, long offset, long length) throws IOException {
            NbdExport e = export;
            try {
                if (type != Nbd.CMD_FLUSH && (offset < 0 || offset > e.sizeBytes() || length > e.sizeBytes() - offset)) {
                    throw new NbdError(Nbd.EINVAL, "request [" + offset + ", +" + length + ") is outside the export (" + e.sizeBytes() + " bytes)");
                }
                boolean writes = type == Nbd.CMD_TRIM || type == Nbd.CMD_WRITE_ZEROES;
                if (writes && e.readOnly()) throw new NbdError(Nbd.EPERM, "export is read-only");
                switch (type) {
                    case Nbd.CMD_READ -> {
                        if (length > Math.min(e.maxPayloadBytes(), HARD_MAX_PAYLOAD)) throw new NbdError(structured ? Nbd.EOVERFLOW : Nbd.EINVAL, "read too large");
                        sendRead(e, cookie, offset, (int) length);
                        return;
                    }
                    case Nbd.CMD_FLUSH -> e.flush();
                    case Nbd.CMD_TRIM -> {
                        e.trim(offset, length);
                        if ((flags & Nbd.CMD_FLAG_FUA) != 0) e.flush();
                    }
                    case Nbd.CMD_WRITE_ZEROES -> {
                        e.writeZeroes(offset, length, (flags & Nbd.CMD_FLAG_NO_HOLE) == 0, (flags & Nbd.CMD_FLAG_FAST_ZERO) != 0);
                        if ((flags & Nbd.CMD_FLAG_FUA) != 0) e.flush();
                    }
                    case Nbd.CMD_CACHE -> { /* advisory; nothing to prefetch */ }
                    case Nbd.CMD_BLOCK_STATUS -> {
                        blockStatus(e, flags, cookie, offset, length);
                        return;
                    }
                    default -> throw new NbdError(Nbd.EINVAL, "unknown command " + type);
                }
                if (structured) write(chunkHeader(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, cookie, offset, 0));
                else write(simpleHeader(0, cookie));
            } catch (ReplyBroken broken) {
                throw broken;
            } catch (NbdError err) {
                error(cookie, offset, err.errno(), err.getMessage());
            } catch (IOException io) {
                error(cookie, offset, errnoOf(io), io.getMessage() == null ? io.toString() : io.getMessage());
            } catch (RuntimeException x) {
                error(cookie, offset, Nbd.EIO, x.toString());
            }
        }

        /**
         * A READ answered in budgeted pieces of at most one chunk: structured replies as one
         * OFFSET_DATA chunk per piece (other replies may go between them); a simple reply holds the
         * write lock from its header to its last byte.
         */
        private void sendRead(NbdExport e, long cookie, long offset, int length) throws IOException {
            int piece = Math.min(limits.chunkBytes(), length);
            share.acquireUninterruptibly(piece);
            try {
                byte[] buf = new byte[piece];
                if (structured) {
                    long done = 0;
                    do {
                        int n = (int) Math.min(piece, length - done);
                        e.read(offset + done, buf, n);
                        boolean last = done + n == length;
                        write(chunkHeader(last ? Nbd.REPLY_FLAG_DONE : 0, Nbd.REPLY_TYPE_OFFSET_DATA, cookie, offset, 8 + n),
                                ByteBuffer.allocate(8).putLong(offset + done).flip(), ByteBuffer.wrap(buf, 0, n));
                        done += n;
                    } while (done < length);
                    return;
                }
                e.read(offset, buf, piece);   // a failure here still fits the simple reply's error field
                wire.lockWrites();
                try {
                    write(simpleHeader(0, cookie), ByteBuffer.wrap(buf, 0, piece));
                    for (long done = piece; done < length; ) {
                        int n = (int) Math.min(piece, length - done);
                        try {
                            e.read(offset + done, buf, n);
                        } catch (IOException | RuntimeException x) {
                            throw new ReplyBroken("READ failed after its simple reply had started: " + x.getMessage(), x);
                        }
                        write(ByteBuffer.wrap(buf, 0, n));
                        done += n;
                    }
                } finally {
                    wire.unlockWrites();
                }
            } finally {
                share.release(piece);
            }
        }

        private void blockStatus(NbdExport e, int flags, long cookie, long offset, long length) throws IOException {
            if (!structured || contexts.isEmpty()) throw new NbdError(Nbd.EINVAL, "BLOCK_STATUS needs structured replies and a meta context");
            if (length == 0) throw new NbdError(Nbd.EINVAL, "BLOCK_STATUS of zero length");
            int i = 0;
            for (Map.Entry<Integer, String> c : contexts.entrySet()) {
                List<NbdExport.Extent> ext = e.blockStatus(c.getValue(), offset, length);
                int n = (flags & Nbd.CMD_FLAG_REQ_ONE) != 0 ? 1 : Math.min(ext.size(), MAX_EXTENTS_PER_CHUNK);
                ByteBuffer p;
                if (extended) {
                    // NBD_REPLY_TYPE_BLOCK_STATUS_EXT: context id, descriptor count, then {64-bit length, 64-bit status}
                    p = ByteBuffer.allocate(8 + 16 * n).putInt(c.getKey()).putInt(n);
                    for (int k = 0; k < n; k++) {
                        long len = ext.get(k).lengthBytes();
                        if ((flags & Nbd.CMD_FLAG_REQ_ONE) != 0) len = Math.min(len, length);
                        p.putLong(len).putLong(Integer.toUnsignedLong(ext.get(k).flags()));
                    }
                } else {
                    // NBD_REPLY_TYPE_BLOCK_STATUS: context id, then {32-bit length, 32-bit status}
                    p = ByteBuffer.allocate(4 + 8 * n).putInt(c.getKey());
                    for (int k = 0; k < n; k++) {
                        long len = ext.get(k).lengthBytes();
                        if ((flags & Nbd.CMD_FLAG_REQ_ONE) != 0) len = Math.min(len, length);
                        long capped = Math.min(len, 0xffffffffL & ~0xfffL);
                        p.putInt((int) capped).putInt(ext.get(k).flags());
                        if (capped < len) break;   // a split extent ends the reply: later ones would start at the wrong offset
                    }
                    p.limit(p.position());
                    p = ByteBuffer.allocate(p.limit()).put(p.flip());
                }
                boolean last = ++i == contexts.size();
                write(chunkHeader(last ? Nbd.REPLY_FLAG_DONE : 0, extended ? Nbd.REPLY_TYPE_BLOCK_STATUS_EXT : Nbd.REPLY_TYPE_BLOCK_STATUS,
                        cookie, offset, p.capacity()), p.flip());
            }
        }

        private void error(long cookie, long offset, int errno, String msg) throws IOException {
            if (structured) {
                byte[] m = msg.getBytes(StandardCharsets.UTF_8);
                if (m.length > 4096) m = java.util.Arrays.copyOf(m, 4096);
                ByteBuffer p = ByteBuffer.allocate(6 + m.length).putInt(errno).putShort((short) m.length).put(m);
                write(chunkHeader(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_ERROR, cookie, offset, p.capacity()), p.flip());
            } else {
                write(simpleHeader(errno, cookie));
            }
        }

        private static int errnoOf(IOException e) {
            return OutOfSpace.is(e) ? Nbd.ENOSPC : Nbd.EIO;
        }

        /** A structured reply chunk header, or with extended headers the 32-byte extended one (it repeats the request's offset). */
        private ByteBuffer chunkHeader(int flags, int type, long cookie, long offset, int length) {
            if (extended) {
                return ByteBuffer.allocate(32).putInt(Nbd.EXTENDED_REPLY_MAGIC).putShort((short) flags).putShort((short) type)
                        .putLong(cookie).putLong(offset).putLong(Integer.toUnsignedLong(length)).flip();
            }
            return ByteBuffer.allocate(20).putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) flags).putShort((short) type)
                    .putLong(cookie).putInt(length).flip();
        }

        private ByteBuffer simpleHeader(int error, long cookie) {
            return ByteBuffer.allocate(16).putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie).flip();
        }

        /** One whole message; the peer must take it within the progress deadline. */
        private void write(ByteBuffer... bufs) throws IOException {
            Wire w = wire;
            w.lockWrites();
            try {
                writeDeadlineNanos = Math.max(1, System.nanoTime() + limits.progressMs() * 1_000_000L);
                w.write(bufs);
            } finally {
                writeDeadlineNanos = 0;
                w.unlockWrites();
            }
        }

        private ByteBuffer readBuffer(int n) throws IOException {
            ByteBuffer b = ByteBuffer.allocate(n);
            readFully(b);
            return b.flip();
        }

        private void readFully(ByteBuffer b) throws IOException {
            wire.readFully(b, "client closed the connection");
        }

        private void closeQuietly() {
            try {
                wire.close();
            } catch (IOException ignored) {
                // already closed
            }
        }
    }
}
