package dev.nvmelm.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on loopback that injects link faults between a source and a destination, for tests
 * and the outage benchmark (the
 * kernel here has no netem): added delay per chunk, a bandwidth cap, a stall (bytes held, the
 * connection stays open), a cut (every connection reset, new ones refused while down).
 */
public final class FaultProxy implements AutoCloseable {
    private final ServerSocket server;
    private final InetSocketAddress target;
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private final AtomicBoolean down = new AtomicBoolean();
    private final AtomicBoolean stalled = new AtomicBoolean();
    private final AtomicLong bytesPerSecond = new AtomicLong(0);
    private final AtomicLong delayMillis = new AtomicLong(0);
    private final AtomicLong forwarded = new AtomicLong();
    private final Thread acceptor;

    public FaultProxy(InetSocketAddress target) throws IOException {
        this.target = target;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.acceptor = Thread.ofVirtual().name("fault-proxy").start(this::acceptLoop);
    }

    public int port() {
        return server.getLocalPort();
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port());
    }

    public long forwardedBytes() {
        return forwarded.get();
    }

    /** Cuts the link: resets every open connection and refuses new ones until {@link #up()}. */
    public void cut() {
        down.set(true);
        for (Socket s : open) closeQuietly(s);
        open.clear();
    }

    public void up() {
        down.set(false);
    }

    /** Holds all traffic without closing anything (a stalled path), until {@link #unstall()}. */
    public void stall() {
        stalled.set(true);
    }

    public void unstall() {
        stalled.set(false);
    }

    /** Caps throughput per direction per connection; 0 = unlimited. */
    public void throttle(long bytesPerSecond) {
        this.bytesPerSecond.set(bytesPerSecond);
    }

    public void delay(long millis) {
        delayMillis.set(millis);
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                if (down.get()) {
                    closeQuietly(client);
                    continue;
                }
                Socket upstream = new Socket();
                try {
                    upstream.connect(target, 5000);
                } catch (IOException e) {
                    closeQuietly(client);
                    continue;
                }
                open.add(client);
                open.add(upstream);
                Thread.ofVirtual().start(() -> pump(client, upstream));
                Thread.ofVirtual().start(() -> pump(upstream, client));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void pump(Socket from, Socket to) {
        byte[] buf = new byte[64 * 1024];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                while (stalled.get() && !down.get()) Thread.sleep(10);
                if (down.get()) break;
                long d = delayMillis.get();
                if (d > 0) Thread.sleep(d);
                long bps = bytesPerSecond.get();
                if (bps > 0) Thread.sleep(Math.max(0, n * 1000L / bps));
                out.write(buf, 0, n);
                out.flush();
                forwarded.addAndGet(n);
            }
        } catch (IOException | InterruptedException e) {
            // the link broke or was cut: close both ends below
        } finally {
            closeQuietly(from);
            closeQuietly(to);
            open.remove(from);
            open.remove(to);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.setSoLinger(true, 0);  // a cut is a reset, not a graceful FIN
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        cut();
        acceptor.interrupt();
    }
}
