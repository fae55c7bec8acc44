package dev.nvmelm.host.sim;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.NvmeException;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/** A CDQ of a served device: the ring is in the shared memory file, events come over the socket. */
final class SimCdqQueue implements CdqQueue {
    private final SimNvmeDevice device;
    private final int cdqid, cntlid, entries;
    private final MemorySegment ring;
    private final Cursor cursor;
    private final Semaphore events = new Semaphore(0);
    private boolean released;

    SimCdqQueue(SimNvmeDevice device, int cdqid, int cntlid, int entries, MemorySegment ring, Cursor cursor) {
        this.device = device;
        this.cdqid = cdqid;
        this.cntlid = cntlid;
        this.entries = entries;
        this.ring = ring;
        this.cursor = cursor;
    }

    @Override public int cdqid() { return cdqid; }

    @Override public int cntlid() { return cntlid; }

    @Override public int entryCount() { return entries; }

    @Override public MemorySegment ring() { return ring; }

    @Override public Cursor cursor() { return cursor; }

    void notifyEvent() {
        events.release();
    }

    @Override
    public boolean awaitNotification(Duration timeout) throws InterruptedException {
        boolean got = events.tryAcquire(timeout.toNanos(), TimeUnit.NANOSECONDS);
        events.drainPermits();
        return got;
    }

    @Override
    public synchronized void detach(Cursor at) throws NvmeException {
        if (released) return;
        released = true;
        device.release(this, true, at);
    }

    @Override
    public synchronized void close() throws NvmeException {
        if (released) return;
        released = true;
        device.release(this, false, Cursor.START);
    }
}
