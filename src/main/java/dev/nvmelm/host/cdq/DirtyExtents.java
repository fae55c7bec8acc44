package dev.nvmelm.host.cdq;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The dirty LBAs of one namespace, fed by the CDQ consumer and drained by the copier.
 *
 * <p><b>Extent mode</b> (exact): disjoint, non-adjacent half-open ranges {@code [start, end)}
 * in two sorted {@code long[]}s. New ranges land in an unsorted staging buffer (O(1), with a
 * coalescing fast path for sequential streams) and are merged in bulk: the starts and ends of
 * the staged ranges are sorted separately and swept together with the existing extents. The
 * union of half-open ranges depends only on the multisets of starts and ends, so no pairing
 * is needed; at equal coordinates starts go first, which merges adjacent ranges. The sweep runs
 * backwards, in place, into the top of the extent arrays (it never overtakes its own input).
 * The staging buffer grows with the extent count so the merge stays amortised O(1) per range.
 *
 * <p><b>Bitmap mode</b> (rounded outward): when a merge leaves more extents than the
 * configured budget, every extent is folded into a bitmap of {@code granularityBytes}
 * granules. Nothing is lost, a range only grows to granule boundaries. When the copier has
 * taken every granule the structure returns to exact extent mode.
 *
 * <p><b>Clear then read</b>: {@link #takeBatch} removes what it returns. A range added again
 * afterwards, even while its copy is running, is queued again. {@link #markAll()} makes the
 * whole namespace dirty (LBACI 1, tracking broken).
 *
 * <p>Thread-safe: one lock per call; the CDQ consumer adds whole batches with
 * {@link #addAll}.
 */
public final class DirtyExtents {

    /** Current representation. */
    public enum Mode { EXTENTS, BITMAP }

    /**
     * @param extentBudget     extents kept exactly before degrading to the bitmap
     * @param granularityBytes bitmap granule, a power of two of at least 4096 bytes so that the
     *                         bitmap never exceeds 32 MiB per TiB
     * @param minStaging       smallest staging buffer (ranges); it grows to half the extent count
     */
    public record Config(int extentBudget, long granularityBytes, int minStaging) {
        public static final Config DEFAULT = new Config(1 << 18, 64 << 10, 4096);

        public Config {
            if (extentBudget < 1) throw new IllegalArgumentException("extentBudget must be >= 1, got " + extentBudget);
            if (granularityBytes < 4096 || Long.bitCount(granularityBytes) != 1) {
                throw new IllegalArgumentException("granularityBytes must be a power of two >= 4096, got " + granularityBytes);
            }
            if (minStaging < 16) throw new IllegalArgumentException("minStaging must be >= 16, got " + minStaging);
        }
    }

    /**
     * A snapshot. In bitmap mode {@code extentCount} counts runs of set granules and
     * {@code dirtyLbas} counts whole granules (clipped at the namespace end), so both are
     * upper bounds of what was added.
     */
    public record Stats(Mode mode, long extentCount, long dirtyLbas, long dirtyBytes,
                        long memoryBytes, long peakMemoryBytes, long degradations) {}

    private static final int INITIAL_CAPACITY = 64;
    private static final int ARRAY_HEADER_BYTES = 16;
    private static final int OBJECT_BYTES = 128;
    /** The staging buffer grows to extents >> 1: each merge then moves at most ~3 values per staged range. */
    private static final int STAGING_SHIFT = 1;

    private final int nsid;
    private final long lbaCount;
    private final int lbaSizeBytes;
    private final Config config;
    private final int granuleShift;   // LBAs per granule = 1 << granuleShift
    private final long granuleCount;

    // Extent mode: extents live at [lo, lo + n) of starts/ends.
    private long[] starts = new long[INITIAL_CAPACITY];
    private long[] ends = new long[INITIAL_CAPACITY];
    private int lo;
    private int n;
    private long extentLbas;
    // Staging (extent mode only): unsorted, may overlap.
    private long[] stStarts = new long[INITIAL_CAPACITY];
    private long[] stEnds = new long[INITIAL_CAPACITY];
    private int m;
    // Radix sort buffers for large merges, allocated on first use and dropped with the staging.
    private long[] scratch;
    private int[] counts;
    // Bitmap mode.
    private long[] bits;
    private long setGranules;
    private long remStart, remEnd;    // rest of a granule split by a small takeBatch
    private Mode mode = Mode.EXTENTS;

    private long cursor;              // copier position: takes continue upward from here, wrapping
    private long peakMemory;
    private long degradations;

    public DirtyExtents(int nsid, long lbaCount, int lbaSizeBytes, Config config) {
        if (lbaCount <= 0) throw new IllegalArgumentException("lbaCount must be > 0, got " + lbaCount);
        if (lbaSizeBytes < 512 || Integer.bitCount(lbaSizeBytes) != 1) {
            throw new IllegalArgumentException("lbaSizeBytes must be a power of two >= 512, got " + lbaSizeBytes);
        }
        this.nsid = nsid;
        this.lbaCount = lbaCount;
        this.lbaSizeBytes = lbaSizeBytes;
        this.config = config;
        this.granuleShift = Math.max(0, Long.numberOfTrailingZeros(config.granularityBytes()) - Integer.numberOfTrailingZeros(lbaSizeBytes));
        this.granuleCount = ((lbaCount - 1) >>> granuleShift) + 1;
        if ((granuleCount + 63) >>> 6 > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("NSID " + nsid + ": " + lbaCount + " LBAs of " + lbaSizeBytes + " bytes need a bitmap of "
                    + granuleCount + " granules of " + config.granularityBytes() + " bytes, more than a Java array holds;"
                    + " configure a coarser granularity");
        }
        this.peakMemory = memoryBytes();
    }

    public DirtyExtents(int nsid, long lbaCount, int lbaSizeBytes) {
        this(nsid, lbaCount, lbaSizeBytes, Config.DEFAULT);
    }

    public int nsid() { return nsid; }

    public long lbaCount() { return lbaCount; }

    public int lbaSizeBytes() { return lbaSizeBytes; }

    /** LBAs per bitmap granule. */
    public long granuleLbas() { return 1L << granuleShift; }

    // ---------------------------------------------------------------- adding

    /** Marks {@code [slba, slba + count)} dirty. */
    public synchronized void add(long slba, long count) {
        checkRange(slba, count);
        addUnchecked(slba, slba + count);
    }

    /**
     * Marks {@code count} ranges dirty: {@code [slbas[i], ends[i])} for i in
     * {@code [from, from + count)}. Every range is checked before any is applied.
     */
    public synchronized void addAll(long[] slbas, long[] endsExclusive, int from, int count) {
        int end = from + count;
        for (int i = from; i < end; i++) checkRange(slbas[i], endsExclusive[i] - slbas[i]);
        // Bulk copy into the staging buffer: the merge's sort and union coalesce anyway (the
        // CDQ reader already joined sequential streams), so per-range probing buys nothing here.
        for (int i = from; i < end; ) {
            int room = mode == Mode.EXTENTS ? stStarts.length - m : 0;
            if (room == 0) {   // grows, flushes or goes to the bitmap
                addUnchecked(slbas[i], endsExclusive[i]);
                i++;
                continue;
            }
            int c = Math.min(room, end - i);
            System.arraycopy(slbas, i, stStarts, m, c);
            System.arraycopy(endsExclusive, i, stEnds, m, c);
            m += c;
            i += c;
        }
    }

    /** Every LBA of the namespace is dirty (LBACI 1, or tracking broken). */
    public synchronized void markAll() {
        mode = Mode.EXTENTS;
        bits = null;
        setGranules = 0;
        remStart = remEnd = 0;
        starts = new long[INITIAL_CAPACITY];
        ends = new long[INITIAL_CAPACITY];
        stStarts = new long[INITIAL_CAPACITY];
        stEnds = new long[INITIAL_CAPACITY];
        scratch = null;
        counts = null;
        m = 0;
        lo = 0;
        n = 1;
        starts[0] = 0;
        ends[0] = lbaCount;
        extentLbas = lbaCount;
    }

    private void checkRange(long slba, long count) {
        // Written so that no overflow can make a bad range look good.
        if (slba < 0 || count <= 0 || count > lbaCount || slba > lbaCount - count) {
            throw new IllegalArgumentException("NSID " + nsid + ": range SLBA " + Long.toUnsignedString(slba) + " count "
                    + count + " is outside the namespace (" + lbaCount + " LBAs)");
        }
    }

    private void addUnchecked(long start, long end) {
        if (mode == Mode.BITMAP) {
            addToBitmap(start, end);
            return;
        }
        // Coalesce with one of the last few staged ranges (sequential streams, rewrites).
        for (int i = m - 1, stop = Math.max(0, m - 4); i >= stop; i--) {
            if (start <= stEnds[i] && end >= stStarts[i]) {
                if (start < stStarts[i]) stStarts[i] = start;
                if (end > stEnds[i]) stEnds[i] = end;
                return;
            }
        }
        if (m == stStarts.length) {
            int want = Math.max(config.minStaging(), n >>> STAGING_SHIFT);
            if (m < want) {
                int cap = (int) Math.min(want, Math.max(2L * m, INITIAL_CAPACITY));
                long replaced = arrayBytes(stStarts) + arrayBytes(stEnds);
                stStarts = Arrays.copyOf(stStarts, cap);
                stEnds = Arrays.copyOf(stEnds, cap);
                notePeak(replaced);
            } else {
                flush();
                if (mode == Mode.BITMAP) {
                    addToBitmap(start, end);
                    return;
                }
            }
        }
        stStarts[m] = start;
        stEnds[m] = end;
        m++;
    }

    // ---------------------------------------------------------------- merging

    /** Merges the staging buffer into the extents; degrades to the bitmap if over budget. */
    private void flush() {
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
                long replaced = arrayBytes(starts) + arrayBytes(ends);
                starts = s2;
                ends = e2;
                lo = 0;
                notePeak(replaced);   // old and new arrays were both alive during the copy
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
        m = k;   // inputs counted for the bookkeeping below
        n = lo + n + m - w;
        lo = w;
        m = 0;
        extentLbas = total;
        int want = Math.max(config.minStaging(), n >>> STAGING_SHIFT);
        long replaced = 0;
        if (stStarts.length > 2 * want && stStarts.length > INITIAL_CAPACITY) {
            replaced = arrayBytes(stStarts) + arrayBytes(stEnds) + (scratch == null ? 0 : arrayBytes(scratch));
            stStarts = new long[Math.max(INITIAL_CAPACITY, want)];
            stEnds = new long[stStarts.length];
            scratch = null;
        }
        notePeak(replaced);
        if (n > config.extentBudget()) degrade();
    }

    private void sortStaged() {
        if (m < LongRadixSort.SMALL) {
            Arrays.sort(stStarts, 0, m);
            Arrays.sort(stEnds, 0, m);
            return;
        }
        if (scratch == null || scratch.length < m) scratch = new long[stStarts.length];
        if (counts == null) counts = new int[LongRadixSort.COUNTS];
        notePeak();
        LongRadixSort.sort(stStarts, m, scratch, counts);
        LongRadixSort.sort(stEnds, m, scratch, counts);
    }

    private void compact() {
        System.arraycopy(starts, lo, starts, 0, n);
        System.arraycopy(ends, lo, ends, 0, n);
        lo = 0;
    }

    private void degrade() {
        bits = new long[(int) ((granuleCount + 63) >>> 6)];
        notePeak();
        setGranules = 0;
        mode = Mode.BITMAP;
        for (int k = lo; k < lo + n; k++) setGranules(starts[k] >>> granuleShift, (ends[k] - 1) >>> granuleShift);
        starts = new long[INITIAL_CAPACITY];
        ends = new long[INITIAL_CAPACITY];
        stStarts = new long[INITIAL_CAPACITY];
        stEnds = new long[INITIAL_CAPACITY];
        scratch = null;
        counts = null;
        lo = n = m = 0;
        extentLbas = 0;
        degradations++;
    }

    private void addToBitmap(long start, long end) {
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

    // ---------------------------------------------------------------- taking

    /** True if nothing is dirty. */
    public synchronized boolean isEmpty() {
        return mode == Mode.EXTENTS ? n == 0 && m == 0 : setGranules == 0 && remStart == remEnd;
    }

    /** Takes (removes and returns) one range of at most {@code maxBytes}, or null if clean. */
    public synchronized LbaRange poll(long maxBytes) {
        List<LbaRange> one = takeBatch(maxBytes, 1);
        return one.isEmpty() ? null : one.getFirst();
    }

    /** Takes (removes and returns) ranges totalling at most {@code maxBytes}, in LBA order from the copier's cursor. */
    public synchronized List<LbaRange> takeBatch(long maxBytes) {
        return takeBatch(maxBytes, Integer.MAX_VALUE);
    }

    private List<LbaRange> takeBatch(long maxBytes, int maxRanges) {
        if (maxBytes < lbaSizeBytes) {
            throw new IllegalArgumentException("maxBytes " + maxBytes + " is smaller than one LBA (" + lbaSizeBytes + ")");
        }
        long budget = maxBytes / lbaSizeBytes;   // in LBAs
        List<LbaRange> out = new ArrayList<>();
        if (mode == Mode.EXTENTS) {
            // Merge what is staged first (O(extents), so take in batches): a take sees every
            // range added before it, and a staged rewrite of a range taken now cannot make it
            // come back a second time.
            flush();
            if (mode == Mode.EXTENTS) {
                takeExtents(out, budget, maxRanges);
                return out;
            }
        }
        takeBitmap(out, budget, maxRanges);
        return out;
    }

    /** Returns the budget left. */
    private long takeExtents(List<LbaRange> out, long budget, int maxRanges) {
        if (n == 0) return budget;
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
                budget = 0;
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
        return budget;
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

    private void takeBitmap(List<LbaRange> out, long budget, int maxRanges) {
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
                budget = 0;
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
        if (setGranules == 0 && remStart == remEnd) {
            // Everything was taken: back to exact tracking.
            bits = null;
            mode = Mode.EXTENTS;
        }
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

    public synchronized Mode mode() {
        return mode;
    }

    /** Merges pending ranges and returns a snapshot (extent count, dirty bytes, memory). */
    public synchronized Stats stats() {
        flush();
        long extents, lbas;
        if (mode == Mode.EXTENTS) {
            extents = n;
            lbas = extentLbas;
        } else {
            extents = countRuns() + (remStart != remEnd ? 1 : 0);
            lbas = bitmapLbas() + (remEnd - remStart);
        }
        return new Stats(mode, extents, lbas, lbas * lbaSizeBytes, memoryBytes(), peakMemory, degradations);
    }

    private long countRuns() {
        long runs = 0;
        long prevTop = 0;   // bit 63 of the previous word
        for (long word : bits) {
            runs += Long.bitCount(word & ~((word << 1) | prevTop));
            prevTop = word >>> 63;
        }
        return runs;
    }

    private long bitmapLbas() {
        long lbas = setGranules << granuleShift;
        long lastGranule = granuleCount - 1;
        if ((bits[(int) (lastGranule >>> 6)] & (1L << lastGranule)) != 0) {
            lbas -= (lastGranule + 1 << granuleShift) - lbaCount;   // the last granule may be partial
        }
        return lbas;
    }

    /** Estimated heap bytes held (array capacities plus headers). */
    public synchronized long memoryBytes() {
        long bytes = OBJECT_BYTES;
        bytes += 4L * ARRAY_HEADER_BYTES + 8L * (starts.length + ends.length + stStarts.length + stEnds.length);
        if (bits != null) bytes += ARRAY_HEADER_BYTES + 8L * bits.length;
        if (scratch != null) bytes += ARRAY_HEADER_BYTES + 8L * scratch.length;
        if (counts != null) bytes += ARRAY_HEADER_BYTES + 4L * counts.length;
        return bytes;
    }

    private void notePeak() {
        notePeak(0);
    }

    /** @param transientBytes arrays just replaced, which were alive together with their successors */
    private void notePeak(long transientBytes) {
        peakMemory = Math.max(peakMemory, memoryBytes() + transientBytes);
    }

    private static long arrayBytes(long[] a) {
        return ARRAY_HEADER_BYTES + 8L * a.length;
    }

    /**
     * Every dirty range (merged, in LBA order) without taking anything. For tests and
     * diagnostics: it allocates one object per range.
     */
    public List<LbaRange> snapshot() {
        return snapshot(0, lbaCount);
    }

    /**
     * The dirty LBAs in [fromLba, toLba) as merged ranges in LBA order, clipped to the window,
     * without taking anything: a reader of a small window pays for that window, not the whole map.
     */
    public synchronized List<LbaRange> snapshot(long fromLba, long toLba) {
        flush();
        List<LbaRange> out = new ArrayList<>();
        if (mode == Mode.EXTENTS) {
            // extents are merged and sorted: the first one that ends after fromLba, by binary search
            int a = lo, b = lo + n;
            while (a < b) {
                int mid = (a + b) >>> 1;
                if (ends[mid] <= fromLba) a = mid + 1; else b = mid;
            }
            for (int k = a; k < lo + n && starts[k] < toLba; k++) out.add(new LbaRange(starts[k], ends[k] - starts[k]));
            return clip(out, fromLba, toLba);
        }
        long g = Math.max(0, fromLba) >>> granuleShift;
        while ((g = nextSet(g)) >= 0 && g << granuleShift < toLba) {
            long e = nextClear(g);
            long endLba = Math.min(e << granuleShift, lbaCount);
            out.add(new LbaRange(g << granuleShift, endLba - (g << granuleShift)));
            g = e;
        }
        if (remStart != remEnd && remStart < toLba && remEnd > fromLba) {
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
            out = merged;
        }
        return clip(out, fromLba, toLba);
    }

    /** Ranges that overlap [fromLba, toLba), cut to it (only the first and the last can stick out). */
    private static List<LbaRange> clip(List<LbaRange> ranges, long fromLba, long toLba) {
        List<LbaRange> out = new ArrayList<>(ranges.size());
        for (LbaRange r : ranges) {
            long s = Math.max(r.slba(), fromLba), e = Math.min(r.end(), toLba);
            if (e > s) out.add(s == r.slba() && e == r.end() ? r : new LbaRange(s, e - s));
        }
        return out;
    }

    @Override
    public synchronized String toString() {
        return "DirtyExtents[nsid=" + nsid + ", " + mode + ", " + (mode == Mode.EXTENTS ? n + "+" + m + " extents" : setGranules + " granules") + "]";
    }
}
