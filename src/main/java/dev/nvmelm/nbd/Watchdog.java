package dev.nvmelm.nbd;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Cuts NBD connections that miss a deadline: a handshake that is not over in time, a request whose
 * bytes stop arriving, a reply the peer does not take. A blocking read on a Unix SocketChannel
 * knows no SO_TIMEOUT, so one thread checks every connection's deadline and aborts the late ones
 * (closing the socket underneath wakes the blocked reader or writer).
 */
final class Watchdog implements AutoCloseable {
    private static final long TICK_MS = 100;

    /** Something with a deadline; {@link #abort} closes it from the watchdog's thread. */
    interface Guarded {
        /** System.nanoTime() by which the current step must be over; 0 for none. */
        long deadlineNanos();

        /** What the peer failed to do, for the log. */
        String lateStep();

        void abort();
    }

    private final Set<Guarded> guarded = ConcurrentHashMap.newKeySet();
    private final Consumer<String> log;
    private final Thread thread;
    private volatile boolean closed;

    Watchdog(Consumer<String> log) {
        this.log = log;
        this.thread = Thread.ofPlatform().daemon().name("nbd-watchdog").start(this::run);
    }

    void add(Guarded g) {
        guarded.add(g);
    }

    void remove(Guarded g) {
        guarded.remove(g);
    }

    private void run() {
        while (!closed) {
            try {
                Thread.sleep(TICK_MS);
            } catch (InterruptedException e) {
                return;
            }
            long now = System.nanoTime();
            for (Guarded g : guarded) {
                long d = g.deadlineNanos();
                if (d != 0 && now - d > 0) {
                    guarded.remove(g);
                    log.accept("nbd: " + g.lateStep() + ": connection closed");
                    g.abort();
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
