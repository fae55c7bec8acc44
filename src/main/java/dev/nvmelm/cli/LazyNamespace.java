package dev.nvmelm.cli;

import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.migrate.block.BlockDevice;
import dev.nvmelm.migrate.block.NvmeBlockDevice;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A served namespace whose host driver is attached on first I/O, not at start-up: a controller
 * nobody has used has no I/O queues, so it can still be the destination of a migration. Once
 * attached it keeps that driver, which follows the guest across a handover — the export moves
 * with the migrated controller.
 */
final class LazyNamespace implements BlockDevice {
    private final DeviceServer server;
    private final int cntlid, nsid;
    private volatile NvmeBlockDevice device;

    LazyNamespace(DeviceServer server, int cntlid, int nsid) {
        this.server = server;
        this.cntlid = cntlid;
        this.nsid = nsid;
    }

    private NvmeBlockDevice device() throws IOException {
        NvmeBlockDevice d = device;
        if (d != null) return d;
        synchronized (this) {
            if (device == null) {
                try {
                    device = new NvmeBlockDevice(server.guestDevice(cntlid), nsid);   // after a switchover: where the guest went
                } catch (NvmeException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }
            return device;
        }
    }

    @Override public String name() { return "c" + cntlid + "n" + nsid; }

    @Override public long sizeBytes() { return server.subsystem().config().nsSizeBytes(); }

    @Override public int blockSizeBytes() { return server.subsystem().config().lbaSizeBytes(); }

    @Override
    public int maxRequestBytes() {
        NvmeBlockDevice d = device;
        return d == null ? 1 << 20 : d.maxRequestBytes();
    }

    @Override
    public MemorySegment allocateBuffer(long sizeBytes) {
        return Arena.ofAuto().allocate(sizeBytes, 4096);
    }

    @Override public void read(long offset, MemorySegment dst) throws IOException { device().read(offset, dst); }

    @Override public void write(long offset, MemorySegment src) throws IOException { device().write(offset, src); }

    @Override public void writeZeroes(long offset, long length, boolean deallocate) throws IOException { device().writeZeroes(offset, length, deallocate); }

    @Override public void flush() throws IOException { device().flush(); }

    @Override public List<Extent> allocated(long offset, long length) throws IOException { return device().allocated(offset, length); }

    @Override public void close() {}
}
