package dev.nvmelm.migrate.copy;

import dev.nvmelm.block.BlockDevice;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * The destination as the copier sees it, with a CRC32C recorded for every extent as it is
 * written (zeroed extents are recorded as zero), so after the switchover every extent can be
 * read back and checked against what was sent — a lost or misplaced write on the destination is
 * caught even where the source has changed since. An extent later overwritten in part is
 * dropped from the ledger (the newer write covers it); two overlapping writes in flight at once
 * are not recorded at all, since which one the device applied last is unknown.
 */
public final class WriteLedger implements BlockDevice {
    public static final int DEFAULT_MAX_EXTENTS = 4 << 20;   // ~300 MiB of ledger at worst
    /** Data is recorded in aligned chunks of this size, so a later small write drops only its chunk. */
    static final long CHUNK_BYTES = 64 << 10;

    private record Entry(long length, int crc, boolean zero) {}

    /** What a check found. {@code complete} is false when the ledger outgrew its budget and stopped recording. */
    public record Check(boolean ok, long extentsChecked, long bytesChecked, long extentsSkipped, long mismatches, long firstMismatch, boolean complete) {
        public static final Check NONE = new Check(true, 0, 0, 0, 0, -1, true);
    }

    private final BlockDevice device;
    private final int maxExtents;
    private final TreeMap<Long, Entry> extents = new TreeMap<>();
    private final TreeMap<Long, Long> inFlight = new TreeMap<>();   // offset -> end; ranges may repeat, so counted
    private final Map<Long, Integer> inFlightCount = new java.util.HashMap<>();
    private boolean overflow;

    public WriteLedger(BlockDevice device, int maxExtents) {
        this.device = device;
        this.maxExtents = maxExtents;
    }

    public WriteLedger(BlockDevice device) {
        this(device, DEFAULT_MAX_EXTENTS);
    }

    @Override public String name() { return device.name(); }

    @Override public long sizeBytes() { return device.sizeBytes(); }

    @Override public int blockSizeBytes() { return device.blockSizeBytes(); }

    @Override public int maxRequestBytes() { return device.maxRequestBytes(); }

    @Override public MemorySegment allocateBuffer(long sizeBytes) { return device.allocateBuffer(sizeBytes); }

    @Override public void read(long offset, MemorySegment dst) throws IOException { device.read(offset, dst); }

    @Override public void flush() throws IOException { device.flush(); }

    @Override public List<Extent> allocated(long offset, long length) throws IOException { return device.allocated(offset, length); }

    @Override public void close() throws IOException { device.close(); }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        List<long[]> pieces = pieces(offset, src);
        begin(offset, src.byteSize());
        boolean done = false;
        try {
            device.write(offset, src);
            done = true;
        } finally {
            end(offset, src.byteSize(), done ? pieces : null);
        }
    }

    /** As {@link #write}: recorded when the device completes it, unless another overlapping write is in flight. */
    @Override
    public java.util.concurrent.CompletableFuture<Void> writeAsync(long offset, MemorySegment src) {
        List<long[]> pieces = pieces(offset, src);
        begin(offset, src.byteSize());
        return device.writeAsync(offset, src).whenComplete((v, t) -> end(offset, src.byteSize(), t == null ? pieces : null));
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> writeZeroesAsync(long offset, long length, boolean deallocate) {
        begin(offset, length);
        return device.writeZeroesAsync(offset, length, deallocate)
                .whenComplete((v, t) -> end(offset, length, t == null ? List.<long[]>of(new long[]{offset, length, ZERO}) : null));
    }

    @Override
    public void writeZeroes(long offset, long length, boolean deallocate) throws IOException {
        begin(offset, length);
        boolean done = false;
        try {
            device.writeZeroes(offset, length, deallocate);
            done = true;
        } finally {
            end(offset, length, done ? List.<long[]>of(new long[]{offset, length, ZERO}) : null);
        }
    }

    /** {offset, length, crc} per chunk of what is written. */
    private static List<long[]> pieces(long offset, MemorySegment src) {
        List<long[]> pieces = new ArrayList<>();
        for (long at = 0; at < src.byteSize(); ) {
            long n = Math.min(src.byteSize() - at, CHUNK_BYTES - (offset + at) % CHUNK_BYTES);
            pieces.add(new long[]{offset + at, n, Integer.toUnsignedLong(crc(src.asSlice(at, n)))});   // unsigned: never equal to ZERO
            at += n;
        }
        return pieces;
    }

    private synchronized void begin(long offset, long length) {
        inFlightCount.merge(offset, 1, Integer::sum);
        inFlight.merge(offset, offset + length, Math::max);
    }

    private static final long ZERO = -1;   // the "crc" of a zeroed range

    /** Records a finished write unless another write overlapping it is still in flight. */
    private synchronized void end(long offset, long length, List<long[]> pieces) {
        if (inFlightCount.merge(offset, -1, Integer::sum) == 0) {
            inFlightCount.remove(offset);
            inFlight.remove(offset);
        }
        dropOverlapping(offset, offset + length);
        if (pieces == null || overflow || overlapsInFlight(offset, offset + length)) return;
        if (extents.size() + pieces.size() > maxExtents) {
            overflow = true;
            return;
        }
        for (long[] p : pieces) extents.put(p[0], new Entry(p[1], (int) p[2], p[2] == ZERO));
    }

    /** Requests in flight are few (the copier's window), so a scan is cheap and exact. */
    private boolean overlapsInFlight(long start, long end) {
        for (Map.Entry<Long, Long> r : inFlight.entrySet()) {
            if (r.getKey() < end && r.getValue() > start) return true;
        }
        return false;
    }

    /**
     * Forgets what a new write covers. Data chunks overlapped in part are dropped (their CRC no
     * longer describes the device); zeroed ranges are trimmed, since any part of zeroes is zeroes.
     */
    private void dropOverlapping(long start, long end) {
        Map.Entry<Long, Entry> floor = extents.floorEntry(start);
        if (floor != null && floor.getKey() < start && floor.getKey() + floor.getValue().length() > start) {
            Entry e = floor.getValue();
            extents.remove(floor.getKey());
            if (e.zero()) {
                extents.put(floor.getKey(), new Entry(start - floor.getKey(), 0, true));
                long tail = floor.getKey() + e.length();
                if (tail > end) extents.put(end, new Entry(tail - end, 0, true));
            }
        }
        var inside = extents.subMap(start, true, end, false);
        Map.Entry<Long, Entry> last = inside.isEmpty() ? null : inside.lastEntry();
        if (last != null && last.getValue().zero() && last.getKey() + last.getValue().length() > end) {
            extents.put(end, new Entry(last.getKey() + last.getValue().length() - end, 0, true));
        }
        inside.clear();
    }

    private static int crc(MemorySegment data) {
        CRC32C c = new CRC32C();
        if (data.isNative()) {
            c.update(data.asByteBuffer());
        } else {
            c.update(data.toArray(ValueLayout.JAVA_BYTE));
        }
        return (int) c.getValue();
    }

    public synchronized int size() {
        return extents.size();
    }

    /**
     * Reads back recorded extents ({@code FULL}: all; {@code SAMPLED}: every 64th) and compares
     * them with their CRC32C. A differing extent containing a block the guest rewrote after
     * switchover ({@code rewritten}) is skipped, not failed.
     */
    /** Whether the guest rewrote any block of [offset, offset+length) after switchover. */
    public interface Rewritten {
        boolean any(long offset, long length);
    }

    public Check check(Verifier.Mode mode, Rewritten rewritten) throws IOException {
        if (mode == Verifier.Mode.NONE) return Check.NONE;
        List<Map.Entry<Long, Entry>> todo;
        boolean complete;
        synchronized (this) {
            todo = new ArrayList<>(extents.entrySet());
            complete = !overflow;
        }
        int step = mode == Verifier.Mode.FULL ? 1 : 64;
        long checked = 0, bytes = 0, skipped = 0, mismatches = 0, first = -1;
        MemorySegment buf = device.allocateBuffer(1 << 20);
        for (int i = 0; i < todo.size(); i += step) {
            long off = todo.get(i).getKey();
            Entry e = todo.get(i).getValue();
            CRC32C c = new CRC32C();
            boolean allZero = true;
            for (long at = 0; at < e.length(); at += buf.byteSize()) {
                long n = Math.min(buf.byteSize(), e.length() - at);
                MemorySegment piece = buf.asSlice(0, n);
                device.read(off + at, piece);
                if (e.zero()) {
                    if (MemorySegment.mismatch(piece, 0, n, ZEROES, 0, n) != -1) allZero = false;
                } else {
                    ByteBuffer bb = piece.isNative() ? piece.asByteBuffer() : ByteBuffer.wrap(piece.toArray(ValueLayout.JAVA_BYTE));
                    c.update(bb);
                }
            }
            boolean ok = e.zero() ? allZero : (int) c.getValue() == e.crc();
            if (!ok) {
                // Asked only after reading: a guest write that changed what we read has completed,
                // so it is already logged (asking first would race a guest still writing).
                if (rewritten.any(off, e.length())) {
                    skipped++;
                    continue;
                }
            }
            if (!ok) {
                mismatches++;
                if (first < 0) first = off;
            }
            checked++;
            bytes += e.length();
        }
        return new Check(mismatches == 0, checked, bytes, skipped, mismatches, first, complete);
    }

    private static final MemorySegment ZEROES = MemorySegment.ofArray(new byte[1 << 20]);
}
