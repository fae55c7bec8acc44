package dev.nvmelm.host.cdq;

import java.util.ArrayList;
import java.util.List;

/**
 * The bitmap mode of {@link DirtyExtents} (rounded outward): one bit per granule of
 * {@code 1 << granuleShift} LBAs. A range only grows to granule boundaries, nothing is lost.
 * A take smaller than a granule clears the granule's bit and keeps the untaken rest of it
 * aside as one exact range.
 *
 * <p>Not thread-safe: {@link DirtyExtents} holds the lock.
 */
final class GranuleBitmap {
    private final long lbaCount;
    private final int granuleShift;
    private final long granuleCount;
    private final long[] bits;
    private long setGranules;
    private long remStart, remEnd;    // rest of a granule split by a small take

    GranuleBitmap(long lbaCount, int granuleShift, long granuleCount) {
        this.lbaCount = lbaCount;
        this.granuleShift = granuleShift;
        this.granuleCount = granuleCount;
        this.bits = new long[(int) ((granuleCount + 63) >>> 6)];
    }

    boolean isEmpty() {
        return setGranules == 0 && remStart == remEnd;
    }

    long setGranules() { return setGranules; }

    /** Marks the granules of {@code [start, end)}. */
    void add(long start, long end) {
        long g0 = start >>> granuleShift, g1 = (end - 1) >>> granuleShift;
        setGranules(g0, g1);
        // A split granule's rest lives outside the bitmap; the granule's bit now covers it.
        if (remStart != remEnd && remStart >>> granuleShift >= g0 && remStart >>> granuleShift <= g1) remStart = remEnd = 0;
    }

    /** Sets granules g0..g1 inclusive. */
    private void setGranules(long g0, long g1) {
        final long[] b = bits;
        int w0 = (int) (g0 >>> 6), w1 = (int) (g1 >>> 6);
        if (w0 == w1) {
            long mask = (-1L << g0) & (-1L >>> (63 - (g1 & 63)));
            long old = b[w0];
            setGranules += Long.bitCount(mask & ~old);
            b[w0] = old | mask;
            return;
        }
        long old = b[w0];
        long mask = -1L << g0;
        setGranules += Long.bitCount(mask & ~old);
        b[w0] = old | mask;
        for (int w = w0 + 1; w < w1; w++) {
            setGranules += 64 - Long.bitCount(b[w]);
            b[w] = -1L;
        }
        old = b[w1];
        mask = -1L >>> (63 - (g1 & 63));
        setGranules += Long.bitCount(mask & ~old);
        b[w1] = old | mask;
    }

    /**
     * Takes runs of granules of at most {@code budget} LBAs in all, at most {@code maxRanges}
     * ranges, from {@code cursor} (wrapping once), into {@code out}. Returns the new cursor.
     */
    long take(List<LbaRange> out, long budget, int maxRanges, long cursor) {
        long glbas = 1L << granuleShift;
        if (remStart != remEnd) {
            long len = Math.min(remEnd - remStart, budget);
            out.add(new LbaRange(remStart, len));
            remStart += len;
            budget -= len;
            cursor = remStart;
        }
        long g = Math.min(cursor >>> granuleShift, granuleCount - 1);
        long scanned = 0;
        while (budget > 0 && setGranules > 0 && out.size() < maxRanges && scanned <= granuleCount) {
            long next = nextSet(g);
            if (next < 0) {              // wrap once
                scanned += granuleCount - g;
                g = 0;
                continue;
            }
            scanned += next - g;
            g = next;
            long runEnd = nextClear(g);  // exclusive
            long startLba = g << granuleShift;
            long fitGranules = budget >>> granuleShift;
            if (fitGranules == 0) {
                if (!out.isEmpty()) break;
                // The batch is smaller than a granule: split it and keep the rest aside.
                clearGranules(g, g + 1);
                long granuleEnd = Math.min(startLba + glbas, lbaCount);
                long len = Math.min(budget, granuleEnd - startLba);
                out.add(new LbaRange(startLba, len));
                remStart = startLba + len;
                remEnd = granuleEnd;
                cursor = remStart;
                break;
            }
            long take = Math.min(runEnd - g, fitGranules);
            clearGranules(g, g + take);
            long endLba = Math.min((g + take) << granuleShift, lbaCount);
            out.add(new LbaRange(startLba, endLba - startLba));
            budget -= endLba - startLba;
            g += take;
            cursor = endLba;
            scanned += take;
            if (g >= granuleCount) g = 0;
        }
        return cursor;
    }

    /** Index of the first set granule at or after g, or -1. */
    private long nextSet(long g) {
        if (g >= granuleCount) return -1;
        int w = (int) (g >>> 6);
        long word = bits[w] & (-1L << g);
        while (word == 0) {
            if (++w == bits.length) return -1;
            word = bits[w];
        }
        return ((long) w << 6) + Long.numberOfTrailingZeros(word);
    }

    /** Index of the first clear granule at or after g, or granuleCount. */
    private long nextClear(long g) {
        int w = (int) (g >>> 6);
        long word = ~bits[w] & (-1L << g);
        while (word == 0) {
            if (++w == bits.length) return granuleCount;
            word = ~bits[w];
        }
        return Math.min(granuleCount, ((long) w << 6) + Long.numberOfTrailingZeros(word));
    }

    /** Clears granules [g0, g1Exclusive). */
    private void clearGranules(long g0, long g1Exclusive) {
        final long[] b = bits;
        long g = g0;
        while (g < g1Exclusive) {
            int w = (int) (g >>> 6);
            long upto = Math.min(g1Exclusive, ((long) w + 1) << 6);   // exclusive, within this word
            long mask = (-1L << g) & (upto - ((long) w << 6) == 64 ? -1L : (1L << (upto & 63)) - 1);
            setGranules -= Long.bitCount(b[w] & mask);
            b[w] &= ~mask;
            g = upto;
        }
    }

    // ---------------------------------------------------------------- reporting

    /** Runs of set granules, plus the split granule's rest if any: an upper bound of the extents added. */
    long runCount() {
        long runs = 0;
        long prevTop = 0;   // bit 63 of the previous word
        for (long word : bits) {
            runs += Long.bitCount(word & ~((word << 1) | prevTop));
            prevTop = word >>> 63;
        }
        return runs + (remStart != remEnd ? 1 : 0);
    }

    /** LBAs of the set granules (clipped at the namespace end) plus the split granule's rest. */
    long lbas() {
        long lbas = setGranules << granuleShift;
        long lastGranule = granuleCount - 1;
        if ((bits[(int) (lastGranule >>> 6)] & (1L << lastGranule)) != 0) {
            lbas -= (lastGranule + 1 << granuleShift) - lbaCount;   // the last granule may be partial
        }
        return lbas + (remEnd - remStart);
    }

    /** The dirty runs that overlap [fromLba, toLba), merged, in LBA order, not clipped. */
    List<LbaRange> overlapping(long fromLba, long toLba) {
        List<LbaRange> out = new ArrayList<>();
        long g = Math.max(0, fromLba) >>> granuleShift;
        while ((g = nextSet(g)) >= 0 && g << granuleShift < toLba) {
            long e = nextClear(g);
            long endLba = Math.min(e << granuleShift, lbaCount);
            out.add(new LbaRange(g << granuleShift, endLba - (g << granuleShift)));
            g = e;
        }
        if (remStart == remEnd || remStart >= toLba || remEnd <= fromLba) return out;
        out.add(new LbaRange(remStart, remEnd - remStart));
        out.sort(null);
        List<LbaRange> merged = new ArrayList<>();
        for (LbaRange r : out) {
            LbaRange last = merged.isEmpty() ? null : merged.getLast();
            if (last != null && r.slba() <= last.end()) {
                merged.set(merged.size() - 1, new LbaRange(last.slba(), Math.max(last.end(), r.end()) - last.slba()));
            } else {
                merged.add(r);
            }
        }
        return merged;
    }

    /** Estimated heap bytes of the bitmap. */
    long memoryBytes() {
        return HeapEstimate.of(bits);
    }
}
