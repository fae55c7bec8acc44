package dev.nvmelm.nbd;

import dev.nvmelm.block.OutOfSpace;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * One client connection of an {@link NbdServer}: the handshake (options, STARTTLS), then
 * transmission. Every message goes through {@link NbdCodec}; this class decides what to answer.
 */
final class NbdConnection implements Watchdog.Guarded {
    private static final int MAX_OPTION_BYTES = 64 << 10;
    private static final int MAX_EXTENTS_PER_CHUNK = 1 << 16;

    private volatile Wire wire;
    /** The accepted transport under any TLS layer: closing it wakes every blocked reader and writer. */
    private final Wire raw;
    private final SSLContext tls;

    private final NbdExportCatalog exports;
    private final NbdLimits limits;
    private final MemoryBudget.Share share;
    private volatile long readDeadlineNanos, writeDeadlineNanos;
    private volatile String readStep;
    private boolean tlsActive;
    private boolean noZeroes;
    private boolean structured;
    /** NBD_OPT_EXTENDED_HEADERS negotiated: 32-byte requests, extended reply chunks only (implies structured). */
    private boolean extended;
    private final Map<Integer, String> contexts = new LinkedHashMap<>();
    private NbdExport export;

    NbdConnection(Wire wire, SSLContext tls, NbdExportCatalog exports, NbdLimits limits, MemoryBudget budget) {
        this.wire = wire;
        this.exports = exports;
        this.limits = limits;
        this.share = budget.share(limits.perConnectionBytes());
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
        write(NbdCodec.serverHello(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES));
        int clientFlags = NbdCodec.decodeClientFlags(readBuffer(NbdCodec.CLIENT_FLAGS_BYTES));
        noZeroes = (clientFlags & Nbd.FLAG_C_NO_ZEROES) != 0;
        if (negotiate()) transmission();
    }

    /** Option haggling; returns true when transmission starts. */
    private boolean negotiate() throws IOException {
        while (true) {
            NbdCodec.OptionHeader h = NbdCodec.decodeOptionHeader(readBuffer(NbdCodec.OPTION_HEADER_BYTES), MAX_OPTION_BYTES);
            int opt = h.option(), len = h.length();
            ByteBuffer data = readBuffer(len);
            if (tls != null && !tlsActive && opt != Nbd.OPT_STARTTLS && opt != Nbd.OPT_ABORT) {
                // TLS-only: EXPORT_NAME has no error reply, so the only refusal is hanging up
                if (opt == Nbd.OPT_EXPORT_NAME) throw new IOException("NBD_OPT_EXPORT_NAME before STARTTLS on a TLS-only listener");
                optError(opt, Nbd.REP_ERR_TLS_REQD, "TLS is required: send NBD_OPT_STARTTLS first");
                continue;
            }
            switch (opt) {
                case Nbd.OPT_EXPORT_NAME -> {
                    String name = NbdCodec.text(data);
                    try {
                        export = exports.find(name);
                    } catch (NbdExportCatalog.Refused e) {
                        throw new IOException(e.getMessage());   // EXPORT_NAME has no error reply: hang up
                    }
                    write(NbdCodec.exportNameReply(export.sizeBytes(), transmissionFlags(export), noZeroes));
                    return true;
                }
                case Nbd.OPT_ABORT -> {
                    ack(opt);
                    return false;
                }
                case Nbd.OPT_LIST -> {
                    if (len != 0) { optError(opt, Nbd.REP_ERR_INVALID, "LIST takes no data"); continue; }
                    for (String n : exports.names()) optReply(opt, Nbd.REP_SERVER, NbdCodec.serverReply(n));
                    ack(opt);
                }
                case Nbd.OPT_INFO, Nbd.OPT_GO -> {
                    if (infoOrGo(opt, data) && opt == Nbd.OPT_GO) return true;
                }
                case Nbd.OPT_STRUCTURED_REPLY -> {
                    if (len != 0) { optError(opt, Nbd.REP_ERR_INVALID, "STRUCTURED_REPLY takes no data"); continue; }
                    if (extended) { optError(opt, Nbd.REP_ERR_EXT_HEADER_REQD, "extended headers are already negotiated"); continue; }
                    structured = true;
                    ack(opt);
                }
                case Nbd.OPT_EXTENDED_HEADERS -> {
                    if (len != 0) { optError(opt, Nbd.REP_ERR_INVALID, "EXTENDED_HEADERS takes no data"); continue; }
                    if (extended) { optError(opt, Nbd.REP_ERR_INVALID, "extended headers are already negotiated"); continue; }
                    extended = true;
                    structured = true;
                    ack(opt);
                }
                case Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT -> metaContext(opt, data);
                case Nbd.OPT_STARTTLS -> {
                    if (tls == null) optError(opt, Nbd.REP_ERR_POLICY, "TLS is not configured on this listener");
                    else if (tlsActive) optError(opt, Nbd.REP_ERR_INVALID, "TLS is already active");
                    else if (len != 0) optError(opt, Nbd.REP_ERR_INVALID, "STARTTLS takes no data");
                    else {
                        ack(opt);
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
        NbdCodec.InfoRequest r;
        try {
            r = NbdCodec.decodeInfoRequest(data);
        } catch (NbdProtocolException bad) {
            optError(opt, Nbd.REP_ERR_INVALID, bad.getMessage());
            return false;
        }
        NbdExport e = exportNamed(opt, r.exportName());
        if (e == null) return false;
        info(opt, new NbdCodec.ExportInfo(e.sizeBytes(), transmissionFlags(e)));
        if (r.infos().contains(Nbd.INFO_NAME)) info(opt, new NbdCodec.NameInfo(e.name()));
        if (r.infos().contains(Nbd.INFO_DESCRIPTION)) info(opt, new NbdCodec.DescriptionInfo(e.description()));
        info(opt, new NbdCodec.BlockSizeInfo(e.minBlockBytes(), e.preferredBlockBytes(), Math.min(e.maxPayloadBytes(), NbdServer.HARD_MAX_PAYLOAD)));
        ack(opt);
        if (opt == Nbd.OPT_GO) export = e;
        return true;
    }

    private void info(int opt, NbdCodec.Info info) throws IOException {
        optReply(opt, Nbd.REP_INFO, NbdCodec.info(info));
    }

    /** The export of that name (the catalog decides what the empty name means), or null with the refusal sent. */
    private NbdExport exportNamed(int opt, String name) throws IOException {
        try {
            return exports.find(name);
        } catch (NbdExportCatalog.Refused r) {
            optError(opt, Nbd.REP_ERR_UNKNOWN, r.getMessage());
            return null;
        }
    }

    private void metaContext(int opt, ByteBuffer data) throws IOException {
        if (opt == Nbd.OPT_SET_META_CONTEXT && !structured) {
            optError(opt, Nbd.REP_ERR_INVALID, "SET_META_CONTEXT needs structured replies");
            return;
        }
        NbdCodec.MetaContextRequest r;
        try {
            r = NbdCodec.decodeMetaContextRequest(data);
        } catch (NbdProtocolException bad) {
            optError(opt, Nbd.REP_ERR_INVALID, bad.getMessage());
            return;
        }
        NbdExport e = exportNamed(opt, r.exportName());
        if (e == null) return;
        List<String> queries = r.queries();
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
            optReply(opt, Nbd.REP_META_CONTEXT, NbdCodec.metaContext(new NbdCodec.MetaContext(id, c)));
        }
        ack(opt);
    }

    private int transmissionFlags(NbdExport e) {
        int f = Nbd.TF_HAS_FLAGS | Nbd.TF_SEND_FLUSH | Nbd.TF_SEND_FUA | Nbd.TF_SEND_CACHE | Nbd.TF_SEND_DF;
        if (e.readOnly()) f |= Nbd.TF_READ_ONLY;
        else f |= Nbd.TF_SEND_TRIM | Nbd.TF_SEND_WRITE_ZEROES | Nbd.TF_SEND_FAST_ZERO;
        if (e.canMultiConn()) f |= Nbd.TF_CAN_MULTI_CONN;
        return f;
    }

    private void optReply(int opt, int type, ByteBuffer payload) throws IOException {
        write(NbdCodec.optionReplyHeader(opt, type, payload.remaining()), payload);
    }

    private void ack(int opt) throws IOException {
        optReply(opt, Nbd.REP_ACK, ByteBuffer.allocate(0));
    }

    private void optError(int opt, int type, String msg) throws IOException {
        optReply(opt, type, ByteBuffer.wrap(msg.getBytes(StandardCharsets.UTF_8)));
    }

    private void transmission() throws IOException {
        readDeadline(0, null);   // the handshake is over; an idle connection is never cut
        Semaphore inFlight = new Semaphore(NbdServer.MAX_IN_FLIGHT);
        try {
            while (true) {
                // proto.md "Request message": 28 bytes, or 32 with extended headers (64-bit length);
                // the other form's magic is a protocol violation and ends the connection
                int magic = readBuffer(4).getInt();
                readDeadline(limits.progressMs(), "a request header stalled for " + limits.progressMs() + " ms");
                NbdCodec.Request r = NbdCodec.decodeRequest(magic, readBuffer(NbdCodec.requestRestBytes(magic, extended)), extended);
                readDeadline(0, null);
                int flags = r.flags(), type = r.type();
                long cookie = r.cookie(), offset = r.offset(), length = r.length();
                if (length < 0) {   // beyond 2^63: nothing is that large
                    error(cookie, offset, Nbd.EOVERFLOW, "length " + Long.toUnsignedString(length) + " is too large");
                    if (type == Nbd.CMD_WRITE) throw new IOException("write with a payload beyond 2^63 bytes: closing the connection");
                    continue;
                }
                if (type == Nbd.CMD_DISC) return;
                if (type == Nbd.CMD_WRITE) {
                    if (length > NbdServer.HARD_MAX_PAYLOAD) {
                        error(cookie, offset, Nbd.EINVAL, "write of " + length + " bytes exceeds the " + NbdServer.HARD_MAX_PAYLOAD + "-byte limit");
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
            inFlight.acquireUninterruptibly(NbdServer.MAX_IN_FLIGHT);  // let replies in flight finish
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
        final AtomicInteger pieces = new AtomicInteger(1);
        final AtomicReference<Exception> failure = new AtomicReference<>();

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
                    else write(NbdCodec.simpleReply(0, cookie));
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
                    if (length > Math.min(e.maxPayloadBytes(), NbdServer.HARD_MAX_PAYLOAD)) throw new NbdError(structured ? Nbd.EOVERFLOW : Nbd.EINVAL, "read too large");
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
            else write(NbdCodec.simpleReply(0, cookie));
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
                            NbdCodec.offsetDataPrefix(offset + done), ByteBuffer.wrap(buf, 0, n));
                    done += n;
                } while (done < length);
                return;
            }
            e.read(offset, buf, piece);   // a failure here still fits the simple reply's error field
            wire.lockWrites();
            try {
                write(NbdCodec.simpleReply(0, cookie), ByteBuffer.wrap(buf, 0, piece));
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
            if ((flags & Nbd.CMD_FLAG_REQ_ONE) != 0) {
                ext = List.of(new NbdExport.Extent(Math.min(ext.getFirst().lengthBytes(), length), ext.getFirst().flags()));
            } else if (ext.size() > MAX_EXTENTS_PER_CHUNK) {
                ext = ext.subList(0, MAX_EXTENTS_PER_CHUNK);
            }
            ByteBuffer p = NbdCodec.blockStatus(new NbdCodec.BlockStatus(c.getKey(), ext), extended);
            boolean last = ++i == contexts.size();
            write(chunkHeader(last ? Nbd.REPLY_FLAG_DONE : 0, extended ? Nbd.REPLY_TYPE_BLOCK_STATUS_EXT : Nbd.REPLY_TYPE_BLOCK_STATUS,
                    cookie, offset, p.remaining()), p);
        }
    }

    private void error(long cookie, long offset, int errno, String msg) throws IOException {
        if (structured) {
            ByteBuffer p = NbdCodec.errorPayload(errno, msg);
            write(chunkHeader(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_ERROR, cookie, offset, p.remaining()), p);
        } else {
            write(NbdCodec.simpleReply(errno, cookie));
        }
    }

    private static int errnoOf(IOException e) {
        return OutOfSpace.is(e) ? Nbd.ENOSPC : Nbd.EIO;
    }

    private ByteBuffer chunkHeader(int flags, int type, long cookie, long offset, int length) {
        return NbdCodec.chunkHeader(flags, type, cookie, offset, length, extended);
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

    void closeQuietly() {
        try {
            wire.close();
        } catch (IOException ignored) {
            // already closed
        }
    }
}
