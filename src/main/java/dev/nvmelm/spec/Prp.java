package dev.nvmelm.spec;

import dev.nvmelm.spec.bus.DmaFault;
import dev.nvmelm.spec.bus.DmaMemory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Physical Region Page entries (NVMe Base 2.1, section 4.3.1). PRP1 may have a page offset; PRP2 is
 * either the second page (transfer spans at most two pages) or a PRP list. A list page holds
 * pageSize/8 entries; when more are needed its last slot points to the next list page.
 */
public final class Prp {
    private Prp() {}

    /** A resolved piece of a transfer: {@code length} bytes at IOVA {@code iova}. */
    public record Segment(long iova, long length) {}

    /** PRP1/PRP2 for a transfer, with the list pages the host had to build (owned by the caller). */
    public record Pointers(long prp1, long prp2) {}

    /**
     * Builds PRP1/PRP2 for a buffer made of {@code pages} (IOVAs of controller pages; the first
     * may start at an offset), filling list pages that {@code newListPage} allocates (returns
     * the IOVA of a zeroed page) and {@code memory} resolves.
     */
    public static Pointers build(long firstIova, long lengthBytes, int pageSize, DmaMemory memory, LongSupplier newListPage) {
        if (lengthBytes <= 0) return new Pointers(firstIova, 0);
        long offset = firstIova & (pageSize - 1);
        long firstChunk = Math.min(lengthBytes, pageSize - offset);
        long rest = lengthBytes - firstChunk;
        if (rest == 0) return new Pointers(firstIova, 0);
        long nextPage = firstIova - offset + pageSize;
        if (rest <= pageSize) return new Pointers(firstIova, nextPage);
        long[] pages = new long[(int) ((rest + pageSize - 1) / pageSize)];
        for (int i = 0; i < pages.length; i++) pages[i] = nextPage + (long) i * pageSize;
        return new Pointers(firstIova, buildList(pages, pageSize, memory, newListPage));
    }

    /**
     * Walks PRP1/PRP2 for a transfer of {@code lengthBytes} into segments, resolving list pages
     * through {@code memory}. Page-boundary, offset and bounds violations are a {@link DmaFault}
     * (or IllegalArgumentException for an invalid PRP offset), never a wild access.
     */
    public static List<Segment> walk(long prp1, long prp2, long lengthBytes, int pageSize, DmaMemory memory) {
        List<Segment> out = new ArrayList<>();
        if (lengthBytes == 0) return out;
        if ((prp1 & 3) != 0) throw new IllegalArgumentException("PRP1 0x" + Long.toHexString(prp1) + " is not dword aligned");
        long offset = prp1 & (pageSize - 1);
        long first = Math.min(lengthBytes, pageSize - offset);
        out.add(new Segment(prp1, first));
        long rest = lengthBytes - first;
        if (rest == 0) return out;
        if (rest <= pageSize) {
            checkPageAligned(prp2, pageSize, "PRP2");
            out.add(new Segment(prp2, rest));
            return out;
        }
        if ((prp2 & 7) != 0) throw new IllegalArgumentException("PRP list pointer 0x" + Long.toHexString(prp2) + " is not qword aligned");
        long entries = (rest + pageSize - 1) / pageSize;
        for (long page : listEntries(prp2, entries, pageSize, memory)) {
            long n = Math.min(rest, pageSize);
            out.add(new Segment(page, n));
            rest -= n;
        }
        return out;
    }

    /**
     * Reads {@code count} page addresses from a PRP list starting at {@code listIova} (which may
     * point into the middle of a list page), following the chain pointer in the last slot of
     * each full page. Every entry must be page aligned.
     */
    public static long[] listEntries(long listIova, long count, int pageSize, DmaMemory memory) {
        if (count > 1 << 24) throw new IllegalArgumentException("PRP list of " + count + " entries is too long");
        long[] out = new long[(int) count];
        int perPage = pageSize / 8;
        int slot = (int) ((listIova & (pageSize - 1)) / 8);
        MemorySegment list = memory.resolve(listIova - slot * 8L, pageSize);
        for (int i = 0; i < count; ) {
            if (slot == perPage - 1 && i < count - 1) {
                long next = list.get(Sqe.LE_LONG, (long) slot * 8);
                checkPageAligned(next, pageSize, "PRP list chain pointer");
                list = memory.resolve(next, pageSize);
                slot = 0;
                continue;
            }
            long page = list.get(Sqe.LE_LONG, (long) slot * 8);
            checkPageAligned(page, pageSize, "PRP entry");
            out[i++] = page;
            slot++;
        }
        return out;
    }

    /**
     * Writes page addresses into PRP list pages (chained through the last slot) and returns the
     * IOVA of the first list page; used for PC=0 queues and CDQs (NVMe Base 2.1, Figure 162: each entry with offset 0h).
     */
    public static long buildList(long[] pages, int pageSize, DmaMemory memory, LongSupplier newListPage) {
        int perPage = pageSize / 8;
        long first = newListPage.getAsLong();
        MemorySegment seg = memory.resolve(first, pageSize);
        int slot = 0;
        for (int i = 0; i < pages.length; i++) {
            if (slot == perPage - 1 && i < pages.length - 1) {
                long next = newListPage.getAsLong();
                seg.set(Sqe.LE_LONG, (long) slot * 8, next);
                seg = memory.resolve(next, pageSize);
                slot = 0;
            }
            seg.set(Sqe.LE_LONG, (long) slot * 8, pages[i]);
            slot++;
        }
        return first;
    }

    private static void checkPageAligned(long addr, int pageSize, String what) {
        if ((addr & (pageSize - 1)) != 0) {
            throw new IllegalArgumentException(what + " 0x" + Long.toHexString(addr) + " has a page offset (PRP Offset Invalid)");
        }
    }

    /** Number of list pages {@link #build} needs for a transfer. */
    public static int listPagesNeeded(long firstIova, long lengthBytes, int pageSize) {
        long offset = firstIova & (pageSize - 1);
        long rest = lengthBytes - Math.min(lengthBytes, pageSize - offset);
        if (rest <= pageSize) return 0;
        long entries = (rest + pageSize - 1) / pageSize;
        int perPage = pageSize / 8;
        return (int) ((entries - 1 + perPage - 2) / (perPage - 1));
    }
}
