package dev.nvmelm.host.cdq;

import java.util.ArrayList;
import java.util.List;

/**
 * The dirty LBAs of one namespace, fed by the CDQ consumer and drained by the copier.
 *
 * <p><b>Extent mode</b> (exact, {@link ExtentList}): disjoint, non-adjacent half-open ranges
 * in sorted arrays, fed through a staging buffer and merged in bulk.
 *
 * <p><b>Bitmap mode</b> (rounded outward, {@link GranuleBitmap}): when a merge leaves more
 * extents than the configured budget, every extent is folded into a bitmap of
 * {@code granularityBytes} granules. Nothing is lost, a range only grows to granule
 * boundaries. When the copier has taken every granule the structure returns to exact extent
 * mode.
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

    /** This object and its two parts, one constant of the estimate (docs/cdq.md, "DirtyExtents"). */
    private static final int OBJECT_BYTES = 128;

    private final int nsid;
    private final long lbaCount;
    private final int lbaSizeBytes;
    private final Config config;
    private final int granuleShift;   // LBAs per granule = 1 << granuleShift
    private final long granuleCount;

    private final ExtentList extents;
    /** Non-null in bitmap mode only. */
    private GranuleBitmap bitmap;

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
        this.extents = new ExtentList(config.minStaging(), this::notePeak);
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
            int room = bitmap == null ? extents.stagingRoom() : 0;
            if (room == 0) {   // grows, flushes or goes to the bitmap
                addUnchecked(slbas[i], endsExclusive[i]);
                i++;
                continue;
            }
            int c = Math.min(room, end - i);
            extents.stageAll(slbas, endsExclusive, i, c);
            i += c;
        }
    }

    /** Every LBA of the namespace is dirty (LBACI 1, or tracking broken). */
    public synchronized void markAll() {
        bitmap = null;
        extents.markAll(lbaCount);
    }

    private void checkRange(long slba, long count) {
        // Written so that no overflow can make a bad range look good.
        if (slba < 0 || count <= 0 || count > lbaCount || slba > lbaCount - count) {
            throw new IllegalArgumentException("NSID " + nsid + ": range SLBA " + Long.toUnsignedString(slba) + " count "
                    + count + " is outside the namespace (" + lbaCount + " LBAs)");
        }
    }

    private void addUnchecked(long start, long end) {
        if (bitmap == null) {
            if (extents.stage(start, end)) return;
            flush();
            // After a merge the staging buffer is empty, so it takes the range unless the merge degraded.
            if (bitmap == null && extents.stage(start, end)) return;
        }
        bitmap.add(start, end);
    }

    /** Merges what is staged; degrades to the bitmap if that leaves more extents than the budget. */
    private void flush() {
        if (bitmap != null) return;
        extents.flush();
        if (extents.count() > config.extentBudget()) degrade();
    }

    private void degrade() {
        bitmap = new GranuleBitmap(lbaCount, granuleShift, granuleCount);
        notePeak(0);   // the bitmap and the extents it is filled from coexist
        extents.foldInto(bitmap);
        extents.clear();
        degradations++;
    }

    // ---------------------------------------------------------------- taking

    /** True if nothing is dirty. */
    public synchronized boolean isEmpty() {
        return bitmap == null ? extents.isEmpty() : bitmap.isEmpty();
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
        // Merge what is staged first (O(extents), so take in batches): a take sees every range
        // added before it, and a staged rewrite of a range taken now cannot make it come back a
        // second time.
        flush();
        if (bitmap == null) {
            cursor = extents.take(out, budget, maxRanges, cursor);
            return out;
        }
        cursor = bitmap.take(out, budget, maxRanges, cursor);
        if (bitmap.isEmpty()) bitmap = null;   // everything was taken: back to exact tracking
        return out;
    }

    // ---------------------------------------------------------------- reporting

    public synchronized Mode mode() {
        return bitmap == null ? Mode.EXTENTS : Mode.BITMAP;
    }

    /** Merges pending ranges and returns a snapshot (extent count, dirty bytes, memory). */
    public synchronized Stats stats() {
        flush();
        long count = bitmap == null ? extents.count() : bitmap.runCount();
        long lbas = bitmap == null ? extents.lbas() : bitmap.lbas();
        return new Stats(mode(), count, lbas, lbas * lbaSizeBytes, memoryBytes(), peakMemory, degradations);
    }

    /** Estimated heap bytes held (array capacities plus headers). */
    public synchronized long memoryBytes() {
        return OBJECT_BYTES + extents.memoryBytes() + (bitmap == null ? 0 : bitmap.memoryBytes());
    }

    /** @param transientBytes arrays just replaced, which were alive together with their successors */
    private void notePeak(long transientBytes) {
        peakMemory = Math.max(peakMemory, memoryBytes() + transientBytes);
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
        List<LbaRange> ranges = bitmap == null ? extents.overlapping(fromLba, toLba) : bitmap.overlapping(fromLba, toLba);
        // Only the first and the last can stick out of the window.
        List<LbaRange> out = new ArrayList<>(ranges.size());
        for (LbaRange r : ranges) {
            long s = Math.max(r.slba(), fromLba), e = Math.min(r.end(), toLba);
            if (e > s) out.add(s == r.slba() && e == r.end() ? r : new LbaRange(s, e - s));
        }
        return out;
    }

    @Override
    public synchronized String toString() {
        return "DirtyExtents[nsid=" + nsid + ", " + mode() + ", "
                + (bitmap == null ? extents.count() + "+" + extents.staged() + " extents" : bitmap.setGranules() + " granules") + "]";
    }
}
