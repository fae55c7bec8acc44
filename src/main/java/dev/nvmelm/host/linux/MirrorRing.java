package dev.nvmelm.host.linux;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * A CDQ ring in user memory that this process produces into, for kernels whose CDQ ioctl keeps
 * the real ring in kernel memory and hands out whole entries through read(2) (both RFCs known
 * byte-exactly; docs/linux-backend.md, "The CDQ"). The consumer in {@code host.cdq} then reads this
 * ring in place exactly as it reads a controller-written one.
 *
 * <p>Producer rules are the controller's (NVMe Base 2.1, section 5.1.4; NVM Command Set, Figure 177; docs/cdq.md): the ring starts
 * zeroed, the producer phase is 1 on the first pass and flips when the tail wraps, usable
 * capacity is N-1, and each entry is written as bytes 0-30 and then byte 31 with a release
 * store, so a consumer that reads the phase byte with acquire semantics sees a whole entry.
 * The phase tag (byte 31 bit 0) is the mirror's own; the other attribute bits are the kernel's.
 *
 * <p>The head comes from the consumer's head report (Set Features FID 21h, intercepted by
 * {@link LinuxNvmeDevice}); a report outside the occupied region is refused, as a controller
 * refuses it with Invalid Field. Thread-safe.
 */
final class MirrorRing {
    static final int ENTRY_BYTES = 32;
    private static final VarHandle BYTE = ValueLayout.JAVA_BYTE.varHandle();

    private final MemorySegment ring;
    private final int entryCount;
    private int tail;        // next slot to write
    private int head;        // next slot the consumer will read (its last report)
    private int phase = 1;   // phase tag written on this pass
    private long published;

    MirrorRing(MemorySegment ring, int entryCount) {
        if (entryCount < 2) throw new IllegalArgumentException("a CDQ needs at least 2 entries, got " + entryCount);
        if (ring.byteSize() < (long) entryCount * ENTRY_BYTES) {
            throw new IllegalArgumentException("ring of " + ring.byteSize() + " bytes cannot hold " + entryCount + " entries");
        }
        this.ring = ring;
        this.entryCount = entryCount;
    }

    int entryCount() {
        return entryCount;
    }

    /** Slots that can be written without overwriting an entry the consumer has not reported consumed. */
    synchronized int freeSlots() {
        return entryCount - 1 - occupied();
    }

    private int occupied() {
        return Math.floorMod(tail - head, entryCount);
    }

    synchronized int tail() {
        return tail;
    }

    synchronized int head() {
        return head;
    }

    /** Entries published since creation. */
    synchronized long published() {
        return published;
    }

    /**
     * Copies {@code count} whole entries from {@code src} (count * 32 bytes) to the tail.
     *
     * @throws IllegalStateException if they do not fit (the caller reads at most {@link #freeSlots()})
     */
    synchronized void publish(MemorySegment src, int count) {
        if (count < 0 || (long) count * ENTRY_BYTES > src.byteSize()) throw new IllegalArgumentException(count + " entries from " + src.byteSize() + " bytes");
        if (count > freeSlots()) throw new IllegalStateException(count + " entries do not fit the " + freeSlots() + " free slots of the CDQ mirror");
        for (int i = 0; i < count; i++) {
            long from = (long) i * ENTRY_BYTES;
            long to = (long) tail * ENTRY_BYTES;
            MemorySegment.copy(src, from, ring, to, ENTRY_BYTES - 1);
            int attributes = src.get(ValueLayout.JAVA_BYTE, from + ENTRY_BYTES - 1) & 0xfe;
            BYTE.setRelease(ring, to + ENTRY_BYTES - 1, (byte) (attributes | phase));
            if (++tail == entryCount) {
                tail = 0;
                phase ^= 1;
            }
        }
        published += count;
    }

    /**
     * The consumer reports that every slot before {@code newHead} is consumed. Valid: a slot in
     * [0, N) from the old head up to the tail (mod N).
     *
     * @return false (and no change) if the report is outside that region
     */
    synchronized boolean reportHead(int newHead) {
        if (newHead < 0 || newHead >= entryCount) return false;
        if (Math.floorMod(newHead - head, entryCount) > occupied()) return false;
        head = newHead;
        return true;
    }
}
