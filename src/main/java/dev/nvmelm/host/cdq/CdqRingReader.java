package dev.nvmelm.host.cdq;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.spec.LbaMigrationEntry;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;

/**
 * Reads a User Data Migration Queue in place and turns its entries into dirty ranges, markers
 * and anomalies. No device access: the caller reports {@link #head()} to the controller.
 *
 * <p>Ring rules (Base 2.2, section 8.1.6.2): the entry at {@code head} is new iff its phase tag
 * (byte 31 bit 0) differs from the phase of stale slots, which starts at 0 (the host zeroed
 * the ring) and flips whenever the head wraps to slot 0. The phase byte is read first with
 * acquire semantics (the host's dma_rmb), then the rest of the entry.
 *
 * <p>Nothing in an entry is trusted (a migration host must not trust a device it does not own): an entry with an unknown
 * NSID, a range past the end of its namespace, reserved bits, ESA 4-6, LBACI 3 or fields that
 * contradict each other is counted and reported as a {@link CdqAnomaly}, never used as an
 * index, and if it claims a change every tracked namespace it names is marked entirely dirty,
 * so that no data is skipped because of it.
 *
 * <p>Single consumer: not thread-safe. Ranges are batched per namespace and handed to
 * {@link DirtyExtents#addAll} at the end of each {@link #drain}, and before any marker or
 * anomaly is reported, so listeners see every earlier range already applied.
 */
public final class CdqRingReader {
    public static final int ENTRY_BYTES = LbaMigrationEntry.SIZE;
    /** NSID FFFFFFFFh: with LBACI 1 it marks every tracked namespace. */
    public static final int BROADCAST_NSID = 0xffffffff;

    private static final VarHandle BYTE = ValueLayout.JAVA_BYTE.varHandle();

    private final MemorySegment ring;
    private final int entryCount;
    private final CdqListener listener;
    private final int[] nsids;             // sorted (signed)
    private final Namespace[] namespaces;  // parallel to nsids
    private Namespace last;

    private int head;
    private int stalePhase;                // phase tag of slots the controller has not rewritten this pass
    private long sequence;

    // Counters (single writer).
    long entries, changeEntries, namespaceWideEntries, dlbaEntries, markers, anomalies, bytesDirtied, queueFullMarkers, ringPasses;

    /**
     * @param ring           the CDQ memory, at least {@code entryCount * 32} bytes, zeroed before Create
     * @param batchCapacity  ranges buffered per namespace before they are handed to DirtyExtents
     */
    public CdqRingReader(MemorySegment ring, int entryCount, Collection<DirtyExtents> tracked, CdqListener listener, int batchCapacity) {
        if (entryCount < 2) throw new IllegalArgumentException("a CDQ needs at least 2 entries, got " + entryCount);
        if (ring.byteSize() < (long) entryCount * ENTRY_BYTES) {
            throw new IllegalArgumentException("ring of " + ring.byteSize() + " bytes cannot hold " + entryCount + " entries");
        }
        if (batchCapacity < 1) throw new IllegalArgumentException("batchCapacity must be >= 1");
        this.ring = ring;
        this.entryCount = entryCount;
        this.listener = listener;
        List<DirtyExtents> sorted = new ArrayList<>(tracked);
        sorted.sort((a, b) -> Integer.compare(a.nsid(), b.nsid()));
        nsids = new int[sorted.size()];
        namespaces = new Namespace[sorted.size()];
        for (int i = 0; i < nsids.length; i++) {
            DirtyExtents d = sorted.get(i);
            if (d.nsid() == 0 || d.nsid() == BROADCAST_NSID) throw new IllegalArgumentException("NSID " + Integer.toUnsignedString(d.nsid()) + " cannot name a namespace");
            if (i > 0 && nsids[i - 1] == d.nsid()) throw new IllegalArgumentException("NSID " + d.nsid() + " is tracked twice");
            nsids[i] = d.nsid();
            namespaces[i] = new Namespace(d, batchCapacity);
        }
    }

    /**
     * A reader of the entries themselves, from where an earlier reader left off, for a tool that
     * prints a ring ({@code lm cdq-read}) or a test that inspects one: {@link #take} it, then
     * report {@link #cursor()}'s head. It tracks no namespace.
     */
    public static CdqRingReader at(CdqQueue queue, CdqQueue.Cursor from) {
        CdqRingReader r = new CdqRingReader(queue.ring(), queue.entryCount(), List.of(), CdqListener.NONE, 1);
        if (from.head() < 0 || from.head() >= r.entryCount) throw new IllegalArgumentException("head " + from.head() + " is not a slot of " + r.entryCount);
        r.head = from.head();
        r.stalePhase = from.stalePhase() ? 1 : 0;
        return r;
    }

    /** Where this reader is: the next slot and the phase of stale slots. */
    public CdqQueue.Cursor cursor() {
        return new CdqQueue.Cursor(head, stalePhase != 0);
    }

    /**
     * Consumes up to {@code max} new entries and returns them as written, uninterpreted: nothing
     * reaches a DirtyExtents or the listener (use {@link #drain} for that).
     */
    public List<LbaMigrationEntry> take(int max) {
        List<LbaMigrationEntry> out = new ArrayList<>();
        while (out.size() < max && entryAvailable()) {
            out.add(LbaMigrationEntry.decode(ring, (long) head * ENTRY_BYTES));   // after the acquire read of the phase
            sequence++;
            entries++;
            if (++head == entryCount) {
                head = 0;
                stalePhase ^= 1;
                ringPasses++;
            }
        }
        return out;
    }

    public int entryCount() { return entryCount; }

    /** The next slot to consume: the head pointer to report with Set Features FID 21h. */
    public int head() { return head; }

    /** Entries consumed so far (the sequence number of the next entry). */
    public long sequence() { return sequence; }

    /** True if the slot at the head holds a new entry. */
    public boolean entryAvailable() {
        return ((byte) BYTE.getAcquire(ring, (long) head * ENTRY_BYTES + 31) & 1) != stalePhase;
    }

    /**
     * Consumes up to {@code max} new entries. Stops early right after a marker (ESA 1, 2, 3, 7)
     * so that callers draining "until stopped" or "until suspended" stop at it.
     *
     * @return entries consumed
     */
    public int drain(int max) {
        final MemorySegment r = ring;
        int h = head;
        long off = (long) h * ENTRY_BYTES;
        int done = 0;
        try {
            while (done < max) {
                // Base 2.2, 8.1.6.1: the phase tag is written last, so read it first, with acquire semantics (dma_rmb), then the rest.
                int attributes = (byte) BYTE.getAcquire(r, off + LbaMigrationEntry.PHASE_OFFSET) & 0xff;
                if ((attributes & 1) == stalePhase) break;
                LbaMigrationEntry e = LbaMigrationEntry.decode(r, off);
                boolean reserved = LbaMigrationEntry.reservedBitsSet(r, off);
                boolean stop = false;
                // Fast path: ESA 0, LBACI 0, no DLBA, nothing reserved, a tracked namespace, in range.
                Namespace ns = e.esa() == LbaMigrationEntry.ESA_MIDDLE && e.lbaci() == LbaMigrationEntry.LBACI_RANGE
                        && !e.dlba() && !reserved ? lookup(e.nsid()) : null;
                long count = e.blockCount();
                if (ns != null && ns.contains(e.slba(), count)) {
                    ns.stage(e.slba(), e.slba() + count);
                    changeEntries++;
                    bytesDirtied += count * ns.lbaSizeBytes;
                } else {
                    stop = slowPath(h, e, attributes, reserved);
                }
                sequence++;
                done++;
                if (++h == entryCount) {
                    h = 0;
                    off = 0;
                    stalePhase ^= 1;
                    ringPasses++;
                } else {
                    off += ENTRY_BYTES;
                }
                if (stop) break;
            }
        } finally {
            head = h;
            entries += done;
            flushAll();
        }
        return done;
    }

    /**
     * Everything but a plain in-range change: markers, namespace-wide changes, DLBA, and
     * anomalies. Returns true if the entry is a marker (the batch ends after it).
     */
    private boolean slowPath(int slot, LbaMigrationEntry e, int attributes, boolean reserved) {
        int esa = e.esa(), lbaci = e.lbaci(), nsid = e.nsid();
        CdqMarker.Kind markerKind = CdqMarker.Kind.ofEsa(esa);
        EnumSet<CdqAnomaly.Kind> kinds = EnumSet.noneOf(CdqAnomaly.Kind.class);
        if (reserved) kinds.add(CdqAnomaly.Kind.RESERVED_BITS);
        if (esa >= 4 && esa <= 6) kinds.add(CdqAnomaly.Kind.RESERVED_ESA);
        if (lbaci > LbaMigrationEntry.LBACI_NONE) kinds.add(CdqAnomaly.Kind.RESERVED_LBACI);
        if (impossibleCombination(e)) kinds.add(CdqAnomaly.Kind.IMPOSSIBLE_COMBINATION);
        Namespace ns = lookup(nsid);
        if (lbaci == LbaMigrationEntry.LBACI_RANGE) {
            long count = e.blockCount();
            if (ns == null) kinds.add(CdqAnomaly.Kind.UNKNOWN_NSID);
            else if (!ns.contains(e.slba(), count)) kinds.add(CdqAnomaly.Kind.RANGE_OUT_OF_BOUNDS);
            if (kinds.isEmpty()) {
                ns.stage(e.slba(), e.slba() + count);
                changeEntries++;
                bytesDirtied += count * ns.lbaSizeBytes;
                if (e.dlba()) dlbaEntries++;
            }
        } else if (lbaci == LbaMigrationEntry.LBACI_NAMESPACE) {
            if (ns == null && nsid != BROADCAST_NSID) kinds.add(CdqAnomaly.Kind.UNKNOWN_NSID);
            if (kinds.isEmpty()) {
                markAllNamed(nsid);
                namespaceWideEntries++;
            }
        }
        if (!kinds.isEmpty()) {
            anomalies++;
            // Conservative: a refused entry that claims a change (LBACI 0, 1 or 3) makes every
            // tracked namespace it names wholly dirty; its SLBA and NLB are never used.
            List<Integer> marked = lbaci == LbaMigrationEntry.LBACI_NONE ? List.of() : markAllNamed(nsid);
            flushAll();
            listener.onAnomaly(new CdqAnomaly(kinds, sequence, slot, nsid, e.slba(), e.nlb(), attributes, marked));
        }
        if (markerKind == null) return false;
        markers++;
        if (markerKind == CdqMarker.Kind.QUEUE_FULL) queueFullMarkers++;
        flushAll();
        listener.onMarker(new CdqMarker(markerKind, sequence, slot));
        return true;
    }

    /**
     * Combinations no controller writes (NVM Command Set, Figure 177): a sequence marker (ESA 1, 2, 3) that
     * claims an LBA change or carries NSID, NLB or SLBA; a "no LBA change" entry that is no
     * marker (ESA 0); DLBA on anything but a range change. ESA 7 may carry LBACI 0, 1 or 2:
     * whichever entry filled the queue gets ESA 7.
     */
    private static boolean impossibleCombination(LbaMigrationEntry e) {
        int esa = e.esa(), lbaci = e.lbaci();
        boolean sequenceMarker = esa >= LbaMigrationEntry.ESA_FIRST && esa <= LbaMigrationEntry.ESA_SUSPENDED;
        if (sequenceMarker && lbaci != LbaMigrationEntry.LBACI_NONE) return true;
        if (lbaci == LbaMigrationEntry.LBACI_NONE) {
            if (esa == LbaMigrationEntry.ESA_MIDDLE) return true;
            if (e.nsid() != 0 || e.nlb() != 0 || e.slba() != 0) return true;
        }
        return e.dlba() && lbaci != LbaMigrationEntry.LBACI_RANGE;
    }

    /** Marks the named namespace (or every one for FFFFFFFFh) dirty; returns their NSIDs. */
    private List<Integer> markAllNamed(int nsid) {
        List<Integer> marked = new ArrayList<>();
        for (Namespace ns : namespaces) {
            if (nsid == BROADCAST_NSID || ns.extents.nsid() == nsid) {
                ns.flush();
                ns.extents.markAll();
                bytesDirtied += ns.lbaCount * ns.lbaSizeBytes;
                marked.add(ns.extents.nsid());
            }
        }
        return marked;
    }

    private Namespace lookup(int nsid) {
        Namespace l = last;
        if (l != null && l.nsid == nsid) return l;
        int i = Arrays.binarySearch(nsids, nsid);   // sorted as signed ints, like the search
        return i < 0 ? null : (last = namespaces[i]);
    }

    private void flushAll() {
        for (Namespace ns : namespaces) ns.flush();
    }

    /** A tracked namespace and the ranges consumed for it in the current batch. */
    private static final class Namespace {
        final DirtyExtents extents;
        final int nsid;
        final long lbaCount;
        final long lbaSizeBytes;
        final long[] starts, ends;
        int len;

        Namespace(DirtyExtents extents, int capacity) {
            this.extents = extents;
            this.nsid = extents.nsid();
            this.lbaCount = extents.lbaCount();
            this.lbaSizeBytes = extents.lbaSizeBytes();
            this.starts = new long[capacity];
            this.ends = new long[capacity];
        }

        /** True if [slba, slba + count) lies inside the namespace; written so no overflow passes. */
        boolean contains(long slba, long count) {
            return slba >= 0 && count <= lbaCount && slba <= lbaCount - count;
        }

        void stage(long start, long end) {
            int l = len;
            if (l > 0 && start <= ends[l - 1] && end >= starts[l - 1]) {   // sequential stream or rewrite
                if (start < starts[l - 1]) starts[l - 1] = start;
                if (end > ends[l - 1]) ends[l - 1] = end;
                return;
            }
            if (l == starts.length) {
                flush();
                l = 0;
            }
            starts[l] = start;
            ends[l] = end;
            len = l + 1;
        }

        void flush() {
            if (len > 0) {
                extents.addAll(starts, ends, 0, len);
                len = 0;
            }
        }
    }
}
