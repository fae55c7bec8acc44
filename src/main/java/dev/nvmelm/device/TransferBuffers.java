package dev.nvmelm.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Controller-side buffers for Read and Write data, reused across commands. A new native
 * buffer per command cost one page fault per 4 KiB moved and the zeroing of fresh memory
 * (the top frame of a profiled copy, docs/migration.md, "Whole-process copy"); Linux nvme-pci,
 * QEMU and SPDK keep buffers per queue slot for the same reason. At most {@link #RETAINED}
 * idle buffers are kept; a burst beyond that allocates buffers the GC frees once returned.
 */
final class TransferBuffers {
    static final int RETAINED = 16;

    private final long bufferBytes;
    private final ConcurrentLinkedQueue<MemorySegment> idle = new ConcurrentLinkedQueue<>();
    private final AtomicInteger idleCount = new AtomicInteger();

    TransferBuffers(long bufferBytes) {
        this.bufferBytes = bufferBytes;
    }

    /** A whole buffer of {@link #bufferBytes()} bytes; the caller slices it and gives the whole one back. */
    MemorySegment acquire() {
        MemorySegment b = idle.poll();
        if (b == null) return Arena.ofAuto().allocate(bufferBytes, 4096);
        idleCount.decrementAndGet();
        return b;
    }

    /** Gives back a buffer from {@link #acquire}; its contents are not cleared (the next command overwrites them). */
    void release(MemorySegment buffer) {
        if (buffer.byteSize() != bufferBytes) throw new IllegalArgumentException("not a whole transfer buffer");
        if (idleCount.incrementAndGet() <= RETAINED) idle.offer(buffer);
        else idleCount.decrementAndGet();
    }

    long bufferBytes() {
        return bufferBytes;
    }
}
