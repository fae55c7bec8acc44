package dev.nvmelm.host.cdq;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeStatusException;
import dev.nvmelm.spec.TailPointerTrigger;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Reports the consumer's head with Set Features FID 21h (NVMe Base 2.1, Figures 425-426) through
 * {@link CdqQueue#reportHead}, with
 * at most one command in flight: when one completes and the head has moved meanwhile, the next
 * is sent (the kernel RFC consumer's rule). The same command can arm the Tail Pointer Trigger
 * for the k-th entry past the head, at the slot the controller's {@link TailPointerTrigger}
 * rule needs (docs/spec.md, "Tail Pointer Trigger"). A failed report is not retried in a loop:
 * {@link #kick()} retries it at the caller's pace.
 */
final class HeadReporter {
    private final NvmeDevice device;
    private final CdqQueue queue;
    private final int cdqid;
    private final int entryCount;
    private final int triggerDistance;
    private final TailPointerTrigger trigger;
    private final Executor completions;
    private final CdqListener listener;

    // Guarded by this.
    private int wantedHead;
    private long wantedSequence;           // entries consumed up to wantedHead, since the start
    private int ackedHead;
    private long ackedSequence;
    private boolean inFlight;
    private boolean armRequested;
    private boolean armed;                 // a trigger for the k-th entry past ackedHead is believed armed
    private final List<CompletableFuture<Boolean>> armWaiters = new ArrayList<>();
    private long sent, failures;

    HeadReporter(NvmeDevice device, CdqQueue queue, int triggerDistance, TailPointerTrigger trigger,
                 Executor completions, CdqListener listener) {
        this.device = device;
        this.queue = queue;
        this.cdqid = queue.cdqid();
        this.entryCount = queue.entryCount();
        this.triggerDistance = triggerDistance;
        this.trigger = trigger;
        this.completions = completions;
        this.listener = listener;
    }

    private record Command(int head, long sequence, boolean arm, int tpt) {}

    /**
     * The consumer moved its head; report it when no report is in flight.
     *
     * @param sequence entries consumed since the start, up to {@code head}
     */
    void headMoved(int head, long sequence) {
        synchronized (this) {
            wantedHead = head;
            wantedSequence = sequence;
        }
        kick();
    }

    /**
     * Asks for a report of the current head that also arms the trigger. The future completes
     * with true once such a command has completed successfully (false if it failed). If a
     * trigger is already armed for this head and has not fired, no command is sent.
     */
    CompletableFuture<Boolean> arm() {
        CompletableFuture<Boolean> f = new CompletableFuture<>();
        synchronized (this) {
            if (armed && !inFlight && !armRequested && ackedHead == wantedHead) {
                f.complete(true);
                return f;
            }
            armRequested = true;
            armWaiters.add(f);
        }
        kick();
        return f;
    }

    /** A trigger notification arrived: ETPT is now clear on the controller. */
    synchronized void triggerFired() {
        armed = false;
    }

    /** Sends the next command if none is in flight and there is something to say. */
    void kick() {
        Command c;
        synchronized (this) {
            if (inFlight) return;
            if (armRequested) {
                c = new Command(wantedHead, wantedSequence, true, trigger.armFor(wantedHead, triggerDistance, entryCount));
                armRequested = false;
            } else if (wantedHead != ackedHead) {
                c = new Command(wantedHead, wantedSequence, false, 0);
            } else {
                return;
            }
            inFlight = true;
            sent++;
        }
        CompletableFuture<Completion> f;
        try {
            f = queue.reportHead(device, c.head(), c.arm(), c.tpt());
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenCompleteAsync((comp, err) -> completed(c, comp, err), completions);
    }

    private void completed(Command c, Completion comp, Throwable err) {
        Throwable failure = err;
        if (failure == null && !comp.ok()) failure = new NvmeStatusException("Set Features CDQ (FID 21h) for CDQID " + cdqid, comp.status());
        List<CompletableFuture<Boolean>> done = List.of();
        synchronized (this) {
            inFlight = false;
            if (failure == null) {
                ackedHead = c.head();
                ackedSequence = c.sequence();
                armed = c.arm();    // a report without ETPT disarms
            } else {
                failures++;
                armed = false;
            }
            if (c.arm() && !armRequested) {
                done = List.copyOf(armWaiters);
                armWaiters.clear();
            }
        }
        boolean ok = failure == null;
        for (CompletableFuture<Boolean> w : done) w.complete(ok);
        boolean armPending;
        synchronized (this) {
            armPending = armRequested;
        }
        if (!ok) {
            listener.onHeadReportFailed(c.head(), failure);
            // A failed report is retried by the next kick(), at the caller's pace; an arm
            // requested meanwhile is still sent (once), so its waiter gets an answer.
            if (!armPending) return;
        }
        kick();
    }

    synchronized long sent() { return sent; }

    synchronized long failures() { return failures; }

    synchronized int ackedHead() { return ackedHead; }

    /** Entries whose slots the controller has accepted as free (cumulative). */
    synchronized long ackedSequence() { return ackedSequence; }

    synchronized boolean inFlight() { return inFlight; }
}
