package dev.nvmelm.host.pci;

import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.spec.IoOpcode;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The VMM's quiesce of a guest before its controller is suspended for a move to another host:
 * while the gate holds, new I/O commands wait here (not in a submission queue), and
 * {@link #quiesce} returns once every command already submitted has completed, so the
 * controller state has no command waiting in an SQ (the destination has no guest memory to
 * fetch it from). Released, the held commands go out in order; detached (the controller now
 * runs on another host), they and every later one complete with Command Aborted due to SQ
 * Deletion and DNR (NVMe Base 2.1, Figure 102): the source's queues are deleted by the reset
 * that follows, and this controller will not serve them again. A Flush is the one exception: it
 * completes successfully, because every write this controller acknowledged was copied and made
 * durable at the destination before the detach (docs/network.md), and a source QEMU flushes its
 * disk when it inactivates it after the switchover: failing that flush would fail QEMU's
 * migration after the storage had moved.
 */
final class IoGate {
    enum State { OPEN, HELD, DETACHED }

    /** A command held while the gate is closed, and its caller's future. */
    record Held(Sqe sqe, MemorySegment data, CompletableFuture<Completion> result) {}

    static final Completion ABORTED = new Completion(0, 0, Status.dnr(StatusCodes.ABORT_SQ_DELETED));
    static final Completion FLUSHED = new Completion(0, 0, Status.SUCCESS);

    /** How a detached gate completes {@code sqe}: a Flush succeeds (see the class comment), the rest abort. */
    static Completion afterDetach(Sqe sqe) {
        return IoOpcode.FLUSH.isOpcodeOf(sqe) ? FLUSHED : ABORTED;
    }

    private State state = State.OPEN;
    private int outstanding;
    private final ArrayDeque<Held> held = new ArrayDeque<>();
    private String detachedTo;

    /**
     * Admits an I/O command: null when the caller submits it now (it is counted until
     * {@link #completed}), else the future the caller returns (held, or already aborted).
     */
    synchronized CompletableFuture<Completion> admit(Sqe sqe, MemorySegment data) {
        switch (state) {
            case OPEN -> {
                outstanding++;
                return null;
            }
            case HELD -> {
                Held h = new Held(sqe, data, new CompletableFuture<>());
                held.add(h);
                return h.result();
            }
            default -> {
                return CompletableFuture.completedFuture(afterDetach(sqe));
            }
        }
    }

    /** An admitted command completed (or failed to go out). */
    synchronized void completed() {
        if (--outstanding == 0) notifyAll();
    }

    /**
     * Holds new commands and waits until none is outstanding; returns how many still are at the
     * timeout (0: quiesced). The gate stays holding either way: the caller opens it on a failure.
     */
    synchronized int quiesce(Duration timeout, String name) throws NvmeException {
        if (state == State.DETACHED) throw new NvmeException(name + ": " + detachedTo);
        state = State.HELD;
        long deadline = System.nanoTime() + timeout.toNanos();
        while (outstanding > 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0) break;
            try {
                wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return outstanding;
    }

    /** Opens the gate; returns the held commands, oldest first, for the caller to submit. */
    synchronized List<Held> open() {
        if (state == State.DETACHED) return List.of();
        state = State.OPEN;
        List<Held> out = new ArrayList<>(held);
        outstanding += out.size();   // counted now: a quiesce that follows waits for them too
        held.clear();
        return out;
    }

    /** Refuses this and every later command for good; returns the held ones to complete with {@link #afterDetach}. */
    synchronized List<Held> detach(String where) {
        state = State.DETACHED;
        detachedTo = where;
        List<Held> out = new ArrayList<>(held);
        held.clear();
        return out;
    }

    /** Why commands are refused, or null while the gate is not detached. */
    synchronized String detachedTo() {
        return detachedTo;
    }

    synchronized int heldCount() {
        return held.size();
    }
}
