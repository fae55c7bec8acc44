package dev.nvmelm.nbd;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * An NBD client: fixed newstyle, NBD_OPT_STARTTLS (nbds://), structured replies, base:allocation
 * and optionally one more metadata context (a dirty map: nvme-lm:dirty, qemu:dirty-bitmap:NAME),
 * many requests in flight (completed out of order by cookie). Used by the migration engine to
 * read from and write to NBD exports (qemu-nbd, qemu-storage-daemon, nbdkit, or our own server).
 */
public final class NbdClient implements AutoCloseable {
    private Wire wire;
    private final String name;
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicLong cookies = new AtomicLong(1);
    private final Thread reader;
    private long sizeBytes;
    private int flags;
    private int minBlock = 1, preferredBlock = 4096, maxPayload = 32 << 20;
    private boolean structured;
    /** NBD_OPT_EXTENDED_HEADERS accepted: 32-byte requests with 64-bit lengths, extended reply chunks. */
    private boolean extended;
    private int allocationContextId = -1;
    /** Context ids the server assigned (NBD_REP_META_CONTEXT), by id. */
    private final Map<Integer, String> contexts = new ConcurrentHashMap<>();
    private final List<String> offered = new ArrayList<>();
    private volatile IOException broken;

    /**
     * How to connect: {@code listQueries} are sent with NBD_OPT_LIST_META_CONTEXT first, and
     * {@code choose} picks from the offered names the contexts to set besides base:allocation;
     * {@code tls} (with the client's certificate) is required for nbds:// URIs.
     */
    public record Options(List<String> listQueries, UnaryOperator<List<String>> choose, SSLContext tls, boolean extendedHeaders) {
        public static final Options PLAIN = new Options(List.of(), l -> List.of(), null);

        /** Extended headers are asked for by default; servers without them answer NBD_REP_ERR_UNSUP. */
        public Options(List<String> listQueries, UnaryOperator<List<String>> choose, SSLContext tls) {
            this(listQueries, choose, tls, true);
        }

        public Options withTls(SSLContext ctx) {
            return new Options(listQueries, choose, ctx, extendedHeaders);
        }

        public Options withExtendedHeaders(boolean ask) {
            return new Options(listQueries, choose, tls, ask);
        }
    }

    private static final class Pending {
        final CompletableFuture<Object> future = new CompletableFuture<>();
        final long offset;
        final byte[] readBuffer;
        final Map<Integer, List<NbdExport.Extent>> extents = new ConcurrentHashMap<>();
        NbdError error;

        Pending(long offset, byte[] readBuffer) {
            this.offset = offset;
            this.readBuffer = readBuffer;
        }
    }

    private static final ByteBuffer NO_DATA = ByteBuffer.allocate(0);

    private NbdClient(Wire wire, String name) {
        this.wire = wire;
        this.name = name;
        this.reader = Thread.ofVirtual().name("nbd-client-reader").unstarted(this::readLoop);
    }

    public static NbdClient connect(NbdUri uri) throws IOException {
        return connect(uri, Options.PLAIN);
    }

    public static NbdClient connect(NbdUri uri, Options options) throws IOException {
        if (uri.tls() && options.tls() == null) {
            throw new IOException(uri.text() + ": nbds:// needs TLS material (--tls-cert, --tls-key, --tls-ca)");
        }
        if (!uri.tls() && options.tls() != null) {
            throw new IOException(uri.text() + ": TLS options given for a plaintext URI; use nbds://");
        }
        if (uri.tls() && uri.address() instanceof UnixDomainSocketAddress) {
            throw new IOException(uri.text() + ": TLS over a Unix socket is not supported; use nbds://HOST:PORT/EXPORT");
        }
        Wire w;
        if (uri.address() instanceof UnixDomainSocketAddress) {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(uri.address());
            } catch (IOException e) {
                ch.close();
                throw new IOException(uri.text() + ": cannot connect: " + e.getMessage(), e);
            }
            w = new Wire.Channel(ch);
        } else {
            Socket s = new Socket();
            try {
                s.setTcpNoDelay(true);
                s.connect(uri.address(), 10_000);
                w = new Wire.Stream(s);
            } catch (IOException e) {
                s.close();
                throw new IOException(uri.text() + ": cannot connect: " + e.getMessage(), e);
            }
        }
        NbdClient c = new NbdClient(w, uri.text());
        try {
            c.handshake(uri, options);
        } catch (IOException e) {
            c.wire.close();
            throw new IOException(uri.text() + ": NBD handshake failed: " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            c.wire.close();
            throw new IOException(uri.text() + ": " + e.getMessage(), e);
        }
        c.reader.start();
        return c;
    }

    public long sizeBytes() { return sizeBytes; }

    public int preferredBlockBytes() { return preferredBlock; }

    public int minBlockBytes() { return minBlock; }

    public int maxPayloadBytes() { return maxPayload; }

    public boolean readOnly() { return (flags & Nbd.TF_READ_ONLY) != 0; }

    public boolean canFastZero() { return (flags & Nbd.TF_SEND_FAST_ZERO) != 0; }

    public boolean canZero() { return (flags & Nbd.TF_SEND_WRITE_ZEROES) != 0; }

    public boolean canTrim() { return (flags & Nbd.TF_SEND_TRIM) != 0; }

    public boolean canFlush() { return (flags & Nbd.TF_SEND_FLUSH) != 0; }

    public boolean hasAllocationMap() { return allocationContextId >= 0; }

    public boolean extendedHeaders() { return extended; }

    /** Contexts the server answered NBD_OPT_LIST_META_CONTEXT with (empty without list queries). */
    public List<String> offeredContexts() { return List.copyOf(offered); }

    /** True when the server accepted this context in NBD_OPT_SET_META_CONTEXT. */
    public boolean hasContext(String context) { return contexts.containsValue(context); }

    private void handshake(NbdUri uri, Options options) throws IOException {
        String export = uri.exportName();
        int sflags = NbdCodec.decodeServerHello(read(NbdCodec.SERVER_HELLO_BYTES));
        boolean noZeroes = (sflags & Nbd.FLAG_NO_ZEROES) != 0;
        write(NbdCodec.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | (noZeroes ? Nbd.FLAG_C_NO_ZEROES : 0)));
        if (options.tls() != null) startTls(uri, options.tls());

        if (options.extendedHeaders()) {
            sendOption(Nbd.OPT_EXTENDED_HEADERS, NO_DATA);
            extended = readOptionReplies(Nbd.OPT_EXTENDED_HEADERS, null);
        }
        if (extended) {
            structured = true;   // extended headers imply structured replies; asking again would be refused
        } else {
            sendOption(Nbd.OPT_STRUCTURED_REPLY, NO_DATA);
            structured = readOptionReplies(Nbd.OPT_STRUCTURED_REPLY, null);
        }
        if (structured) {
            if (!options.listQueries().isEmpty()) {
                sendOption(Nbd.OPT_LIST_META_CONTEXT, NbdCodec.metaContextRequest(new NbdCodec.MetaContextRequest(export, options.listQueries())));
                readOptionReplies(Nbd.OPT_LIST_META_CONTEXT, null);
            }
            List<String> want = new ArrayList<>();
            want.add(Nbd.BASE_ALLOCATION);
            for (String c : options.choose().apply(List.copyOf(offered))) if (!want.contains(c)) want.add(c);
            sendOption(Nbd.OPT_SET_META_CONTEXT, NbdCodec.metaContextRequest(new NbdCodec.MetaContextRequest(export, want)));
            readOptionReplies(Nbd.OPT_SET_META_CONTEXT, null);
        }
        sendOption(Nbd.OPT_GO, NbdCodec.infoRequest(new NbdCodec.InfoRequest(export, List.of(Nbd.INFO_BLOCK_SIZE))));
        if (!readOptionReplies(Nbd.OPT_GO, export)) throw new IOException("server refused export '" + export + "'");
    }

    /** NBD_OPT_STARTTLS (proto.md "TLS support"): ACK, then TLS 1.3 on the same TCP stream, then the options again. */
    private void startTls(NbdUri uri, SSLContext ctx) throws IOException {
        sendOption(Nbd.OPT_STARTTLS, NO_DATA);
        NbdCodec.OptionReplyHeader h = NbdCodec.decodeOptionReplyHeader(read(NbdCodec.OPTION_REPLY_HEADER_BYTES), 1 << 16);
        if (h.option() != Nbd.OPT_STARTTLS) throw new NbdProtocolException("bad reply to STARTTLS");
        int type = h.type();
        String msg = NbdCodec.text(read(h.length()));
        if (type != Nbd.REP_ACK) throw new IOException("server refused STARTTLS" + (msg.isEmpty() ? " (0x" + Integer.toHexString(type) + ")" : ": " + msg));
        Socket plain = ((Wire.Stream) wire).socket;
        InetSocketAddress a = (InetSocketAddress) uri.address();
        SSLSocket tls = (SSLSocket) ctx.getSocketFactory().createSocket(plain, a.getHostString(), a.getPort(), true);
        tls.setUseClientMode(true);
        tls.setSSLParameters(Wire.tlsParameters(ctx, false));
        try {
            tls.startHandshake();
        } catch (IOException e) {
            throw new IOException("TLS handshake: " + e.getMessage(), e);
        }
        wire = new Wire.Stream(tls);
    }

    private void sendOption(int opt, ByteBuffer data) throws IOException {
        write(NbdCodec.optionHeader(opt, data.remaining()), data);
    }

    /** Reads replies to one option until ACK (true) or an error reply (false, or throws for GO). */
    private boolean readOptionReplies(int opt, String export) throws IOException {
        while (true) {
            NbdCodec.OptionReplyHeader h = NbdCodec.decodeOptionReplyHeader(read(NbdCodec.OPTION_REPLY_HEADER_BYTES), 1 << 20);
            if (h.option() != opt) throw new NbdProtocolException("reply to option " + h.option() + " while waiting for " + opt);
            ByteBuffer d = read(h.length());
            if (h.type() == Nbd.REP_ACK) return true;
            if (h.isError()) {
                String msg = NbdCodec.text(d);
                if (opt == Nbd.OPT_GO) throw new IOException("export '" + export + "': " + (msg.isEmpty() ? "error 0x" + Integer.toHexString(h.type()) : msg));
                return false;
            }
            if (h.type() == Nbd.REP_META_CONTEXT) {
                NbdCodec.MetaContext c = NbdCodec.decodeMetaContext(d);
                if (opt == Nbd.OPT_LIST_META_CONTEXT) {
                    offered.add(c.name());
                } else {
                    contexts.put(c.id(), c.name());
                    if (Nbd.BASE_ALLOCATION.equals(c.name())) allocationContextId = c.id();
                }
            } else if (h.type() == Nbd.REP_INFO) {
                switch (NbdCodec.decodeInfo(d)) {
                    case NbdCodec.ExportInfo e -> {
                        sizeBytes = e.sizeBytes();
                        flags = e.transmissionFlags();
                    }
                    case NbdCodec.BlockSizeInfo b -> {
                        minBlock = b.minimumBytes();
                        preferredBlock = b.preferredBytes();
                        maxPayload = Math.min(b.maximumPayloadBytes(), 32 << 20);
                    }
                    default -> { /* name, description, unknown: nothing to keep */ }
                }
            }
        }
    }

    // ---- transmission ----

    public CompletableFuture<Void> read(long offset, byte[] dst) {
        return submit(Nbd.CMD_READ, 0, offset, dst.length, null, new Pending(offset, dst)).thenApply(x -> null);
    }

    public CompletableFuture<Void> write(long offset, byte[] src, boolean fua) {
        return submit(Nbd.CMD_WRITE, fua ? Nbd.CMD_FLAG_FUA : 0, offset, src.length, src, new Pending(offset, null)).thenApply(x -> null);
    }

    /** WRITE_ZEROES; {@code allocate} sends NO_HOLE, {@code fastOnly} sends FAST_ZERO (fails with ENOTSUP if slow). */
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean allocate, boolean fastOnly) {
        int f = (allocate ? Nbd.CMD_FLAG_NO_HOLE : 0) | (fastOnly ? Nbd.CMD_FLAG_FAST_ZERO : 0);
        return submit(Nbd.CMD_WRITE_ZEROES, f, offset, length, null, new Pending(offset, null)).thenApply(x -> null);
    }

    public CompletableFuture<Void> trim(long offset, long length) {
        return submit(Nbd.CMD_TRIM, 0, offset, length, null, new Pending(offset, null)).thenApply(x -> null);
    }

    public CompletableFuture<Void> flush() {
        return submit(Nbd.CMD_FLUSH, 0, 0, 0, null, new Pending(0, null)).thenApply(x -> null);
    }

    /** base:allocation extents from offset (flags: HOLE 1, ZERO 2); the server may cover less than asked. */
    public CompletableFuture<List<NbdExport.Extent>> blockStatus(long offset, long length) {
        return blockStatus(Nbd.BASE_ALLOCATION, offset, length);
    }

    /**
     * Extents of one negotiated context from offset (a dirty map: flag bit 0 = dirty); the server
     * answers every negotiated context and may cover less than asked.
     */
    @SuppressWarnings("unchecked")
    public CompletableFuture<List<NbdExport.Extent>> blockStatus(String context, long offset, long length) {
        Integer id = contexts.entrySet().stream().filter(e -> e.getValue().equals(context)).map(Map.Entry::getKey).findFirst().orElse(null);
        if (id == null) return CompletableFuture.failedFuture(new IOException(name + ": server offers no " + context));
        return submit(Nbd.CMD_BLOCK_STATUS, 0, offset, extended ? length : Math.min(length, 0xffffffffL & ~0xfffL), null, new Pending(offset, null))
                .thenApply(x -> ((Map<Integer, List<NbdExport.Extent>>) x).getOrDefault(id, List.of()));
    }

    private CompletableFuture<Object> submit(int type, int cflags, long offset, long length, byte[] payload, Pending p) {
        if (broken != null) return CompletableFuture.failedFuture(broken);
        if (!extended && length > 0xffffffffL) {
            return CompletableFuture.failedFuture(new IOException("request length " + length + " exceeds 32 bits (the server has no extended headers)"));
        }
        long cookie = cookies.getAndIncrement();
        pending.put(cookie, p);
        // the reader may have failed the connection between the check above and the put, after
        // fail() had emptied pending: fail this request here, or it waits forever
        if (broken != null && pending.remove(cookie) != null) return CompletableFuture.failedFuture(broken);
        ByteBuffer h = NbdCodec.request(new NbdCodec.Request(cflags, type, cookie, offset, length), extended);
        try {
            if (payload != null) write(h, ByteBuffer.wrap(payload));
            else write(h);
        } catch (IOException e) {
            pending.remove(cookie);
            fail(e);
            return CompletableFuture.failedFuture(e);
        }
        return p.future;
    }

    private void readLoop() {
        try {
            while (true) {
                int magic = read(4).getInt();
                switch (NbdCodec.decodeReplyHeader(magic, read(NbdCodec.replyHeaderRestBytes(magic, extended)))) {
                    case NbdCodec.SimpleReply r -> {
                        Pending p = pending.remove(r.cookie());
                        if (p == null) throw new NbdProtocolException("reply for unknown cookie " + r.cookie());
                        if (r.error() != 0) {
                            p.future.completeExceptionally(new NbdError(r.error(), name + ": server error " + r.error()));
                        } else {
                            if (p.readBuffer != null) readInto(ByteBuffer.wrap(p.readBuffer));
                            p.future.complete(null);
                        }
                    }
                    case NbdCodec.Chunk c -> {
                        Pending p = pending.get(c.cookie());
                        if (p == null) throw new NbdProtocolException("chunk for unknown cookie " + c.cookie());
                        chunk(p, c.type(), c.length());
                        if (c.done()) {
                            pending.remove(c.cookie());
                            if (p.error != null) p.future.completeExceptionally(p.error);
                            else p.future.complete(p.readBuffer == null ? p.extents : null);
                        }
                    }
                }
            }
        } catch (IOException e) {
            fail(e);
        } catch (RuntimeException e) {   // a malformed reply must fail the requests, not leave them waiting forever
            fail(new IOException("malformed reply: " + e, e));
        }
    }

    private void chunk(Pending p, int type, int len) throws IOException {
        // a hostile or broken server must not make us allocate without bound
        if (type != Nbd.REPLY_TYPE_OFFSET_DATA && len > 16 << 20) throw new NbdProtocolException("chunk of " + len + " bytes");
        switch (type) {
            case Nbd.REPLY_TYPE_NONE -> { if (len != 0) throw new NbdProtocolException("NONE chunk with payload"); }
            case Nbd.REPLY_TYPE_OFFSET_DATA -> {
                if (len < NbdCodec.OFFSET_DATA_PREFIX_BYTES) throw new NbdProtocolException("OFFSET_DATA chunk of " + len + " bytes");
                long off = NbdCodec.decodeOffsetDataPrefix(read(NbdCodec.OFFSET_DATA_PREFIX_BYTES));
                int n = len - NbdCodec.OFFSET_DATA_PREFIX_BYTES;
                long at = off - p.offset;
                if (p.readBuffer == null || at < 0 || at + n > p.readBuffer.length) throw new NbdProtocolException("OFFSET_DATA outside the request");
                readInto(ByteBuffer.wrap(p.readBuffer, (int) at, n));
            }
            case Nbd.REPLY_TYPE_OFFSET_HOLE -> {
                if (len != NbdCodec.OFFSET_HOLE_BYTES) throw new NbdProtocolException("OFFSET_HOLE chunk of " + len + " bytes");
                NbdCodec.Hole h = NbdCodec.decodeHole(read(len));
                long at = h.offset() - p.offset;
                if (p.readBuffer == null || at < 0 || at + h.length() > p.readBuffer.length) throw new NbdProtocolException("OFFSET_HOLE outside the request");
                java.util.Arrays.fill(p.readBuffer, (int) at, (int) at + h.length(), (byte) 0);
            }
            case Nbd.REPLY_TYPE_BLOCK_STATUS, Nbd.REPLY_TYPE_BLOCK_STATUS_EXT -> {
                boolean ext = type == Nbd.REPLY_TYPE_BLOCK_STATUS_EXT;
                if (ext && !extended) throw new NbdProtocolException("BLOCK_STATUS_EXT chunk without extended headers");
                NbdCodec.BlockStatus s = NbdCodec.decodeBlockStatus(read(len), ext);
                p.extents.computeIfAbsent(s.contextId(), k -> new ArrayList<>()).addAll(s.extents());
            }
            case Nbd.REPLY_TYPE_ERROR, Nbd.REPLY_TYPE_ERROR_OFFSET -> {
                NbdCodec.ErrorChunk e = NbdCodec.decodeError(read(len));
                p.error = new NbdError(e.errno(), name + ": " + (e.message().isEmpty() ? "server error " + e.errno() : e.message()));
            }
            default -> read(len);  // unknown chunk types are skipped
        }
    }

    private void fail(IOException e) {
        if (broken == null) broken = new IOException(name + ": connection lost: " + e.getMessage(), e);
        for (Long k : pending.keySet()) {
            Pending p = pending.remove(k);
            if (p != null) p.future.completeExceptionally(broken);
        }
    }

    /** Waits for a future, unwrapping NBD errors. */
    public static <T> T await(CompletableFuture<T> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) throw io;
            throw new IOException(e.getCause());
        }
    }

    private void write(ByteBuffer... bufs) throws IOException {
        wire.write(bufs);
    }

    private ByteBuffer read(int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        readInto(b);
        return b.flip();
    }

    private void readInto(ByteBuffer b) throws IOException {
        wire.readFully(b, "server closed the connection");
    }

    @Override
    public void close() throws IOException {
        try {
            if (broken == null) {
                write(NbdCodec.request(new NbdCodec.Request(0, Nbd.CMD_DISC, 0, 0, 0), extended));
            }
        } catch (IOException ignored) {
            // closing anyway
        } finally {
            wire.close();
            reader.interrupt();
        }
    }
}
