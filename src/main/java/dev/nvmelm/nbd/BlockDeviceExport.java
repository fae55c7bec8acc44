package dev.nvmelm.nbd;

import dev.nvmelm.block.BlockDevice;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * An NBD export of any {@link BlockDevice}; for a namespace behind an NVMe controller
 * ({@code NvmeBlockDevice}) every NBD request becomes NVMe I/O on that controller's I/O queues,
 * so writes arriving over NBD are logged by the CDQ exactly like a guest's. Requests must be
 * LBA-aligned (advertised as the minimum block size); NBD clients honour that, and an
 * unaligned request gets EINVAL rather than a silent read-modify-write that would race a
 * concurrent writer.
 */
public final class BlockDeviceExport implements NbdExport {
    public static final String BASE_ALLOCATION = "base:allocation", NVME_LM_DIRTY = "nvme-lm:dirty";
    /** Flags of nvme-lm:dirty extents, in the shape of qemu:dirty-bitmap: bit 0 = dirty. */
    public static final int DIRTY = 1;

    /** The dirty map behind {@code nvme-lm:dirty}: dirty runs (offset, length) within a range, in order. */
    public interface DirtyMap {
        List<BlockDevice.Extent> dirty(long offset, long length) throws IOException;
    }

    private final String name;
    private final BlockDevice device;
    private final Supplier<DirtyMap> dirty;   // null result: context not available now

    public BlockDeviceExport(String name, BlockDevice device, Supplier<DirtyMap> dirty) {
        this.name = name;
        this.device = device;
        this.dirty = dirty;
    }

    @Override public String name() { return name; }

    @Override public String description() { return device.name(); }

    @Override public long sizeBytes() { return device.sizeBytes(); }

    @Override public int minBlockBytes() { return device.blockSizeBytes(); }

    @Override public int preferredBlockBytes() { return Math.max(4096, device.blockSizeBytes()); }

    private void aligned(long offset, long length) throws NbdError {
        int b = device.blockSizeBytes();
        if (offset % b != 0 || length % b != 0) {
            throw new NbdError(Nbd.EINVAL, "request [" + offset + ", +" + length + ") is not aligned to the " + b + "-byte LBA");
        }
    }

    @Override
    public void read(long offset, byte[] dst, int len) throws IOException {
        aligned(offset, len);
        device.read(offset, MemorySegment.ofArray(dst).asSlice(0, len));
    }

    @Override
    public void write(long offset, byte[] src, int len, boolean fua) throws IOException {
        aligned(offset, len);
        device.write(offset, MemorySegment.ofArray(src).asSlice(0, len));
        if (fua) device.flush();
    }

    /** NVMe Write Zeroes is a metadata operation here, so FAST_ZERO requests are honoured. */
    @Override
    public void writeZeroes(long offset, long length, boolean mayDeallocate, boolean fastOnly) throws IOException {
        aligned(offset, length);
        device.writeZeroes(offset, length, mayDeallocate);
    }

    /** Trim as Write Zeroes with deallocate: the blocks read back as zeroes, and the namespace stays thin. */
    @Override
    public void trim(long offset, long length) throws IOException {
        aligned(offset, length);
        device.writeZeroes(offset, length, true);
    }

    @Override
    public void flush() throws IOException {
        device.flush();
    }

    @Override
    public List<String> metaContexts() {
        return dirty != null && dirty.get() != null ? List.of(BASE_ALLOCATION, NVME_LM_DIRTY) : List.of(BASE_ALLOCATION);
    }

    @Override
    public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
        List<BlockDevice.Extent> marked;
        int markedFlags, otherFlags;
        switch (context) {
            case BASE_ALLOCATION -> {
                marked = device.allocated(offset, length);
                markedFlags = 0;
                otherFlags = Nbd.STATE_HOLE | Nbd.STATE_ZERO;
            }
            case NVME_LM_DIRTY -> {
                DirtyMap map = dirty == null ? null : dirty.get();
                if (map == null) throw new NbdError(Nbd.EINVAL, "nvme-lm:dirty is not available: no tracking on this namespace");
                marked = map.dirty(offset, length);
                markedFlags = DIRTY;
                otherFlags = 0;
            }
            default -> throw new NbdError(Nbd.EINVAL, "unknown meta context " + context);
        }
        return runs(marked, offset, length, markedFlags, otherFlags);
    }

    /** Turns marked runs into consecutive extents covering [offset, offset+length). */
    static List<Extent> runs(List<BlockDevice.Extent> marked, long offset, long length, int markedFlags, int otherFlags) {
        List<Extent> out = new ArrayList<>();
        long at = offset, end = offset + length;
        for (BlockDevice.Extent e : marked) {
            long s = Math.max(e.offset(), at), t = Math.min(e.offset() + e.length(), end);
            if (t <= s) continue;
            if (s > at) out.add(new Extent(s - at, otherFlags));
            out.add(new Extent(t - s, markedFlags));
            at = t;
        }
        if (at < end) out.add(new Extent(end - at, otherFlags));
        return out;
    }
}
