package dev.nvmelm.spec.bus;

import java.lang.foreign.MemorySegment;

/**
 * Host memory as a DMA-capable controller sees it: an I/O virtual address space (as behind an
 * IOMMU). Every controller access goes through {@link #resolve}, which checks bounds, so a bad
 * PRP or CDQ base becomes a {@link DmaFault} (a status code), never a stray write.
 */
public interface DmaMemory {
    /** The segment for [iova, iova+length), which must lie inside one mapped region. */
    MemorySegment resolve(long iova, long length) throws DmaFault;
}
