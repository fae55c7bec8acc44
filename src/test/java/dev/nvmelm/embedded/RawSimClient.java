package dev.nvmelm.embedded;

import dev.nvmelm.spec.Sqe;

import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A hostile (or merely unrelated) client of {@code ctl.sock} that writes frames byte by byte as
 * docs/device.md describes them, without the project's client code: u32 length, u8 type, u32
 * tag, fields little-endian. Every reply is awaited with a bound, so a server that hangs fails
 * the test instead of hanging it.
 */
final class RawSimClient implements AutoCloseable {
    static final int DONE = 66, FAILED = 69, WELCOME = 64, CDQ_INFO = 67, EVENT = 68;

    /** A reply frame: its type, tag, the status field of a Done and the text of a Failed. */
    record Reply(int type, int tag, int statusField, String message) {}

    private final SocketChannel socket;
    private final Duration bound;
    private int tags = 1;

    RawSimClient(Path socketPath, Duration bound) throws IOException {
        this.socket = SocketChannel.open(StandardProtocolFamily.UNIX);
        socket.connect(UnixDomainSocketAddress.of(socketPath));
        this.bound = bound;
    }

    /** Hello for {@code cntlid}; the server's answer (Welcome or Failed). */
    Reply hello(int cntlid) throws Exception {
        send(1, 0, b -> b.putShort((short) 1).putShort((short) cntlid));
        return receive();
    }

    Reply handover(int from, int to) throws Exception {
        int tag = tags++;
        send(8, tag, b -> b.putShort((short) from).putShort((short) to));
        return receiveNonEvent();
    }

    Reply admin(Sqe sqe) throws Exception {
        int tag = tags++;
        send(4, tag, b -> b.put((byte) 0).put(sqe.toBytes()).putLong(0).putLong(0));
        return receiveNonEvent();
    }

    Reply cdqAttach(int cdqid) throws Exception {
        int tag = tags++;
        send(6, tag, b -> b.putShort((short) cdqid));
        return receiveNonEvent();
    }

    private void send(int type, int tag, java.util.function.Consumer<ByteBuffer> fields) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0).put((byte) type).putInt(tag);
        fields.accept(b);
        b.putInt(0, b.position() - 4).flip();
        while (b.hasRemaining()) socket.write(b);
    }

    private Reply receiveNonEvent() throws Exception {
        while (true) {
            Reply r = receive();
            if (r.type() != EVENT) return r;
        }
    }

    /** The next frame, or an AssertionError if none comes within the bound. */
    Reply receive() throws Exception {
        CompletableFuture<Reply> f = CompletableFuture.supplyAsync(() -> {
            try {
                return read();
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, r -> Thread.ofVirtual().start(r));
        try {
            return f.get(bound.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("the device server did not answer in " + bound.toMillis() + " ms");
        }
    }

    private Reply read() throws IOException {
        ByteBuffer len = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        readFully(len);
        ByteBuffer body = ByteBuffer.allocate(len.flip().getInt()).order(ByteOrder.LITTLE_ENDIAN);
        readFully(body);
        body.flip();
        int type = Byte.toUnsignedInt(body.get());
        int tag = body.getInt();
        return switch (type) {
            case DONE -> {
                body.getInt();
                body.getInt();
                yield new Reply(type, tag, Short.toUnsignedInt(body.getShort()), null);
            }
            case FAILED -> {
                byte[] text = new byte[Short.toUnsignedInt(body.getShort())];
                body.get(text);
                yield new Reply(type, tag, -1, new String(text, StandardCharsets.UTF_8));
            }
            default -> new Reply(type, tag, -1, null);
        };
    }

    private void readFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) if (socket.read(b) < 0) throw new EOFException("the device server closed the connection");
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
