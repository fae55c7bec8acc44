package dev.nvmelm.host.pci;

import dev.nvmelm.spec.bus.DmaFault;
import dev.nvmelm.spec.bus.DmaMemory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Host memory as an I/O virtual address space, as an IOMMU presents it to a device: page-aligned
 * regions at IOVAs the host hands out. A controller attached to it can reach only what is
 * mapped, and {@link #resolve} checks every access, so a wild PRP becomes a fault, not a write.
 *
 * <p>Two kinds: private (each region its own native allocation), or carved out of one shared
 * backing segment, such as a file mapped by several processes; then a region's IOVA is
 * {@code IOVA_BASE + offset in the backing}, so another process that maps the same file can
 * address the same bytes by {@link #offsetOf}.
 */
public final class HostMemory implements DmaMemory, AutoCloseable {
    public static final int PAGE = 4096;
    public static final long IOVA_BASE = 0x1_0000_0000L;

    private record Region(long iova, MemorySegment segment, Arena arena) {
        long end() {
            return iova + segment.byteSize();
        }
    }

    private final ConcurrentSkipListMap<Long, Region> byIova = new ConcurrentSkipListMap<>();
    private final ConcurrentSkipListMap<Long, Region> byAddress = new ConcurrentSkipListMap<>();
    private final MemorySegment backing;                   // null: private regions
    private final TreeMap<Long, Long> freeRuns = new TreeMap<>();   // backing offset -> length
    private long nextIova = IOVA_BASE;

    public HostMemory() {
        this.backing = null;
    }

    /** Host memory carved from {@code backing} (page-aligned, a multiple of the page size). */
    public HostMemory(MemorySegment backing) {
        if (backing.address() % PAGE != 0 || backing.byteSize() % PAGE != 0 || backing.byteSize() < 2 * PAGE) {
            throw new IllegalArgumentException("backing memory must be page-aligned and at least two pages");
        }
        this.backing = backing;
        freeRuns.put(0L, backing.byteSize());
    }

    /** Allocates zeroed, page-aligned memory mapped for DMA; freed by {@link #free} or {@link #close}. */
    public synchronized MemorySegment allocate(long sizeBytes) {
        if (sizeBytes <= 0) throw new IllegalArgumentException("allocation of " + sizeBytes + " bytes");
        long size = (sizeBytes + PAGE - 1) / PAGE * PAGE;
        Region r;
        if (backing == null) {
            Arena arena = Arena.ofShared();
            MemorySegment seg = arena.allocate(size, PAGE);   // zeroed by the JDK
            r = new Region(nextIova, seg, arena);
            nextIova += size + PAGE;   // a guard page between regions: an overrun is a fault
        } else {
            long off = carve(size + PAGE);   // the guard page stays unmapped in IOVA space too
            MemorySegment seg = backing.asSlice(off, size).fill((byte) 0);
            r = new Region(IOVA_BASE + off, seg, null);
        }
        byIova.put(r.iova(), r);
        byAddress.put(r.segment().address(), r);
        return r.segment().asSlice(0, sizeBytes);
    }

    private long carve(long size) {
        for (Map.Entry<Long, Long> run : freeRuns.entrySet()) {
            // copy before removing: TreeMap may reuse the removed entry's node for its successor
            long off = run.getKey(), length = run.getValue();
            if (length >= size) {
                freeRuns.remove(off);
                if (length > size) freeRuns.put(off + size, length - size);
                return off;
            }
        }
        throw new OutOfMemoryError("host memory exhausted: no free run of " + size + " bytes in " + backing.byteSize());
    }

    private void release(long off, long size) {
        Map.Entry<Long, Long> next = freeRuns.ceilingEntry(off);
        if (next != null && next.getKey() == off + size) {
            size += next.getValue();
            freeRuns.remove(next.getKey());
        }
        Map.Entry<Long, Long> prev = freeRuns.floorEntry(off);
        if (prev != null && prev.getKey() + prev.getValue() == off) {
            off = prev.getKey();
            size += prev.getValue();
        }
        freeRuns.put(off, size);
    }

    /**
     * Maps fresh zeroed memory at a given IOVA, as a VMM does when it recreates a migrated guest's
     * memory at the addresses the guest's queues name. In shared memory the IOVA names an offset
     * of the backing ({@code IOVA_BASE + offset}), and that run (with its guard page) must be free.
     */
    public synchronized MemorySegment allocateAt(long iova, long sizeBytes) {
        if (iova % PAGE != 0 || sizeBytes <= 0) throw new IllegalArgumentException("IOVA 0x" + Long.toHexString(iova) + " is not page aligned");
        long size = (sizeBytes + PAGE - 1) / PAGE * PAGE;
        Map.Entry<Long, Region> before = byIova.floorEntry(iova + size - 1);
        if (before != null && before.getValue().end() > iova) {
            throw new IllegalArgumentException("IOVA [0x" + Long.toHexString(iova) + ", +" + size + ") overlaps a mapped region");
        }
        Region r;
        if (backing != null) {
            long off = iova - IOVA_BASE;
            if (iova < IOVA_BASE || off > backing.byteSize() - size - PAGE) {
                throw new IllegalArgumentException("IOVA [0x" + Long.toHexString(iova) + ", +" + size + ") is outside this host memory (IOVA 0x"
                        + Long.toHexString(IOVA_BASE) + ", " + backing.byteSize() + " bytes)");
            }
            carveAt(off, size + PAGE);
            r = new Region(iova, backing.asSlice(off, size).fill((byte) 0), null);
        } else {
            Arena arena = Arena.ofShared();
            r = new Region(iova, arena.allocate(size, PAGE), arena);
            nextIova = Math.max(nextIova, iova + size + PAGE);
        }
        byIova.put(iova, r);
        byAddress.put(r.segment().address(), r);
        return r.segment().asSlice(0, sizeBytes);
    }

    /** Takes exactly [off, off+size) out of the free runs; it must lie inside one. */
    private void carveAt(long off, long size) {
        Map.Entry<Long, Long> run = freeRuns.floorEntry(off);
        if (run == null || run.getKey() + run.getValue() < off + size) {
            throw new IllegalArgumentException("host memory at offset " + off + " (+" + size + ") is already in use");
        }
        long start = run.getKey(), length = run.getValue();
        freeRuns.remove(start);
        if (off > start) freeRuns.put(start, off - start);
        if (start + length > off + size) freeRuns.put(off + size, start + length - off - size);
    }

    /** The IOVA of a segment inside mapped memory, or -1 if it is not DMA memory. */
    public long iovaOf(MemorySegment seg) {
        if (!seg.isNative()) return -1;
        Map.Entry<Long, Region> e = byAddress.floorEntry(seg.address());
        if (e == null) return -1;
        Region r = e.getValue();
        long off = seg.address() - r.segment().address();
        return off + seg.byteSize() <= r.segment().byteSize() ? r.iova() + off : -1;
    }

    /** Offset of {@code seg} in the shared backing (what another mapper of it uses), or -1. */
    public long offsetOf(MemorySegment seg) {
        long iova = backing == null ? -1 : iovaOf(seg);
        return iova < 0 ? -1 : iova - IOVA_BASE;
    }

    /**
     * The allocated memory at [offset, offset+length) of the shared backing, which must lie
     * inside one live allocation.
     */
    public MemorySegment atOffset(long offset, long length) {
        if (backing == null) throw new IllegalStateException("private host memory has no offsets");
        if (offset < 0 || offset > Long.MAX_VALUE - IOVA_BASE) throw new DmaFault("offset " + offset + " is outside host memory");
        return resolve(IOVA_BASE + offset, length);
    }

    public synchronized void free(MemorySegment seg) {
        Map.Entry<Long, Region> e = byAddress.floorEntry(seg.address());
        if (e == null || e.getKey() != seg.address()) throw new IllegalArgumentException("not the start of an allocation");
        Region r = e.getValue();
        byAddress.remove(r.segment().address());
        byIova.remove(r.iova());
        if (r.arena() != null) r.arena().close();
        else release(r.iova() - IOVA_BASE, r.segment().byteSize() + PAGE);
    }

    @Override
    public MemorySegment resolve(long iova, long length) {
        Map.Entry<Long, Region> e = byIova.floorEntry(iova);
        if (e == null || length < 0 || iova + length > e.getValue().end() || iova + length < iova) {
            throw new DmaFault("DMA to unmapped IOVA 0x" + Long.toHexString(iova) + " (+" + length + ")");
        }
        Region r = e.getValue();
        return r.segment().asSlice(iova - r.iova(), length);
    }

    @Override
    public synchronized void close() {
        for (Region r : byIova.values()) if (r.arena() != null) r.arena().close();
        byIova.clear();
        byAddress.clear();
        if (backing != null) {
            freeRuns.clear();
            freeRuns.put(0L, backing.byteSize());
        }
    }
}
