package dev.nvmelm.host.pci;

import dev.nvmelm.spec.bus.DmaFault;
import dev.nvmelm.spec.bus.DmaMemory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Host memory as an I/O virtual address space, as an IOMMU presents it to a device: page-aligned
 * regions at IOVAs the host hands out. A controller attached to it can reach only what is
 * mapped, and {@link #resolve} checks every access, so a wild PRP becomes a fault, not a write.
 */
public final class HostMemory implements DmaMemory, AutoCloseable {
    public static final int PAGE = 4096;
    private static final long IOVA_BASE = 0x1_0000_0000L;

    private record Region(long iova, MemorySegment segment, Arena arena) {
        long end() {
            return iova + segment.byteSize();
        }
    }

    private final ConcurrentSkipListMap<Long, Region> byIova = new ConcurrentSkipListMap<>();
    private final ConcurrentSkipListMap<Long, Region> byAddress = new ConcurrentSkipListMap<>();
    private long nextIova = IOVA_BASE;

    /** Allocates zeroed, page-aligned memory mapped for DMA; freed by {@link #free} or {@link #close}. */
    public synchronized MemorySegment allocate(long sizeBytes) {
        if (sizeBytes <= 0) throw new IllegalArgumentException("allocation of " + sizeBytes + " bytes");
        long size = (sizeBytes + PAGE - 1) / PAGE * PAGE;
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(size, PAGE);   // zeroed by the JDK
        Region r = new Region(nextIova, seg, arena);
        nextIova += size + PAGE;   // a guard page between regions: an overrun is a fault
        byIova.put(r.iova(), r);
        byAddress.put(seg.address(), r);
        return seg.asSlice(0, sizeBytes);
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

    public synchronized void free(MemorySegment seg) {
        Map.Entry<Long, Region> e = byAddress.floorEntry(seg.address());
        if (e == null || e.getKey() != seg.address()) throw new IllegalArgumentException("not the start of an allocation");
        Region r = e.getValue();
        byAddress.remove(r.segment().address());
        byIova.remove(r.iova());
        r.arena().close();
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
        for (Region r : byIova.values()) r.arena().close();
        byIova.clear();
        byAddress.clear();
    }
}
