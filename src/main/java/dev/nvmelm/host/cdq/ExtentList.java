package dev.nvmelm.host.cdq;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * The exact mode of {@link DirtyExtents}: disjoint, non-adjacent half-open ranges
 * {@code [start, end)} in two sorted {@code long[]}s, fed through an unsorted staging buffer.
 *
 * <p>New ranges land in the staging buffer (O(1), with a coalescing fast path for sequential
 * streams) and are merged in bulk: the starts and ends of the staged ranges are sorted
 * separately and swept together with the existing extents. The union of half-open ranges
 * depends only on the multisets of starts and ends, so no pairing is needed; at equal
 * coordinates starts go first, which merges adjacent ranges. The sweep runs backwards, in
 * place, into the top of the extent arrays (it never overtakes its own input). The staging
 * buffer grows with the extent count so the merge stays amortised O(1) per range.
 *
 * <p>Not thread-safe: {@link DirtyExtents} holds the lock.
 */
final class ExtentList {
    static final int INITIAL_CAPACITY = 64;
    /** The staging buffer grows to extents >> 1: each merge then moves at most ~3 values per staged range. */
    private static final int STAGING_SHIFT = 1;

    private final int minStaging;
    /** Called with the bytes of arrays just replaced, which were alive together with their successors. */
    private final LongConsumer notePeak;

    // Extents live at [lo, lo + n) of starts/ends.
    private long[] starts;
    private long[] ends;
    private int lo;
    private int n;
    private long extentLbas;
    // Staging: unsorted, may overlap.
    private long[] stStarts;
    private long[] stEnds;
    private int m;
    // Radix sort buffers for large merges, allocated on first use and dropped with the staging.
    private long[] scratch;
    private int[] counts;

    ExtentList(int minStaging, LongConsumer notePeak) {
        this.minStaging = minStaging;
        this.notePeak = notePeak;
        clear();
    }

    /** Merged extents (the staged ranges not counted). */
    int count() { return n; }

    /** Staged ranges not merged yet. */
    int staged() { return m; }

    /** LBAs in the merged extents. */
    long lbas() { return extentLbas; }

    boolean isEmpty() { return n == 0 && m == 0; }

    /** Drops everything and returns to the initial capacities. */
    void clear() {
        starts = new long[INITIAL_CAPACITY];
        ends = new long[INITIAL_CAPACITY];
        stStarts = new long[INITIAL_CAPACITY];
        stEnds = new long[INITIAL_CAPACITY];
        scratch = null;
        counts = null;
        lo = n = m = 0;
        extentLbas = 0;
    }

    /** One extent {@code [0, lbaCount)}: the whole namespace. */
    void markAll(long lbaCount) {
        clear();
        n = 1;
        starts[0] = 0;
        ends[0] = lbaCount;
        extentLbas = lbaCount;
    }

    // ---------------------------------------------------------------- staging

    /** Ranges the staging buffer takes before it must grow or be merged. */
    int stagingRoom() { return stStarts.length - m; }

    /** Copies {@code count} ranges into the staging buffer; at most {@link #stagingRoom()}. */
    void stageAll(long[] slbas, long[] endsExclusive, int from, int count) {
        System.arraycopy(slbas, from, stStarts, m, count);
        System.arraycopy(endsExclusive, from, stEnds, m, count);
        m += count;
    }

    /** Stages {@code [start, end)}; false if the buffer is full at its size and must be {@link #flush() merged} first. */
    boolean stage(long start, long end) {
        // Coalesce with one of the last few staged ranges (sequential streams, rewrites).
        for (int i = m - 1, stop = Math.max(0, m - 4); i >= stop; i--) {
            if (start <= stEnds[i] && end >= stStarts[i]) {
                if (start < stStarts[i]) stStarts[i] = start;
                if (end > stEnds[i]) stEnds[i] = end;
                return true;
            }
        }
        if (m == stStarts.length) {
            int want = Math.max(minStaging, n >>> STAGING_SHIFT);
            if (m >= want) return false;
            int cap = (int) Math.min(want, Math.max(2L * m, INITIAL_CAPACITY));
            long replaced = HeapEstimate.of(stStarts) + HeapEstimate.of(stEnds);
            stStarts = Arrays.copyOf(stStarts, cap);
            stEnds = Arrays.copyOf(stEnds, cap);
            notePeak.accept(replaced);
        }
        stStarts[m] = start;
        stEnds[m] = end;
        m++;
        return true;
    }

    // ---------------------------------------------------------------- merging

    /** Merges the staging buffer into the extents. */
    void flush() {
        if (m == 0) return;
        sortStaged();
        // 1. The union of the staged ranges. With starts and ends sorted separately, the union
        //    of half-open ranges breaks exactly where the k-th end lies before the (k+1)-th
        //    start (a point is covered iff more starts than ends lie at or before it); equal
        //    values join adjacent ranges. Written in place: slot k <= t is already read.
        final long[] ss = stStarts, se = stEnds;
        int k = 0;
        long runStart = ss[0];
        for (int t = 0, last = m - 1; t < last; t++) {
            long end = se[t], next = ss[t + 1];
            if (end < next) {
                ss[k] = runStart;
                se[k] = end;
                k++;
                runStart = next;
            }
        }
        ss[k] = runStart;
        se[k] = se[m - 1];
        k++;
        int need = lo + n + k;
        if (need > starts.length) {
            if (n + k <= starts.length) {
                compact();
            } else {
                int cap = (int) Math.min(Integer.MAX_VALUE - 8, Math.max(n + k, (long) starts.length * 3 / 2));
                long[] s2 = new long[cap], e2 = new long[cap];
                System.arraycopy(starts, lo, s2, 0, n);
                System.arraycopy(ends, lo, e2, 0, n);
                long replaced = HeapEstimate.of(starts) + HeapEstimate.of(ends);
                starts = s2;
                ends = e2;
                lo = 0;
                notePeak.accept(replaced);   // old and new arrays were both alive during the copy
            }
        }
        // 2. Merge two sorted lists of disjoint ranges (extents at [lo, lo+n), staged at [0, k))
        //    backwards by descending end, into the top of the extent arrays, coalescing
        //    overlapping and adjacent ranges (the mirror image of the usual forward merge by
        //    start: a range taken later can only reach down, never past an emitted one). The
        //    write index stays above every unread extent: each output consumed at least one
        //    input, and k staged inputs were counted as room.
        final long[] s = starts, e = ends;
        int i = lo + n - 1, j = k - 1, w = lo + n + k;
        long curStart = 0, curEnd = -1, total = 0;
        while (i >= lo || j >= 0) {
            long xs, xe;
            if (j < 0 || i >= lo && e[i] >= se[j]) {
                xs = s[i];
                xe = e[i];
                i--;
            } else {
                xs = ss[j];
                xe = se[j];
                j--;
            }
            if (xe >= curStart && curEnd >= 0) {   // overlaps or touches the range being built
                if (xs < curStart) curStart = xs;    // ends arrive in descending order
            } else {
                if (curEnd >= 0) {
                    w--;
                    s[w] = curStart;
                    e[w] = curEnd;
                    total += curEnd - curStart;
                }
                curStart = xs;
                curEnd = xe;
            }
        }
        w--;
        s[w] = curStart;
        e[w] = curEnd;
        total += curEnd - curStart;
        n = lo + n + k - w;
        lo = w;
        m = 0;
        extentLbas = total;
        int want = Math.max(minStaging, n >>> STAGING_SHIFT);
        long replaced = 0;
        if (stStarts.length > 2 * want && stStarts.length > INITIAL_CAPACITY) {
            replaced = HeapEstimate.of(stStarts) + HeapEstimate.of(stEnds) + HeapEstimate.of(scratch);
            stStarts = new long[Math.max(INITIAL_CAPACITY, want)];
            stEnds = new long[stStarts.length];
            scratch = null;
        }
        notePeak.accept(replaced);
    }

    private void sortStaged() {
        if (m < LongRadixSort.SMALL) {
            Arrays.sort(stStarts, 0, m);
            Arrays.sort(stEnds, 0, m);
            return;
        }
        if (scratch == null || scratch.length < m) scratch = new long[stStarts.length];
        if (counts == null) counts = new int[LongRadixSort.COUNTS];
        notePeak.accept(0);
        LongRadixSort.sort(stStarts, m, scratch, counts);
        LongRadixSort.sort(stEnds, m, scratch, counts);
    }

    private void compact() {
        System.arraycopy(starts, lo, starts, 0, n);
        System.arraycopy(ends, lo, ends, 0, n);
        lo = 0;
    }

    /** Sets every merged extent in {@code bitmap} (the switch to bitmap mode). */
    void foldInto(GranuleBitmap bitmap) {
        for (int k = lo; k < lo + n; k++) bitmap.add(starts[k], ends[k]);
    }

    // ---------------------------------------------------------------- taking

    /**
     * Takes merged extents of at most {@code budget} LBAs in all, at most {@code maxRanges}
     * ranges, in LBA order from {@code cursor} (wrapping), into {@code out}. Returns the new cursor.
     */
    long take(List<LbaRange> out, long budget, int maxRanges, long cursor) {
        if (n == 0) return cursor;
        int hi = lo + n;
        int k = Arrays.binarySearch(ends, lo, hi, cursor);
        k = k >= 0 ? k + 1 : -k - 1;        // first extent whose end is past the cursor
        if (k == hi) k = lo;
        int first = k, taken = 0;
        while (budget > 0 && taken < n && out.size() < maxRanges) {
            long st = starts[k], en = ends[k], len = en - st;
            if (len > budget) {
                out.add(new LbaRange(st, budget));
                starts[k] = st + budget;
                extentLbas -= budget;
                cursor = st + budget;
                break;
            }
            out.add(new LbaRange(st, len));
            extentLbas -= len;
            budget -= len;
            cursor = en;
            taken++;
            if (++k == hi) k = lo;
        }
        // Remove the fully taken extents [first, first + taken), which may wrap.
        int tail = Math.min(taken, hi - first);
        removeExtents(first, tail);
        if (taken > tail) removeExtents(lo, taken - tail);
        if (n == 0) lo = 0;
        return cursor;
    }

    /** Removes {@code count} extents at absolute index {@code at}, moving the shorter side. */
    private void removeExtents(int at, int count) {
        if (count == 0) return;
        int before = at - lo, after = lo + n - at - count;
        if (before <= after) {
            System.arraycopy(starts, lo, starts, lo + count, before);
            System.arraycopy(ends, lo, ends, lo + count, before);
            lo += count;
        } else {
            System.arraycopy(starts, at + count, starts, at, after);
            System.arraycopy(ends, at + count, ends, at, after);
        }
        n -= count;
    }

    // ---------------------------------------------------------------- reporting

    /** The merged extents that overlap [fromLba, toLba), in LBA order, not clipped. */
    List<LbaRange> overlapping(long fromLba, long toLba) {
        // extents are merged and sorted: the first one that ends after fromLba, by binary search
        int a = lo, b = lo + n;
        while (a < b) {
            int mid = (a + b) >>> 1;
            if (ends[mid] <= fromLba) a = mid + 1; else b = mid;
        }
        List<LbaRange> out = new ArrayList<>();
        for (int k = a; k < lo + n && starts[k] < toLba; k++) out.add(new LbaRange(starts[k], ends[k] - starts[k]));
        return out;
    }

    /** Estimated heap bytes of the arrays held. */
    long memoryBytes() {
        return HeapEstimate.of(starts) + HeapEstimate.of(ends) + HeapEstimate.of(stStarts) + HeapEstimate.of(stEnds)
                + HeapEstimate.of(scratch) + HeapEstimate.of(counts);
    }
}
