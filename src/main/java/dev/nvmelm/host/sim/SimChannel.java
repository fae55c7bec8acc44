package dev.nvmelm.host.sim;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Frames {@link SimMessage}s on a blocking socket: one reader, any number of writers. Frames
 * are batched without changing the protocol: {@link #send(List)} writes many frames with one
 * system call, and {@link #receive} reads whatever the peer has sent into a buffer and decodes
 * frames from it, so a burst of commands or completions costs one wake-up and one read per
 * burst, not two reads per message (each a thread hand-off on a loaded machine).
 */
public final class SimChannel implements AutoCloseable {
    /** Frames gathered into one write; more wait for the next one. */
    static final int BATCH_BYTES = 64 << 10;
    private final SocketChannel socket;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final ByteBuffer out = ByteBuffer.allocateDirect(BATCH_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    /** Received bytes not yet decoded, between position and limit (read mode). */
    private final ByteBuffer in = ByteBuffer.allocateDirect(BATCH_BYTES).order(ByteOrder.LITTLE_ENDIAN).limit(0);

    public SimChannel(SocketChannel socket) {
        this.socket = socket;
    }

    public void send(SimMessage m) throws IOException {
        send(List.of(m));
    }

    /** Sends the messages in order, as few writes as fit {@link #BATCH_BYTES} each. */
    public void send(List<SimMessage> messages) throws IOException {
        writeLock.lock();
        try {
            out.clear();
            for (SimMessage m : messages) {
                ByteBuffer frame = SimMessage.encode(m);
                if (frame.remaining() > out.remaining()) flushOut();
                out.put(frame);
            }
            flushOut();
        } finally {
            writeLock.unlock();
        }
    }

    private void flushOut() throws IOException {
        out.flip();
        while (out.hasRemaining()) socket.write(out);
        out.clear();
    }

    /** The next message; EOFException when the peer closed between frames. */
    public SimMessage receive() throws IOException {
        if (!fill(4, true)) throw new EOFException("connection closed");
        int length = in.getInt(in.position());
        if (length < 5 || length > SimMessage.MAX_FRAME_BYTES) throw new SimProtocolException("frame length " + Integer.toUnsignedString(length) + " is outside 5.." + SimMessage.MAX_FRAME_BYTES);
        fill(4 + length, false);
        ByteBuffer body = in.slice(in.position() + 4, length).order(ByteOrder.LITTLE_ENDIAN);
        in.position(in.position() + 4 + length);
        // decoded at once: the buffer is refilled under the record afterwards
        return SimMessage.decode(body);
    }

    /** Makes at least {@code n} undecoded bytes available; false only at EOF before any byte of a frame. */
    private boolean fill(int n, boolean eofAllowedAtStart) throws IOException {
        if (in.remaining() >= n) return true;
        in.compact();   // write mode: undecoded bytes moved to the start
        try {
            while (in.position() < n) {
                if (socket.read(in) < 0) {
                    if (eofAllowedAtStart && in.position() == 0) return false;
                    throw new SimProtocolException("connection closed in the middle of a frame");
                }
            }
        } finally {
            in.flip();
        }
        return true;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
