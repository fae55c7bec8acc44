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
 * commands are outstanding, so neither queue can overflow.
 */
final class QueuePair {
    interface OnComplete {
        void done(Cqe cqe);
    }

    final int qid;
    final int depth;
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
        this.qid = qid;
        this.depth = depth;
        this.bar = bar;
        this.sqRing = mem.allocate((long) depth * Sqe.SIZE);
        this.cqRing = mem.allocate((long) depth * Cqe.SIZE);
        this.sqIova = mem.iovaOf(sqRing);
        this.cqIova = mem.iovaOf(cqRing);
        this.sqDoorbell = Registers.sqTailDoorbell(qid, dstrd);
        this.cqDoorbell = Registers.cqHeadDoorbell(qid, dstrd);
        this.credits = new Semaphore(depth - 1);
        this.waiting = new OnComplete[depth];
        for (int i = 0; i < depth; i++) freeCids.add(i);
        Thread.ofVirtual().name("nvme-reaper-q" + qid).start(this::reapLoop);
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
                cqHead = (cqHead + 1) % depth;
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
