package dev.nvmelm.device;

import dev.nvmelm.device.Queues.CompletionQueue;
import dev.nvmelm.device.Queues.SubmissionQueue;
import dev.nvmelm.spec.AsyncEvent;
import dev.nvmelm.spec.ControllerChoices;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.bus.ControllerBar;
import dev.nvmelm.spec.bus.DmaFault;
import dev.nvmelm.spec.bus.DmaMemory;
import dev.nvmelm.spec.bus.InterruptLine;
import dev.nvmelm.spec.bus.Registers;

import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;

/**
 * One NVMe controller of the subsystem, as the host sees it over PCIe: registers and doorbells
 * ({@link ControllerBar}), queues in host memory reached through {@link DmaMemory}, MSI-X style
 * interrupts. All of its state is touched only on its own single-threaded executor, so commands
 * of one controller execute one at a time in fetch order; other threads hand work over with
 * {@link #run}. A migratable controller that is not ACTIVE fetches nothing, admin queue included:
 * its submissions wait in host memory until a Resume, here or on a destination that received
 * its state.
 */
public final class Controller implements ControllerBar {
    static final int MQES = 1023;          // 0's based: queues up to 1024 entries
    static final int MAX_IO_QUEUES = 16;
    static final int AERL = 3;             // 0's based: 4 outstanding AERs
    private static final long CAP = MQES | 1L << 16 | 20L << 24 | 1L << 37;  // CQR, TO 10 s, CSS NVM, DSTRD 0, MPS 4K

    /** SUSPENDING: a Suspend was accepted and fetching has stopped, but the MC has not finished suspending. */
    public enum State { ACTIVE, SUSPENDING, SUSPENDED }

    /**
     * A command whose completion comes later (from any thread, through {@link #finish}). It
     * remembers the controller generation it was fetched in: a completion for a command from
     * before a controller reset is dropped, never posted into the new admin queue.
     */
    record Deferred(int sqid, int cid, int generation) {}

    /** What a handler returns: a completion now, or {@link #DEFERRED} (completed later by the handler). */

    final int cntlid;
    final Subsystem subsystem;
    private final ExecutorService executor;
    private final AdminHandler admin;
    private final IoHandler io;
    private volatile DmaMemory mem;
    private volatile InterruptLine irq = v -> { };
    private volatile int cc, csts, aqa;
    private volatile long asq, acq;
    final SubmissionQueue[] sqs = new SubmissionQueue[MAX_IO_QUEUES + 1];
    final CompletionQueue[] cqs = new CompletionQueue[MAX_IO_QUEUES + 1];
    volatile State state = State.ACTIVE;   // ACTIVE or SUSPENDED; written only on this controller's thread
    /**
     * Suspends the MMC has accepted but this controller has not executed yet. Fetching stops as
     * soon as it is non-zero, so a busy controller stops at its next command, not when its
     * submission queues run dry; the state itself changes on this controller's thread, in
     * order with everything else it does.
     */
    final AtomicInteger pendingSuspends = new AtomicInteger();
    private int generation;   // incremented by every controller reset
    private final ArrayDeque<int[]> pendingAers = new ArrayDeque<>();
    private final ArrayDeque<AsyncEvent> queuedEvents = new ArrayDeque<>();
    private volatile String fatalReason;   // the first reason for CSTS.CFS; cleared by a reset
    private volatile String lastInvalidDoorbell;
    private int maskedTypes;   // AET bits masked after delivery (only with ControllerChoices.maskOneShotAfterDelivery)
    volatile long throttleWriteIops;
    long nextWriteNanos;
    byte[] incomingState;   // Set Controller State chunks so far; null: no sequence open

    Controller(int cntlid, Subsystem subsystem, ExecutorService executor) {
        this.cntlid = cntlid;
        this.subsystem = subsystem;
        this.executor = executor;
        this.admin = new AdminHandler(this);
        this.io = new IoHandler(this);
    }

    public int cntlid() { return cntlid; }

    public boolean isMigrationManagement() { return cntlid == 0; }

    public State migrationState() {
        State s = state;
        return s == State.ACTIVE && pendingSuspends.get() > 0 ? State.SUSPENDING : s;
    }

    /** Attaches the host memory this controller DMAs into (the host's or the guest's IOVA space). */
    public void attach(DmaMemory memory) {
        this.mem = memory;
    }

    DmaMemory memory() {
        DmaMemory m = mem;
        if (m == null) throw new DmaFault("controller " + cntlid + " is not attached to host memory");
        return m;
    }

    boolean hasIoQueues() {
        for (int q = 1; q <= MAX_IO_QUEUES; q++) if (sqs[q] != null || cqs[q] != null) return true;
        return false;
    }

    // ---- ControllerBar ----

    @Override
    public int read32(int offset) {
        return switch (offset) {
            case Registers.CAP -> (int) CAP;
            case Registers.CAP + 4 -> (int) (CAP >>> 32);
            case Registers.VS -> 0x00020100;   // NVMe 2.1
            case Registers.CC -> cc;
            case Registers.CSTS -> csts;
            case Registers.AQA -> aqa;
            default -> 0;
        };
    }

    @Override
    public long read64(int offset) {
        return switch (offset) {
            case Registers.CAP -> CAP;
            case Registers.ASQ -> asq;
            case Registers.ACQ -> acq;
            default -> Integer.toUnsignedLong(read32(offset)) | (long) read32(offset + 4) << 32;
        };
    }

    @Override
    public void write32(int offset, int value) {
        if (offset >= Registers.DOORBELL_BASE) {
            int idx = (offset - Registers.DOORBELL_BASE) / 4;
            int qid = idx / 2;
            if (idx % 2 == 0) run(() -> sqTailDoorbell(qid, value));
            else run(() -> cqHeadDoorbell(qid, value));
            return;
        }
        switch (offset) {
            case Registers.CC -> run(() -> setCc(value));
            case Registers.AQA -> aqa = value;
            case Registers.ASQ -> asq = (asq & ~0xffffffffL) | Integer.toUnsignedLong(value);
            case Registers.ASQ + 4 -> asq = (asq & 0xffffffffL) | (long) value << 32;
            case Registers.ACQ -> acq = (acq & ~0xffffffffL) | Integer.toUnsignedLong(value);
            case Registers.ACQ + 4 -> acq = (acq & 0xffffffffL) | (long) value << 32;
            default -> { /* read-only or reserved: ignored, as hardware does */ }
        }
    }

    @Override
    public void write64(int offset, long value) {
        switch (offset) {
            case Registers.ASQ -> asq = value;
            case Registers.ACQ -> acq = value;
            default -> {
                write32(offset, (int) value);
                write32(offset + 4, (int) (value >>> 32));
            }
        }
    }

    @Override
    public void connectInterrupts(InterruptLine line) {
        this.irq = line;
    }

    // ---- execution ----

    /** Runs a task on this controller's thread (no-op after shutdown). */
    void run(Runnable task) {
        try {
            executor.execute(() -> {
                try {
                    task.run();
                } catch (RuntimeException e) {
                    fatal("internal error: " + e);
                }
            });
        } catch (RejectedExecutionException ignored) {
            // shut down
        }
    }

    private void setCc(int value) {
        boolean wasEnabled = (cc & Registers.CC_EN) != 0, enable = (value & Registers.CC_EN) != 0;
        cc = value;
        if (enable && !wasEnabled) {
            try {
                int sqSize = (aqa & 0xfff) + 1, cqSize = ((aqa >>> 16) & 0xfff) + 1;
                if (sqSize < 2 || cqSize < 2) throw new DmaFault("admin queue sizes must be at least 2");
                if ((asq & 0xfff) != 0 || (acq & 0xfff) != 0) throw new DmaFault("admin queue bases must be page aligned");
                sqs[0] = new SubmissionQueue(0, 0, sqSize, 0, asq, memory());
                cqs[0] = new CompletionQueue(0, cqSize, true, 0, acq, memory());
                csts = Registers.CSTS_RDY;
                process();   // I/O queues restored by Set Controller State may already hold commands
            } catch (DmaFault e) {
                csts = 0;
                fatal("enable: " + e.getMessage());
            }
        } else if (!enable && wasEnabled) {
            reset();
        }
        if ((value >>> 14 & 3) != 0 && (csts & 0xc) == 0) {  // shutdown notification: flush, report complete
            try {
                subsystem.flush();
            } catch (java.io.IOException ignored) {
                // reported through the data path, not the shutdown status
            }
            csts |= 2 << 2;
        }
    }

    /**
     * Controller reset: queues and pending events go, deferred commands will not complete; an
     * MMC's CDQs are deleted (logging stops).
     */
    private void reset() {
        generation++;
        java.util.Arrays.fill(sqs, null);
        java.util.Arrays.fill(cqs, null);
        pendingAers.clear();
        queuedEvents.clear();
        maskedTypes = 0;
        incomingState = null;
        fatalReason = null;
        if (isMigrationManagement()) {
            for (Cdq q : subsystem.cdqs.all()) {
                subsystem.cdqs.remove(q.cdqid);
                q.delete();
            }
        }
        csts = 0;
    }

    /** Controller Fatal Status, with the reason kept for whoever looks ({@link #fatalReason()}). */
    private void fatal(String why) {
        if (fatalReason == null) fatalReason = why;
        csts |= Registers.CSTS_CFS;
    }

    /** Why this controller set CSTS.CFS, or empty while it has not. */
    public java.util.Optional<String> fatalReason() {
        return java.util.Optional.ofNullable(fatalReason);
    }

    /**
     * A doorbell of no queue, or a value outside the queue: ignored, and reported as QEMU does,
     * with an Error Status asynchronous event (Write to Invalid Doorbell Register / Invalid
     * Doorbell Write Value). The last one is kept in {@link #lastInvalidDoorbell()}.
     */
    private void invalidDoorbell(AsyncEvent e, String what) {
        lastInvalidDoorbell = what;
        postAsyncEvent(e);
    }

    /** The last invalid doorbell write this controller ignored, or empty. */
    public java.util.Optional<String> lastInvalidDoorbell() {
        return java.util.Optional.ofNullable(lastInvalidDoorbell);
    }

    private void sqTailDoorbell(int qid, int tail) {
        SubmissionQueue sq = qid <= MAX_IO_QUEUES ? sqs[qid] : null;
        if (sq == null) {
            invalidDoorbell(AsyncEvent.invalidDoorbellRegister(), "SQ " + qid + " tail doorbell: no such queue");
            return;
        }
        if (tail < 0 || tail >= sq.size) {
            invalidDoorbell(AsyncEvent.invalidDoorbellWriteValue(), "SQ " + qid + " tail " + Integer.toUnsignedString(tail) + " outside 0.." + (sq.size - 1));
            return;
        }
        sq.tail = tail;
        process();
    }

    private void cqHeadDoorbell(int qid, int head) {
        CompletionQueue cq = qid <= MAX_IO_QUEUES ? cqs[qid] : null;
        if (cq == null) {
            invalidDoorbell(AsyncEvent.invalidDoorbellRegister(), "CQ " + qid + " head doorbell: no such queue");
            return;
        }
        if (head < 0 || head >= cq.size) {
            invalidDoorbell(AsyncEvent.invalidDoorbellWriteValue(), "CQ " + qid + " head " + Integer.toUnsignedString(head) + " outside 0.." + (cq.size - 1));
            return;
        }
        cq.head = head;
        if (cq.drainOverflow() > 0) interrupt(cq);
        process();   // SQs that stopped at a full CQ go on
    }

    /** Fetches and executes until every SQ is empty or this controller stops fetching. */
    void process() {
        if ((csts & Registers.CSTS_RDY) == 0) return;
        boolean more = true;
        while (more) {
            more = false;
            for (int q = 0; q <= MAX_IO_QUEUES; q++) {
                SubmissionQueue sq = sqs[q];
                if (sq == null || sq.empty()) continue;
                if (!fetching()) return;
                for (int budget = 32; budget > 0 && !sq.empty() && fetching() && sqs[q] == sq && roomFor(sq); budget--) {
                    Sqe sqe;
                    try {
                        sqe = sq.fetch();
                    } catch (RuntimeException e) {
                        fatal("SQ " + q + " fetch failed: " + e);
                        return;
                    }
                    // CDW0 flags: FUSE and PSDT must be 0 (no fused operations, no SGLs: PRPs only), 5:2 reserved
                    Result r = sqe.flags() != 0 ? Result.invalidField() : q == 0 ? admin.execute(sqe) : io.execute(sqe, q);
                    if (r != Result.DEFERRED) complete(q, sqe.cid(), r);
                }
                if (!sq.empty() && roomFor(sq)) more = true;
            }
        }
    }

    /**
     * Flow control: nothing is fetched from an SQ whose CQ is full (or has completions waiting
     * for room), so a host that stops reaping cannot make the controller hold an unbounded number
     * of finished commands, and every fetched command's completion is in host memory by the time
     * the next command runs: a suspend never leaves a finished command behind.
     */
    private boolean roomFor(SubmissionQueue sq) {
        CompletionQueue cq = cqs[sq.cqid];
        return cq != null && !cq.full() && cq.overflow.isEmpty();
    }

    private boolean fetching() {
        return state == State.ACTIVE && pendingSuspends.get() == 0;
    }

    /** Posts a completion for a command of SQ {@code sqid} (on this controller's thread). */
    void complete(int sqid, int cid, Result r) {
        SubmissionQueue sq = sqs[sqid];
        if (sq == null) return;   // the SQ was deleted meanwhile: nothing to complete into
        CompletionQueue cq = cqs[sq.cqid];
        if (cq == null) return;
        try {
            cq.post(new Cqe(r.dw0(), r.dw1(), sq.head, sqid, cid, false, r.status()));
        } catch (RuntimeException e) {
            fatal("CQ " + cq.qid + " write failed: " + e);
            return;
        }
        interrupt(cq);
    }

    /** Called while executing a command that will complete later (on this controller's thread). */
    Deferred defer(int sqid, int cid) {
        return new Deferred(sqid, cid, generation);
    }

    /** True if no reset happened since {@code d} was fetched (on this controller's thread). */
    boolean current(Deferred d) {
        return d.generation() == generation;
    }

    /** Completes a deferred command from any thread; dropped if the controller was reset meanwhile. */
    void finish(Deferred d, Result r) {
        run(() -> {
            if (current(d)) complete(d.sqid(), d.cid(), r);
            process();
        });
    }

    private void interrupt(CompletionQueue cq) {
        if (cq.interruptsEnabled) irq.raise(cq.vector);
    }

    // ---- asynchronous events ----

    /** An Asynchronous Event Request arrived; completes at once if an event is queued and not masked. */
    Result asyncEventRequest(int cid) {
        if (pendingAers.size() > AERL) return Result.error(dev.nvmelm.spec.StatusCodes.AER_LIMIT);
        AsyncEvent e = (maskedTypes & 1 << peekType()) == 0 ? queuedEvents.poll() : null;
        if (e != null) return delivered(e);
        pendingAers.add(new int[]{0, cid});
        return Result.DEFERRED;
    }

    private int peekType() {
        AsyncEvent e = queuedEvents.peek();
        return e == null ? 0 : e.type();
    }

    /**
     * Reports an event to the host. By default One-Shot CDQ events are not masked after
     * delivery; {@link ControllerChoices#maskOneShotAfterDelivery()} masks them as QEMU does (its
     * hosts see only the first one, the rest wait in the queue).
     */
    void postAsyncEvent(AsyncEvent e) {
        run(() -> {
            int[] aer = (maskedTypes & 1 << e.type()) == 0 ? pendingAers.poll() : null;
            if (aer != null) {
                complete(aer[0], aer[1], delivered(e));
            } else {
                if (queuedEvents.size() >= 64) queuedEvents.poll();
                queuedEvents.add(e);
            }
        });
    }

    /**
     * Withdraws the queued (generated, not yet delivered) events equal to {@code e}. Called on
     * this controller's thread; an event whose posting task has not run yet is not withdrawn.
     */
    void withdrawQueuedEvents(AsyncEvent e) {
        queuedEvents.removeIf(e::equals);
    }

    private Result delivered(AsyncEvent e) {
        if (e.type() == AsyncEvent.AET_ONE_SHOT && subsystem.choices().maskOneShotAfterDelivery()) maskedTypes |= 1 << e.type();
        return new Result(Status.SUCCESS, e.dw0(), e.dw1());
    }

    void shutdown() {
        executor.shutdownNow();
    }
}
