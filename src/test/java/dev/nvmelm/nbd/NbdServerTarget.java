package dev.nvmelm.nbd;

import dev.nvmelm.fuzz.BytesProvider;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static dev.nvmelm.fuzz.Fuzz.check;

/**
 * Our NBD server (handshake, options, requests) fed a hostile client's bytes through a real Unix
 * socket. The first input byte picks how much of an honest handshake comes first, so the fuzzer
 * reaches option haggling and transmission: none, the client flags, or the flags and a GO (with
 * structured replies and base:allocation, or with extended headers). The server must answer and
 * close the connection when the client's bytes end (within {@link #BOUND_MS}), never log a
 * connection failed by a runtime exception, never let the export throw one, and hold no more than
 * its budget.
 */
public final class NbdServerTarget implements AutoCloseable {
    static final long BOUND_MS = 20_000;
    static final long EXPORT_BYTES = 1 << 20;
    private static final NbdLimits LIMITS = new NbdLimits(8 << 20, 4 << 20, 1 << 20, 10_000, 10_000, 16);

    private final Path dir;
    private final FileExport file;
    private final NbdServer server;
    private final Path socket;
    private final Queue<String> failures = new ConcurrentLinkedQueue<>();

    public NbdServerTarget(Path dir) throws IOException {
        this.dir = dir;
        Path img = dir.resolve("export.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(EXPORT_BYTES);
        }
        this.file = new FileExport("disk", img, false);
        this.socket = dir.resolve("nbd.sock");
        this.server = new NbdServer(List.of(new Recording(file, failures)), line -> {
            // a RuntimeException that escaped a connection: the only log line no hostile client may cause
            if (line.startsWith("nbd: connection failed:")) failures.add(line);
        }, LIMITS);
        server.listen(UnixDomainSocketAddress.of(socket));
    }

    public void runOnce(byte[] input) throws Exception {
        dev.nvmelm.fuzz.Fuzz.unlessStopped(() -> runInterruptibly(input));
    }

    private void runInterruptibly(byte[] input) throws Exception {
        BytesProvider d = new BytesProvider(input);
        int mode = d.consumeByte() % 4;
        byte[] client = d.consumeRemainingAsBytes();
        ByteBuffer prefix = ByteBuffer.allocate(4096);
        if (mode >= 1) prefix.putInt(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        if (mode >= 2) {
            option(prefix, mode == 3 ? Nbd.OPT_EXTENDED_HEADERS : Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
            byte[] name = "disk".getBytes(StandardCharsets.UTF_8), ctx = Nbd.BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
            option(prefix, Nbd.OPT_SET_META_CONTEXT, ByteBuffer.allocate(12 + name.length + ctx.length)
                    .putInt(name.length).put(name).putInt(1).putInt(ctx.length).put(ctx).array());
            option(prefix, Nbd.OPT_GO, ByteBuffer.allocate(6 + name.length).putInt(name.length).put(name).putShort((short) 0).array());
        }
        prefix.flip();
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    while (prefix.hasRemaining()) ch.write(prefix);
                    ByteBuffer b = ByteBuffer.wrap(client);
                    while (b.hasRemaining()) ch.write(b);
                    ch.shutdownOutput();
                } catch (IOException e) {
                    // the server closed first: it may refuse at any byte
                }
            }, r -> Thread.ofVirtual().start(r));
            CompletableFuture<Long> reader = CompletableFuture.supplyAsync(() -> {
                long n = 0;
                ByteBuffer b = ByteBuffer.allocate(64 << 10);
                try {
                    for (int r; (r = ch.read(b.clear())) >= 0; ) n += r;
                } catch (IOException e) {
                    // reset by the server: also an end
                }
                return n;
            }, r -> Thread.ofVirtual().start(r));
            try {
                reader.get(BOUND_MS, TimeUnit.MILLISECONDS);
                writer.get(BOUND_MS, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("the NBD server neither answered nor closed within " + BOUND_MS + " ms (mode " + mode + ")");
            }
        }
        check(server.heldBytes() <= LIMITS.budgetBytes(), "server holds " + server.heldBytes() + " bytes, beyond its budget");
        String f = failures.poll();
        if (f != null) {
            failures.clear();
            throw new AssertionError(f);
        }
    }

    private static void option(ByteBuffer b, int opt, byte[] data) {
        b.putLong(Nbd.IHAVEOPT).putInt(opt).putInt(data.length).put(data);
    }

    @Override
    public void close() throws IOException {
        server.close();
        file.close();
        Files.deleteIfExists(dir.resolve("export.img"));
    }

    /** The real export, with any RuntimeException it throws noted as a failure before it goes on. */
    private record Recording(NbdExport e, Queue<String> failures) implements NbdExport {
        private <T> T note(RuntimeException x) {
            failures.add("export threw " + x);
            throw x;
        }

        @Override public String name() { return e.name(); }
        @Override public String description() { return e.description(); }
        @Override public long sizeBytes() { return e.sizeBytes(); }
        @Override public boolean readOnly() { return e.readOnly(); }
        @Override public List<String> metaContexts() { return e.metaContexts(); }

        @Override
        public void read(long offset, byte[] dst, int len) throws IOException {
            try { e.read(offset, dst, len); } catch (RuntimeException x) { note(x); }
        }

        @Override
        public void write(long offset, byte[] src, int len, boolean fua) throws IOException {
            try { e.write(offset, src, len, fua); } catch (RuntimeException x) { note(x); }
        }

        @Override
        public void writeZeroes(long offset, long length, boolean mayDeallocate, boolean fastOnly) throws IOException {
            try { e.writeZeroes(offset, length, mayDeallocate, fastOnly); } catch (RuntimeException x) { note(x); }
        }

        @Override
        public void trim(long offset, long length) throws IOException {
            try { e.trim(offset, length); } catch (RuntimeException x) { note(x); }
        }

        @Override
        public void flush() throws IOException {
            try { e.flush(); } catch (RuntimeException x) { note(x); }
        }

        @Override
        public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
            try {
                List<Extent> l = e.blockStatus(context, offset, length);
                if (l.isEmpty()) failures.add("blockStatus(" + context + ", " + offset + ", " + length + ") gave no extent");
                return l;
            } catch (RuntimeException x) {
                return note(x);
            }
        }
    }
}
