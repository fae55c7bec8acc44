package dev.nvmelm.host.sim;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;

/** Frames {@link SimMessage}s on a blocking socket: one reader, any number of writers. */
public final class SimChannel implements AutoCloseable {
    private final SocketChannel socket;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final ByteBuffer header = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);

    public SimChannel(SocketChannel socket) {
        this.socket = socket;
    }

    public void send(SimMessage m) throws IOException {
        ByteBuffer frame = SimMessage.encode(m);
        writeLock.lock();
        try {
            while (frame.hasRemaining()) socket.write(frame);
        } finally {
            writeLock.unlock();
        }
    }

    /** The next message; EOFException when the peer closed between frames. */
    public SimMessage receive() throws IOException {
        header.clear();
        if (!readFully(header, true)) throw new EOFException("connection closed");
        int length = header.flip().getInt();
        if (length < 5 || length > SimMessage.MAX_FRAME_BYTES) throw new SimProtocolException("frame length " + Integer.toUnsignedString(length) + " is outside 5.." + SimMessage.MAX_FRAME_BYTES);
        ByteBuffer body = ByteBuffer.allocate(length);
        readFully(body, false);
        return SimMessage.decode(body.flip());
    }

    private boolean readFully(ByteBuffer b, boolean eofAllowedAtStart) throws IOException {
        while (b.hasRemaining()) {
            if (socket.read(b) < 0) {
                if (eofAllowedAtStart && b.position() == 0) return false;
                throw new SimProtocolException("connection closed in the middle of a frame");
            }
        }
        return true;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
