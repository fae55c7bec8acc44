package dev.nvmelm.nbd;

import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One NBD connection's byte stream, full duplex: one thread reads while others write (whole
 * messages, under a lock). Unix sockets are SocketChannels; TCP connections are java.net.Sockets
 * so that NBD_OPT_STARTTLS can layer an SSLSocket over them mid-handshake.
 */
abstract class Wire implements AutoCloseable {
    private final ReentrantLock writeLock = new ReentrantLock();

    /** Fills {@code b} (a heap buffer) or throws EOFException with {@code eofMessage}. */
    abstract void readFully(ByteBuffer b, String eofMessage) throws IOException;

    protected abstract void writeAll(ByteBuffer b) throws IOException;

    protected void flushWrites() throws IOException {}

    /** Holds off other writers across several {@link #write} calls (a reply written in pieces). */
    final void lockWrites() {
        writeLock.lock();
    }

    final void unlockWrites() {
        writeLock.unlock();
    }

    /** Writes the buffers back to back, as one message no other writer can interleave with. */
    final void write(ByteBuffer... bufs) throws IOException {
        writeLock.lock();
        try {
            for (ByteBuffer b : bufs) writeAll(b);
            flushWrites();
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public abstract void close() throws IOException;

    /** NBD over TLS: 1.3 only; the server demands a client certificate, the client checks the server's name (SAN). */
    static javax.net.ssl.SSLParameters tlsParameters(javax.net.ssl.SSLContext ctx, boolean server) {
        javax.net.ssl.SSLParameters p = ctx.getDefaultSSLParameters();
        p.setProtocols(new String[]{"TLSv1.3"});
        if (server) p.setNeedClientAuth(true);
        else p.setEndpointIdentificationAlgorithm("HTTPS");
        return p;
    }

    static final class Channel extends Wire {
        final SocketChannel ch;

        Channel(SocketChannel ch) {
            this.ch = ch;
        }

        @Override
        void readFully(ByteBuffer b, String eofMessage) throws IOException {
            while (b.hasRemaining()) if (ch.read(b) < 0) throw new EOFException(eofMessage);
        }

        @Override
        protected void writeAll(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) ch.write(b);
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    /** A plain or TLS socket through its streams; writes are buffered so a message leaves as one TLS record. */
    static final class Stream extends Wire {
        final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        Stream(Socket socket) throws IOException {
            this.socket = socket;
            this.in = socket.getInputStream();
            this.out = new BufferedOutputStream(socket.getOutputStream(), 64 << 10);
        }

        @Override
        void readFully(ByteBuffer b, String eofMessage) throws IOException {
            while (b.hasRemaining()) {
                int n = in.read(b.array(), b.arrayOffset() + b.position(), b.remaining());
                if (n < 0) throw new EOFException(eofMessage);
                b.position(b.position() + n);
            }
        }

        @Override
        protected void writeAll(ByteBuffer b) throws IOException {
            if (b.hasArray()) {
                out.write(b.array(), b.arrayOffset() + b.position(), b.remaining());
                b.position(b.limit());
            } else {
                byte[] a = new byte[b.remaining()];
                b.get(a);
                out.write(a);
            }
        }

        @Override
        protected void flushWrites() throws IOException {
            out.flush();
        }

        @Override
        public void close() throws IOException {
            if (socket instanceof javax.net.ssl.SSLSocket && !socket.isClosed() && !socket.isOutputShutdown()) {
                // close_notify alone: a duplex close of TLS 1.3 sends user_canceled first, which GnuTLS
                // (nbdinfo, nbdcopy, qemu) reports as a fatal alert at the end of a clean session
                try {
                    socket.shutdownOutput();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
            socket.close();
        }
    }
}
