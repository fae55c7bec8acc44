package dev.nvmelm.host.cdq;

import dev.nvmelm.host.AsyncEventInfo;
import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.spec.AdminOpcode;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A scripted NvmeDevice that only understands Set Features FID 21h, records every such
 * command, and applies it to a {@link TestCdq}. It stands in for the controller only in tests
 * that need rings a correct controller would never produce (garbage NSIDs, reserved bits,
 * ESA 5) or exact control over when a Set Features takes effect (the arming race of docs/spec.md, "Tail Pointer Trigger"; one command
 * in flight); end-to-end behaviour is tested against the software controller.
 */
final class ScriptedDevice implements NvmeDevice {
    record SetCdq(int cdqid, int head, boolean etpt, int tpt) {}

    private final TestCdq cdq;
    private final Arena arena = Arena.ofShared();
    private final List<SetCdq> log = new ArrayList<>();
    private final Deque<Runnable> held = new ArrayDeque<>();
    private boolean hold;
    private Status failWith;
    private Consumer<SetCdq> beforeApply = c -> {};
    private int outstanding, maxOutstanding;

    ScriptedDevice(TestCdq cdq) {
        this.cdq = cdq;
    }

    /** Hold completions until {@link #releaseOne()}. */
    synchronized void hold(boolean v) { hold = v; }

    /** Complete every later Set Features with this status (null: success). */
    synchronized void failWith(Status s) { failWith = s; }

    /** Runs just before a command takes effect on the controller. */
    synchronized void beforeApply(Consumer<SetCdq> c) { beforeApply = c; }

    synchronized List<SetCdq> log() { return List.copyOf(log); }

    synchronized int outstanding() { return outstanding; }

    synchronized int maxOutstanding() { return maxOutstanding; }

    /** Applies and completes the oldest held command; false if none is held. */
    boolean releaseOne() {
        Runnable r;
        synchronized (this) {
            r = held.pollFirst();
        }
        if (r == null) return false;
        r.run();
        return true;
    }

    @Override
    public CompletableFuture<Completion> submitAdmin(Sqe sqe, MemorySegment data) {
        if (sqe.opcode() != AdminOpcode.SET_FEATURES.value() || (sqe.cdw10() & 0xff) != 0x21) {
            return CompletableFuture.failedFuture(new UnsupportedOperationException("scripted device: only Set Features 21h"));
        }
        var c = new SetCdq(sqe.cdw11() & 0xffff, sqe.cdw12(), sqe.cdw11() < 0, sqe.cdw13());
        var f = new CompletableFuture<Completion>();
        Runnable complete;
        boolean now;
        synchronized (this) {
            log.add(c);
            outstanding++;
            maxOutstanding = Math.max(maxOutstanding, outstanding);
            Status fail = failWith;
            Consumer<SetCdq> before = beforeApply;
            complete = () -> {
                before.accept(c);
                if (fail == null) {
                    if (c.cdqid() == cdq.cdqid()) cdq.setFeatures(c.head(), c.etpt(), c.tpt());
                }
                synchronized (this) {
                    outstanding--;
                }
                f.complete(new Completion(0, 0, fail == null
                        ? (c.cdqid() == cdq.cdqid() ? Status.SUCCESS : Status.dnr(StatusCodes.INVALID_CDQ)) : fail));
            };
            now = !hold;
            if (hold) held.addLast(complete);
        }
        if (now) complete.run();
        return f;
    }

    @Override public String name() { return "scripted"; }

    @Override
    public CompletableFuture<Completion> submitIo(Sqe sqe, MemorySegment data) {
        return CompletableFuture.failedFuture(new UnsupportedOperationException("scripted device: no I/O"));
    }

    @Override public MemorySegment allocateBuffer(long sizeBytes) { return arena.allocate(sizeBytes, 4096); }

    @Override public CdqQueue createCdq(int cntlid, long sizeBytes) { throw new UnsupportedOperationException(); }

    @Override public void onAsyncEvent(Consumer<AsyncEventInfo> listener) {}

    @Override public Duration timeout() { return Duration.ofSeconds(5); }

    @Override public void close() { arena.close(); }
}
