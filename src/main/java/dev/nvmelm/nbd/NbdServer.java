package dev.nvmelm.nbd;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;

/**
 * An NBD server (fixed newstyle, structured replies, meta contexts) for a set of exports, on a
 * Unix socket or TCP. Each connection gets a virtual thread that reads requests and dispatches
 * them (up to {@link #MAX_IN_FLIGHT} at once) to further virtual threads; replies are written
 * under a lock, in completion order. A malformed handshake, a bad magic or an oversized
 * write closes that connection only; the server keeps serving the others.
 *
 * <p>No peer is trusted with memory or time ({@link NbdLimits}): write payloads are read and
 * written in chunks, reads are answered in chunks, and every chunk is taken from a
 * {@link MemoryBudget} shared by all connections (a connection that does not fit waits, so its
 * peer's sends stall); a {@link Watchdog} cuts handshakes that run late, requests whose bytes stop
 * arriving and replies the peer does not take.
 *
 * <p>A TCP listener can require TLS (proto.md "TLS support", the "TLS-only" mode): every
 * option before NBD_OPT_STARTTLS gets NBD_REP_ERR_TLS_REQD (NBD_OPT_EXPORT_NAME, which cannot be
 * refused, closes the connection), then TLS 1.3 with a client certificate from our CA is
 * negotiated on the same socket and the handshake starts over inside it.
 */
public final class NbdServer implements AutoCloseable {
    public static final int MAX_IN_FLIGHT = 64;
    /** Hard limit on a request's payload, whatever the export advertises. */
    public static final int HARD_MAX_PAYLOAD = 32 << 20;

    private final NbdExportCatalog exports;
    private final Consumer<String> log;
    private final List<AutoCloseable> listeners = new ArrayList<>();
    private final List<java.nio.file.Path> unixPaths = new ArrayList<>();
    private final Set<NbdConnection> connections = ConcurrentHashMap.newKeySet();
    private final NbdLimits limits;
    private final MemoryBudget budget;
    private final Watchdog watchdog;
    private volatile boolean closed;

    public NbdServer(List<NbdExport> exports, Consumer<String> log) {
        this(exports, log, NbdLimits.DEFAULT);
    }

    public NbdServer(List<NbdExport> exports, Consumer<String> log, NbdLimits limits) {
        this(NbdExportCatalog.of(exports), log, limits);
    }

    /** Exports looked up by name at each client's request (they may come and go, or be refused with a reason). */
    public NbdServer(NbdExportCatalog exports, Consumer<String> log, NbdLimits limits) {
        this.exports = exports;
        this.log = log;
        this.limits = limits;
        this.budget = new MemoryBudget(limits.budgetBytes());
        this.watchdog = new Watchdog(log);
    }

    /** Payload and reply bytes all connections hold right now (never more than the budget). */
    public long heldBytes() {
        return budget.heldBytes();
    }

    /** The export names, in the order they were given. */
    public List<String> exportNames() {
        return exports.names();
    }

    /** Starts listening without TLS; for a Unix socket, a stale socket file is replaced. */
    public SocketAddress listen(SocketAddress address) throws IOException {
        return listen(address, null);
    }

    /**
     * Starts listening; with {@code tls} (TCP only) every client must do NBD_OPT_STARTTLS and
     * present a certificate the context trusts.
     */
    public SocketAddress listen(SocketAddress address, SSLContext tls) throws IOException {
        if (address instanceof UnixDomainSocketAddress u) {
            if (tls != null) throw new IOException("TLS is offered on TCP listeners only");
            Files.deleteIfExists(u.getPath());
            ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            ch.bind(address);
            listeners.add(ch);
            unixPaths.add(u.getPath());
            Thread.ofVirtual().name("nbd-accept").start(() -> acceptLoop(() -> new Wire.Channel(ch.accept()), null));
            return ch.getLocalAddress();
        }
        ServerSocket ss = new ServerSocket();
        ss.setReuseAddress(true);
        ss.bind(address);
        listeners.add(ss);
        Thread.ofVirtual().name("nbd-accept").start(() -> acceptLoop(() -> {
            Socket s = ss.accept();
            s.setTcpNoDelay(true);
            return new Wire.Stream(s);
        }, tls));
        return ss.getLocalSocketAddress();
    }

    private interface Acceptor {
        Wire accept() throws IOException;
    }

    public int connectionCount() {
        return connections.size();
    }

    private void acceptLoop(Acceptor acceptor, SSLContext tls) {
        while (!closed) {
            try {
                Wire w = acceptor.accept();
                if (connections.size() >= limits.maxConnections()) {
                    w.close();
                    log.accept("nbd: " + limits.maxConnections() + " connections are open: refused one more");
                    continue;
                }
                NbdConnection conn = new NbdConnection(w, tls, exports, limits, budget);
                connections.add(conn);
                watchdog.add(conn);
                Thread.ofVirtual().name("nbd-conn").start(() -> {
                    try {
                        conn.run();
                    } catch (IOException e) {
                        if (!closed) log.accept("nbd: connection closed: " + e.getMessage());
                    } catch (RuntimeException e) {
                        log.accept("nbd: connection failed: " + e);
                    } finally {
                        watchdog.remove(conn);
                        conn.closeQuietly();
                        conn.abort();
                        connections.remove(conn);
                    }
                });
            } catch (IOException e) {
                if (!closed) log.accept("nbd: accept failed: " + e.getMessage());
                return;
            }
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        for (AutoCloseable l : listeners) {
            try {
                l.close();
            } catch (Exception e) {
                log.accept("nbd: closing a listener: " + e.getMessage());
            }
        }
        for (java.nio.file.Path p : unixPaths) Files.deleteIfExists(p);
        watchdog.close();
        for (NbdConnection c : connections) {
            c.closeQuietly();
            c.abort();
        }
    }
}
