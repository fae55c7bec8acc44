package dev.nvmelm.host.pci;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.NvmeStatusException;
import dev.nvmelm.spec.AsyncEvent;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/** A CDQ created by {@link PciNvmeDevice}: the ring in host memory and its event notifications. */
final class PciCdqQueue implements CdqQueue {
    private final PciNvmeDevice device;
    private final int cdqid, cntlid, entries;
    private final MemorySegment ring;
    private final List<MemorySegment> owned;
    private final HostMemory mem;
    private final Semaphore events = new Semaphore(0);
    private volatile boolean closed;

    PciCdqQueue(PciNvmeDevice device, int cdqid, int cntlid, int entries, MemorySegment ring, List<MemorySegment> owned, HostMemory mem) {
        this.device = device;
        this.cdqid = cdqid;
        this.cntlid = cntlid;
        this.entries = entries;
        this.ring = ring.asSlice(0, (long) entries * 32).asReadOnly();
        this.owned = owned;
        this.mem = mem;
    }

    @Override public int cdqid() { return cdqid; }

    @Override public int cntlid() { return cntlid; }

    @Override public int entryCount() { return entries; }

    @Override public MemorySegment ring() { return ring; }

    void notifyEvent(AsyncEvent e) {
        events.release();
    }

    @Override
    public boolean awaitNotification(Duration timeout) throws InterruptedException {
        boolean got = events.tryAcquire(timeout.toNanos(), TimeUnit.NANOSECONDS);
        events.drainPermits();
        return got;
    }

    /** Deletes the CDQ, then frees the ring: the controller must never write into freed memory. */
    @Override
    public void close() throws NvmeException {
        if (closed) return;
        closed = true;
        device.forget(this);
        Completion c = device.admin(new ControllerDataQueueCommand.Delete(cdqid).toSqe(), null);
        // Free the ring only when the controller no longer has it; otherwise leak it rather
        // than let a live CDQ write into memory that is handed out again.
        if (c.ok() || c.status().is(StatusCodes.INVALID_CDQ)) owned.forEach(mem::free);
        if (!c.ok()) throw new NvmeStatusException(device.name() + ": Delete CDQ " + cdqid, c.status());
    }
}
