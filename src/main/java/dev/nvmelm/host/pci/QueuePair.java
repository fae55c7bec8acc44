package dev.nvmelm.host.pci;

import dev.nvmelm.host.Completion;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.bus.ControllerBar;
import dev.nvmelm.spec.bus.Registers;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;

/**
 * A submission/completion queue pair the host driver owns: it writes SQEs at its tail and rings
 * the doorbell, and reaps CQEs by phase tag when the controller interrupts. At most depth-1
 * commands are outstanding (the smaller queue's), so neither queue can overflow. A pair is either
 * created by this driver or adopted where a migrated controller's state left it.
 */
final class QueuePair {
    interface OnComplete {
        void done(Cqe cqe);
    }

    final int qid;
    /** Entries of the SQ (and command identifiers) and of the CQ; equal unless adopted. */
    final int depth, cqDepth;
    /** The interrupt vector of the CQ: the driver's own pairs use their QID. */
    final int vector;
    final MemorySegment sqRing, cqRing;
    final long sqIova, cqIova;
    private volatile ControllerBar bar;
    private final int sqDoorbell, cqDoorbell;
    private final Semaphore credits;
    private final OnComplete[] waiting;
    private final ArrayDeque<Integer> freeCids = new ArrayDeque<>();
    private int sqTail, cqHead;
    private boolean phase = true;
    private final Semaphore interrupts = new Semaphore(0);
    private volatile boolean closed;

    QueuePair(int qid, int depth, HostMemory mem, ControllerBar bar, int dstrd) {
        this(qid, depth, depth, qid, mem.allocate((long) depth * Sqe.SIZE), mem.allocate((long) depth * Cqe.SIZE), mem, bar, dstrd, 0, 0, true);
    }

    /**
     * A pair whose rings already hold a controller's queues, continuing at the SQ tail, CQ head
     * and phase the controller state names (a migrated controller's queues adopted by this host).
     */
    QueuePair(int qid, int sqDepth, int cqDepth, int vector, MemorySegment sqRing, MemorySegment cqRing, HostMemory mem, ControllerBar bar,
              int dstrd, int sqTail, int cqHead, boolean phase) {
        this.qid = qid;
        this.depth = sqDepth;
        this.cqDepth = cqDepth;
        this.vector = vector;
        this.bar = bar;
        this.sqRing = sqRing;
        this.cqRing = cqRing;
        this.sqIova = mem.iovaOf(sqRing);
        this.cqIova = mem.iovaOf(cqRing);
        this.sqDoorbell = Registers.sqTailDoorbell(qid, dstrd);
        this.cqDoorbell = Registers.cqHeadDoorbell(qid, dstrd);
        this.credits = new Semaphore(Math.min(sqDepth, cqDepth) - 1);
        this.waiting = new OnComplete[sqDepth];
        for (int i = 0; i < sqDepth; i++) freeCids.add(i);
        this.sqTail = sqTail;
        this.cqHead = cqHead;
        this.phase = phase;
        Thread.ofVirtual().name("nvme-reaper-q" + qid).start(this::reapLoop);
    }

    /**
     * Writes the phase tags a CQ ring would hold at this pair's head: slots before it were
     * written in the current lap, the rest in the previous one. Memory recreated empty (zero
     * tags) would otherwise read as new completions whenever the current phase is 0.
     */
    synchronized void markConsumed() {
        for (int i = 0; i < cqDepth; i++) {
            boolean tag = i < cqHead ? phase : !phase;
            long at = (long) i * Cqe.SIZE + 14;
            cqRing.set(java.lang.foreign.ValueLayout.JAVA_BYTE, at, (byte) (tag ? 1 : 0));
        }
    }

    /** Tells the controller the CQ head this pair starts from (an adopted pair skips the completions it cannot own). */
    synchronized void ringCqHead() {
        bar.write32(cqDoorbell, cqHead);
    }

    /** Queues a command (blocking while depth-1 are outstanding) and rings the doorbell. */
    void submit(Sqe sqe, OnComplete onComplete) throws InterruptedException {
        credits.acquire();
        synchronized (this) {
            int cid = freeCids.poll();
            waiting[cid] = onComplete;
            sqe.withCid(cid).encode(sqRing, (long) sqTail * Sqe.SIZE);
            sqTail = (sqTail + 1) % depth;
            bar.write32(sqDoorbell, sqTail);
        }
    }

    /** Called from the controller's interrupt: wake the reaper (never reap on the controller's thread). */
    void interrupt() {
        interrupts.release();
    }

    private void reapLoop() {
        while (!closed) {
            try {
                interrupts.acquire();
                interrupts.drainPermits();
            } catch (InterruptedException e) {
                return;
            }
            try {
                reap();
            } catch (IllegalStateException e) {
                if (closed) return;   // the device closed and its memory with it while we were reaping
                throw e;
            }
        }
    }

    void reap() {
        List<Runnable> done = new ArrayList<>();
        synchronized (this) {
            int reaped = 0;
            while (Cqe.phaseAt(cqRing, (long) cqHead * Cqe.SIZE) == phase) {
                Cqe c = Cqe.decode(cqRing, (long) cqHead * Cqe.SIZE);
                cqHead = (cqHead + 1) % cqDepth;
                if (cqHead == 0) phase = !phase;
                reaped++;
                int cid = c.cid();
                OnComplete w = cid < depth ? waiting[cid] : null;
                if (w == null) continue;   // a completion we never asked for: ignore it
                waiting[cid] = null;
                freeCids.add(cid);
                credits.release();
                done.add(() -> w.done(c));
            }
            if (reaped > 0) bar.write32(cqDoorbell, cqHead);
        }
        done.forEach(Runnable::run);
    }

    /**
     * Doorbells go to another controller from now on (the I/O queue itself is unchanged). The
     * doorbell values move with it, as a VMM moves device registers: a ring written to the old
     * controller after its state was read (the guest keeps running) would otherwise be lost,
     * and a guest with every command in flight would never ring again.
     */
    void rebind(ControllerBar newBar) {
        synchronized (this) {
            this.bar = newBar;
            newBar.write32(sqDoorbell, sqTail);
            newBar.write32(cqDoorbell, cqHead);
        }
    }

    /**
     * Starts this queue afresh on a new controller: outstanding commands are abandoned (their
     * callbacks get {@code abandoned}), pointers and phase reset, the CQ ring zeroed.
     */
    void restart(ControllerBar newBar, Cqe abandoned) {
        List<OnComplete> dropped = new ArrayList<>();
        synchronized (this) {
            for (int cid = 0; cid < depth; cid++) {
                if (waiting[cid] != null) {
                    dropped.add(waiting[cid]);
                    waiting[cid] = null;
                    freeCids.add(cid);
                    credits.release();
                }
            }
            sqTail = 0;
            cqHead = 0;
            phase = true;
            cqRing.fill((byte) 0);
            sqRing.fill((byte) 0);
            bar = newBar;
        }
        for (OnComplete o : dropped) o.done(abandoned);
    }

    void close() {
        closed = true;
        interrupts.release();
    }

    static Completion toCompletion(Cqe c) {
        return new Completion(c.dw0(), c.dw1(), c.status());
    }

    static CompletableFuture<Completion> failed(Throwable t) {
        return CompletableFuture.failedFuture(t);
    }
}
