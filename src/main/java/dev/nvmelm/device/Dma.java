package dev.nvmelm.device;

import dev.nvmelm.spec.Prp;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.bus.DmaFault;
import dev.nvmelm.spec.bus.DmaMemory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Moves a command's data between host memory (through its PRPs) and a controller-side buffer.
 * Every access is bounds checked by {@link DmaMemory}; a bad PRP is a {@link DmaFault} (Data
 * Transfer Error) or an {@link InvalidPrpOffset}, which the caller turns into a status.
 */
final class Dma {
    private Dma() {}

    static final int PAGE_SIZE = 4096;

    /** Copies {@code length} bytes described by the SQE's PRPs into a new buffer. */
    static MemorySegment fromHost(DmaMemory mem, Sqe sqe, long length, Arena arena) {
        return fromHost(mem, sqe, length, arena.allocate(Math.max(1, length), 8));
    }

    /** Copies {@code length} bytes described by the SQE's PRPs into {@code buf} (at least that long). */
    static MemorySegment fromHost(DmaMemory mem, Sqe sqe, long length, MemorySegment buf) {
        long at = 0;
        for (Prp.Segment s : segments(mem, sqe, length)) {
            MemorySegment.copy(mem.resolve(s.iova(), s.length()), 0, buf, at, s.length());
            at += s.length();
        }
        return buf.asSlice(0, length);
    }

    /** Copies {@code src} to the host memory described by the SQE's PRPs. */
    static void toHost(DmaMemory mem, Sqe sqe, MemorySegment src) {
        long at = 0;
        for (Prp.Segment s : segments(mem, sqe, src.byteSize())) {
            MemorySegment.copy(src, at, mem.resolve(s.iova(), s.length()), 0, s.length());
            at += s.length();
        }
    }

    static List<Prp.Segment> segments(DmaMemory mem, Sqe sqe, long length) {
        try {
            return Prp.walk(sqe.prp1(), sqe.prp2(), length, PAGE_SIZE, mem);
        } catch (IllegalArgumentException e) {
            throw new InvalidPrpOffset(e.getMessage());
        }
    }

    /**
     * A PRP entry the walk rejects (PRP1 not dword aligned, an offset in PRP2 or a list entry):
     * the generic status PRP Offset Invalid (13h), not Invalid Field.
     */
    static final class InvalidPrpOffset extends RuntimeException {
        InvalidPrpOffset(String message) {
            super(message);
        }
    }
}
