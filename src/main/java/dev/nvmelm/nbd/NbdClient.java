package dev.nvmelm.nbd;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
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
        ByteBuffer h = read(18);
        if (h.getLong() != Nbd.NBDMAGIC) throw new IOException("not an NBD server");
        if (h.getLong() != Nbd.IHAVEOPT) throw new IOException("server speaks oldstyle NBD, which is not supported");
        int sflags = Short.toUnsignedInt(h.getShort());
        if ((sflags & Nbd.FLAG_FIXED_NEWSTYLE) == 0) throw new IOException("server lacks fixed newstyle negotiation");
        boolean noZeroes = (sflags & Nbd.FLAG_NO_ZEROES) != 0;
        write(ByteBuffer.allocate(4).putInt(Nbd.FLAG_C_FIXED_NEWSTYLE | (noZeroes ? Nbd.FLAG_C_NO_ZEROES : 0)).flip());
        if (options.tls() != null) startTls(uri, options.tls());

        if (options.extendedHeaders()) {
            sendOption(Nbd.OPT_EXTENDED_HEADERS, ByteBuffer.allocate(0));
            extended = readOptionReplies(Nbd.OPT_EXTENDED_HEADERS, null);
        }
        if (extended) {
            structured = true;   // extended headers imply structured replies; asking again would be refused
        } else {
            sendOption(Nbd.OPT_STRUCTURED_REPLY, ByteBuffer.allocate(0));
            structured = readOptionReplies(Nbd.OPT_STRUCTURED_REPLY, null);
        }
        byte[] en = export.getBytes(StandardCharsets.UTF_8);
        if (structured) {
            if (!options.listQueries().isEmpty()) {
                sendOption(Nbd.OPT_LIST_META_CONTEXT, metaContextRequest(en, options.listQueries()));
                readOptionReplies(Nbd.OPT_LIST_META_CONTEXT, null);
            }
            List<String> want = new ArrayList<>();
            want.add(Nbd.BASE_ALLOCATION);
            for (String c : options.choose().apply(List.copyOf(offered))) if (!want.contains(c)) want.add(c);
            sendOption(Nbd.OPT_SET_META_CONTEXT, metaContextRequest(en, want));
            readOptionReplies(Nbd.OPT_SET_META_CONTEXT, null);
        }
        sendOption(Nbd.OPT_GO, ByteBuffer.allocate(4 + en.length + 2 + 2).putInt(en.length).put(en)
                .putShort((short) 1).putShort((short) Nbd.INFO_BLOCK_SIZE).flip());
        if (!readOptionReplies(Nbd.OPT_GO, export)) throw new IOException("server refused export '" + export + "'");
    }

    /** NBD_OPT_STARTTLS (proto.md "TLS support"): ACK, then TLS 1.3 on the same TCP stream, then the options again. */
    private void startTls(NbdUri uri, SSLContext ctx) throws IOException {
        sendOption(Nbd.OPT_STARTTLS, ByteBuffer.allocate(0));
        ByteBuffer h = read(20);
        if (h.getLong() != Nbd.REPLY_MAGIC) throw new IOException("bad option reply magic");
        int o = h.getInt(), type = h.getInt(), len = h.getInt();
        if (o != Nbd.OPT_STARTTLS || len < 0 || len > 1 << 16) throw new IOException("bad reply to STARTTLS");
        String msg = StandardCharsets.UTF_8.decode(read(len)).toString();
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

    private static ByteBuffer metaContextRequest(byte[] export, List<String> queries) {
        List<byte[]> qs = queries.stream().map(q -> q.getBytes(StandardCharsets.UTF_8)).toList();
        ByteBuffer b = ByteBuffer.allocate(4 + export.length + 4 + qs.stream().mapToInt(q -> 4 + q.length).sum());
        b.putInt(export.length).put(export).putInt(qs.size());
        for (byte[] q : qs) b.putInt(q.length).put(q);
        return b.flip();
    }

    private void sendOption(int opt, ByteBuffer data) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(16).putLong(Nbd.IHAVEOPT).putInt(opt).putInt(data.remaining()).flip();
        write(h, data);
    }

    /** Reads replies to one option until ACK (true) or an error reply (false, or throws for GO). */
    private boolean readOptionReplies(int opt, String export) throws IOException {
        while (true) {
            ByteBuffer h = read(20);
            if (h.getLong() != Nbd.REPLY_MAGIC) throw new IOException("bad option reply magic");
            int o = h.getInt(), type = h.getInt(), len = h.getInt();
            if (o != opt) throw new IOException("reply to option " + o + " while waiting for " + opt);
            if (len < 0 || len > 1 << 20) throw new IOException("option reply too large");
            ByteBuffer d = read(len);
            if (type == Nbd.REP_ACK) return true;
            if ((type & 0x80000000) != 0) {
                String msg = StandardCharsets.UTF_8.decode(d).toString();
                if (opt == Nbd.OPT_GO) throw new IOException("export '" + export + "': " + (msg.isEmpty() ? "error 0x" + Integer.toHexString(type) : msg));
                return false;
            }
            if (type == Nbd.REP_META_CONTEXT && len >= 4) {
                int id = d.getInt();
                String ctx = StandardCharsets.UTF_8.decode(d).toString();
                if (opt == Nbd.OPT_LIST_META_CONTEXT) {
                    offered.add(ctx);
                } else {
                    contexts.put(id, ctx);
                    if (Nbd.BASE_ALLOCATION.equals(ctx)) allocationContextId = id;
                }
            } else if (type == Nbd.REP_INFO && len >= 2) {
                int info = Short.toUnsignedInt(d.getShort());
                if (info == Nbd.INFO_EXPORT && len >= 12) {
                    sizeBytes = d.getLong();
                    flags = Short.toUnsignedInt(d.getShort());
                } else if (info == Nbd.INFO_BLOCK_SIZE && len >= 14) {
                    minBlock = d.getInt();
                    preferredBlock = d.getInt();
                    maxPayload = Math.min(d.getInt(), 32 << 20);
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
        // proto.md "Request message" (28 bytes), or the extended form (32 bytes, 64-bit length)
        ByteBuffer h = extended
                ? ByteBuffer.allocate(32).putInt(Nbd.EXTENDED_REQUEST_MAGIC).putShort((short) cflags).putShort((short) type)
                        .putLong(cookie).putLong(offset).putLong(length).flip()
                : ByteBuffer.allocate(28).putInt(Nbd.REQUEST_MAGIC).putShort((short) cflags).putShort((short) type)
                        .putLong(cookie).putLong(offset).putInt((int) length).flip();
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
                ByteBuffer m = read(4);
                int magic = m.getInt();
                if (extended && magic != Nbd.EXTENDED_REPLY_MAGIC) {
                    throw new IOException("reply magic 0x" + Integer.toHexString(magic) + " after extended headers were negotiated");
                }
                if (magic == Nbd.EXTENDED_REPLY_MAGIC) {
                    if (!extended) throw new IOException("extended reply without extended headers");
                    // flags, type, cookie, offset (the request's), 64-bit payload length
                    ByteBuffer r = read(28);
                    int rflags = Short.toUnsignedInt(r.getShort());
                    int type = Short.toUnsignedInt(r.getShort());
                    long cookie = r.getLong();
                    r.getLong();
                    long len = r.getLong();
                    if (len < 0 || len > Integer.MAX_VALUE) throw new IOException("chunk of " + Long.toUnsignedString(len) + " bytes");
                    Pending p = pending.get(cookie);
                    if (p == null) throw new IOException("chunk for unknown cookie " + cookie);
                    chunk(p, type, (int) len);
                    if ((rflags & Nbd.REPLY_FLAG_DONE) != 0) {
                        pending.remove(cookie);
                        if (p.error != null) p.future.completeExceptionally(p.error);
                        else p.future.complete(p.readBuffer == null ? p.extents : null);
                    }
                } else if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
                    ByteBuffer r = read(12);
                    int err = r.getInt();
                    long cookie = r.getLong();
                    Pending p = pending.remove(cookie);
                    if (p == null) throw new IOException("reply for unknown cookie " + cookie);
                    if (err != 0) {
                        p.future.completeExceptionally(new NbdError(err, name + ": server error " + err));
                    } else {
                        if (p.readBuffer != null) readInto(ByteBuffer.wrap(p.readBuffer));
                        p.future.complete(null);
                    }
                } else if (magic == Nbd.STRUCTURED_REPLY_MAGIC) {
                    ByteBuffer r = read(16);
                    int rflags = Short.toUnsignedInt(r.getShort());
                    int type = Short.toUnsignedInt(r.getShort());
                    long cookie = r.getLong();
                    int len = r.getInt();
                    Pending p = pending.get(cookie);
                    if (p == null) throw new IOException("chunk for unknown cookie " + cookie);
                    chunk(p, type, len);
                    if ((rflags & Nbd.REPLY_FLAG_DONE) != 0) {
                        pending.remove(cookie);
                        if (p.error != null) p.future.completeExceptionally(p.error);
                        else p.future.complete(p.readBuffer == null ? p.extents : null);
                    }
                } else {
                    throw new IOException("bad reply magic 0x" + Integer.toHexString(magic));
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
        if (len < 0 || (type != Nbd.REPLY_TYPE_OFFSET_DATA && len > 16 << 20)) throw new IOException("chunk of " + Integer.toUnsignedString(len) + " bytes");
        switch (type) {
            case Nbd.REPLY_TYPE_NONE -> { if (len != 0) throw new IOException("NONE chunk with payload"); }
            case Nbd.REPLY_TYPE_OFFSET_DATA -> {
                long off = read(8).getLong();
                int n = len - 8;
                long at = off - p.offset;   // in 64 bits: an int 'at + n' wrapped past the check
                if (p.readBuffer == null || at < 0 || n < 0 || at > p.readBuffer.length - n) throw new IOException("OFFSET_DATA outside the request");
                readInto(ByteBuffer.wrap(p.readBuffer, (int) at, n));
            }
            case Nbd.REPLY_TYPE_OFFSET_HOLE -> {
                if (len != 12) throw new IOException("OFFSET_HOLE chunk of " + len + " bytes, not 12");
                ByteBuffer b = read(12);
                long off = b.getLong();
                int n = b.getInt();
                long at = off - p.offset;
                if (p.readBuffer == null || at < 0 || n < 0 || at > p.readBuffer.length - n) throw new IOException("OFFSET_HOLE outside the request");
                java.util.Arrays.fill(p.readBuffer, (int) at, (int) at + n, (byte) 0);
            }
            case Nbd.REPLY_TYPE_BLOCK_STATUS -> {
                ByteBuffer b = read(len);
                if (len < 4) throw new IOException("short BLOCK_STATUS chunk");
                int id = b.getInt();
                List<NbdExport.Extent> list = p.extents.computeIfAbsent(id, k -> new ArrayList<>());
                while (b.remaining() >= 8) {
                    long l = Integer.toUnsignedLong(b.getInt());
                    int f = b.getInt();
                    list.add(new NbdExport.Extent(l, f));
                }
            }
            case Nbd.REPLY_TYPE_BLOCK_STATUS_EXT -> {
                // context id, descriptor count, then {64-bit length, 64-bit status} (status flags of our contexts fit 32 bits)
                if (!extended || len < 8 || (len - 8) % 16 != 0) throw new IOException("bad BLOCK_STATUS_EXT chunk of " + len + " bytes");
                ByteBuffer b = read(len);
                int id = b.getInt();
                b.getInt();
                List<NbdExport.Extent> list = p.extents.computeIfAbsent(id, k -> new ArrayList<>());
                while (b.remaining() >= 16) {
                    long l = b.getLong();
                    long f = b.getLong();
                    if (l <= 0) throw new IOException("BLOCK_STATUS_EXT extent of length " + Long.toUnsignedString(l));
                    list.add(new NbdExport.Extent(l, (int) f));
                }
            }
            case Nbd.REPLY_TYPE_ERROR, Nbd.REPLY_TYPE_ERROR_OFFSET -> {
                ByteBuffer b = read(len);
                if (len < 6) throw new IOException("error chunk of " + len + " bytes, shorter than its errno and message length");
                int err = b.getInt();
                int ml = Short.toUnsignedInt(b.getShort());
                String msg = ml <= b.remaining() ? StandardCharsets.UTF_8.decode(b.slice(b.position(), ml)).toString() : "";
                p.error = new NbdError(err, name + ": " + (msg.isEmpty() ? "server error " + err : msg));
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
                write(ByteBuffer.allocate(28).putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) Nbd.CMD_DISC)
                        .putLong(0).putLong(0).putInt(0).flip());
            }
        } catch (IOException ignored) {
            // closing anyway
        } finally {
            wire.close();
            reader.interrupt();
        }
    }
}
