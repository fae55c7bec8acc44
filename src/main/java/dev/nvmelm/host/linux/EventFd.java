package dev.nvmelm.host.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An eventfd(2) counter (eventfd(2); docs/linux-backend.md): the kernel's CDQ code signals it from
 * the Tail Pointer Trigger AEN, and the consumer waits with poll(2) and then reads the 8-byte
 * counter, which resets it. Non-blocking and close-on-exec, so a read never blocks and a
 * spawned process does not inherit it.
 *
 * <p>{@link #await} blocks in poll(2): call it from a platform thread. It polls in slices of at
 * most {@link #SLICE_MS} so that a Java interrupt is noticed between slices.
 */
final class EventFd implements AutoCloseable {
    static final int SLICE_MS = 100;

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment counter = arena.allocate(JAVA_LONG);
    private volatile boolean closed;

    private EventFd(int fd) {
        this.fd = fd;
    }

    static EventFd create() throws LibcException {
        return new EventFd(Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK));
    }

    int fd() {
        return fd;
    }

    /** Adds {@code value} (1 .. 2^64-2) to the counter, as the kernel's eventfd_signal does with 1. */
    void signal(long value) throws LibcException {
        if (value == 0 || value == -1L) throw new IllegalArgumentException("eventfd value must be 1 .. 0xFFFFFFFFFFFFFFFE");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            v.set(JAVA_LONG, 0, value);
            long n = Libc.write(fd, v, 8);
            if (n != 8) throw new IllegalStateException("eventfd write of " + n + " bytes");
        }
    }

    /** Reads and resets the counter without waiting: 0 if it was not signalled. */
    long take() throws LibcException {
        synchronized (counter) {
            try {
                long n = Libc.read(fd, counter, 8);
                if (n != 8) throw new IllegalStateException("eventfd read of " + n + " bytes");
            } catch (LibcException e) {
                if (e.errno() == Libc.EAGAIN) return 0;
                throw e;
            }
            return counter.get(JAVA_LONG, 0);
        }
    }

    /**
     * Waits until the counter is non-zero or the timeout passes, then takes it.
     *
     * @return the counter (> 0) if signalled, 0 on timeout
     */
    long await(Duration timeout) throws LibcException, InterruptedException {
        long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
        while (true) {
            if (Thread.interrupted()) throw new InterruptedException();
            if (closed) return 0;
            long leftMs = Math.max(0, (deadline - System.nanoTime() + 999_999) / 1_000_000);
            int slice = (int) Math.min(leftMs, SLICE_MS);
            short revents;
            try {
                revents = Libc.poll(fd, Libc.POLLIN, slice);
            } catch (LibcException e) {
                if (e.errno() == Libc.EINTR) continue;   // a signal: wait for the time left
                throw e;
            }
            if ((revents & (Libc.POLLERR | Libc.POLLNVAL)) != 0) {
                throw new IllegalStateException("poll on eventfd " + fd + " returned revents 0x" + Integer.toHexString(revents));
            }
            if ((revents & Libc.POLLIN) != 0) {
                long v = take();
                if (v > 0) return v;   // 0: another reader took it first; keep waiting
            }
            if (System.nanoTime() - deadline >= 0) return 0;
        }
    }

    @Override
    public void close() {
        synchronized (counter) {
            if (closed) return;
            closed = true;
            Libc.closeQuietly(fd);
            arena.close();
        }
    }
}
