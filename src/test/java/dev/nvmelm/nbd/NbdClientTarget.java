package dev.nvmelm.nbd;

import dev.nvmelm.fuzz.BytesProvider;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static dev.nvmelm.fuzz.Fuzz.check;

/**
 * Our NBD client against a hostile server on a real Unix socket: the server writes the fuzz
 * input (after, if the first byte says so, an honest handshake that hands out a 1 MiB export with
 * base:allocation as context 1, with or without extended headers; the replies after the client's
 * requests are pending, or at once) and closes. The client must
 * connect or fail with an IOException, then complete a READ, a BLOCK_STATUS and another READ (cookies
 * 1, 2, 3) or fail them with an IOException that no runtime exception caused; every extent it
 * returns is non-empty; nothing waits forever.
 */
public final class NbdClientTarget implements AutoCloseable {
    static final long BOUND_MS = 20_000;
    private final Path socket;
    private final ServerSocketChannel listener;

    public NbdClientTarget(Path dir) throws IOException {
        this.socket = dir.resolve("hostile.sock");
        this.listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        listener.bind(UnixDomainSocketAddress.of(socket));
    }

    public void runOnce(byte[] input) throws Exception {
        dev.nvmelm.fuzz.Fuzz.unlessStopped(() -> runInterruptibly(input));
    }

    private void runInterruptibly(byte[] input) throws Exception {
        BytesProvider d = new BytesProvider(input);
        int mode = d.consumeByte() % 4;
        byte[] hostile = d.consumeRemainingAsBytes();
        ByteBuffer first = ByteBuffer.allocate(4096 + hostile.length);
        if (mode > 0) honestHandshake(first, mode >= 2);
        else first.put(hostile);
        first.flip();
        // modes 1 and 2: after an honest handshake the hostile replies go out once the three requests
        // are pending, so an input replays the same way every time; mode 3 sends them at once, racing
        // the client's submits (a request that meets a reader failing the connection)
        CompletableFuture<Void> requestsSent = new CompletableFuture<>();
        CompletableFuture<Void> server = CompletableFuture.runAsync(() -> {
            try (SocketChannel ch = listener.accept()) {
                while (first.hasRemaining()) ch.write(first);
                if (mode == 3) {
                    ByteBuffer replies = ByteBuffer.wrap(hostile);
                    while (replies.hasRemaining()) ch.write(replies);
                } else if (mode > 0) {
                    requestsSent.get(BOUND_MS, TimeUnit.MILLISECONDS);
                    ByteBuffer replies = ByteBuffer.wrap(hostile);
                    while (replies.hasRemaining()) ch.write(replies);
                }
                ch.shutdownOutput();
                ByteBuffer sink = ByteBuffer.allocate(64 << 10);
                while (ch.read(sink.clear()) >= 0) {
                    // take what the client sends until it hangs up
                }
            } catch (IOException e) {
                // the client hung up first
            } catch (InterruptedException | ExecutionException | TimeoutException e) {
                throw new IllegalStateException("the hostile server was not told the requests went out", e);
            }
        }, r -> Thread.ofVirtual().start(r));
        NbdClient client;
        try {
            client = bounded(CompletableFuture.supplyAsync(() -> {
                try {
                    return NbdClient.connect(NbdUri.parse("nbd+unix:///disk?socket=" + socket));
                } catch (IOException e) {
                    return null;
                }
            }, r -> Thread.ofVirtual().start(r)), "connect");
        } catch (ExecutionException e) {
            throw rethrow(e);
        }
        if (client == null) requestsSent.complete(null);
        if (client != null) {
            try (client) {
                byte[] a = new byte[4096], b = new byte[100];
                List<CompletableFuture<?>> requests = new ArrayList<>();
                requests.add(client.read(0, a));
                requests.add(client.blockStatus(0, 1 << 20));
                requests.add(client.read(8192, b));
                requestsSent.complete(null);
                for (CompletableFuture<?> f : requests) {
                    try {
                        Object r = bounded(f, "a request");
                        if (r instanceof List<?> extents) {
                            for (Object x : extents) check(((NbdExport.Extent) x).lengthBytes() > 0, "an extent of " + ((NbdExport.Extent) x).lengthBytes() + " bytes");
                        }
                    } catch (ExecutionException e) {
                        check(e.getCause() instanceof IOException, "a request failed with " + e.getCause());
                        for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
                            if (t instanceof RuntimeException) throw new AssertionError("a reply broke the client with " + t, t);
                        }
                    }
                }
            }
        }
        bounded(server, "the hostile server's end");
    }

    private static <T> T bounded(CompletableFuture<T> f, String what) throws Exception {
        try {
            return f.get(BOUND_MS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError(what + " did not finish within " + BOUND_MS + " ms");
        }
    }

    private static Exception rethrow(ExecutionException e) {
        return e.getCause() instanceof Exception x ? x : new RuntimeException(e.getCause());
    }

    /** What a fixed-newstyle server answers to our client's options, written up front (the client's order is fixed). */
    private static void honestHandshake(ByteBuffer b, boolean extended) {
        b.putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT).putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES));
        optReply(b, Nbd.OPT_EXTENDED_HEADERS, extended ? Nbd.REP_ACK : Nbd.REP_ERR_UNSUP, new byte[0]);
        if (!extended) optReply(b, Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ACK, new byte[0]);
        byte[] ctx = Nbd.BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
        optReply(b, Nbd.OPT_SET_META_CONTEXT, Nbd.REP_META_CONTEXT, ByteBuffer.allocate(4 + ctx.length).putInt(1).put(ctx).array());
        optReply(b, Nbd.OPT_SET_META_CONTEXT, Nbd.REP_ACK, new byte[0]);
        optReply(b, Nbd.OPT_GO, Nbd.REP_INFO, ByteBuffer.allocate(12).putShort((short) Nbd.INFO_EXPORT).putLong(1 << 20)
                .putShort((short) (Nbd.TF_HAS_FLAGS | Nbd.TF_SEND_FLUSH)).array());
        optReply(b, Nbd.OPT_GO, Nbd.REP_ACK, new byte[0]);
    }

    private static void optReply(ByteBuffer b, int opt, int type, byte[] data) {
        b.putLong(Nbd.REPLY_MAGIC).putInt(opt).putInt(type).putInt(data.length).put(data);
    }

    @Override
    public void close() throws IOException {
        listener.close();
        Files.deleteIfExists(socket);
    }
}
