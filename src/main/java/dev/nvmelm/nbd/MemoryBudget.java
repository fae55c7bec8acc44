package dev.nvmelm.nbd;

import java.util.concurrent.Semaphore;

/**
 * Heap bytes an NBD server may hold for payloads and reply data: a global pool shared by every
 * connection, and each connection's share of it. A request that does not fit waits (back-pressure:
 * the connection's reader stops reading, so the peer's sends stall in TCP), it never allocates
 * beyond the budget.
 */
final class MemoryBudget {
    private final Semaphore global;
    private final int globalBytes;

    MemoryBudget(int globalBytes) {
        this.global = new Semaphore(globalBytes, true);
        this.globalBytes = globalBytes;
    }

    /** Bytes held now by all connections. */
    long heldBytes() {
        return globalBytes - global.availablePermits();
    }

    /** One connection's share. */
    Share share(int bytes) {
        return new Share(bytes);
    }

    final class Share {
        private final Semaphore local;

        private Share(int bytes) {
            this.local = new Semaphore(bytes, true);
        }

        /** Blocks until {@code n} bytes are granted; the connection's share first, then the pool. */        void acquireUninterruptibly(int n) {
            local.acquireUninterruptibly(n);
            global.acquireUninterruptibly(n);
        }

        void release(int n) {
            global.release(n);
            local.release(n);
        }
    }
}
