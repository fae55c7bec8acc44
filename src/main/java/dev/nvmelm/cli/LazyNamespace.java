package dev.nvmelm.cli;

import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.pci.PciNvmeDevice;
import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.block.NvmeBlockDevice;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;

/**
 * A served namespace whose host driver is attached on first write, not at start-up and not by
 * a read or flush: a controller nobody has written through has no I/O queues, so it can
 * still be the destination of a migration while a client (a destination QEMU probing sector 0)
 * already reads it. Until then reads go through the MMC's shared namespace (docs/device.md),
 * or through the driver the guest of this controller already uses. Once attached it keeps that
 * driver, which follows the guest across a handover — the export moves with the migrated
 * controller.
 */
final class LazyNamespace implements BlockDevice {
    private final DeviceServer server;
    private final int cntlid, nsid;
    private volatile NvmeBlockDevice device;
    private volatile PciNvmeDevice driver;               // device's driver
    private volatile NvmeBlockDevice throughMmc;

    LazyNamespace(DeviceServer server, int cntlid, int nsid) {
        this.server = server;
        this.cntlid = cntlid;
        this.nsid = nsid;
    }

    /** The guest's driver, enabled now if there is none (the controller then has I/O queues). */
    private NvmeBlockDevice device() throws IOException {
        NvmeBlockDevice d = device;
        if (d != null && driver.detachedTo() == null) return d;
        synchronized (this) {
            if (device != null && driver.detachedTo() != null) {
                // the guest moved to another host; once a Resume made the controller usable
                // afresh the server has a new driver for it, else the detached one fails the request
                try {
                    attach(server.guestDevice(cntlid));
                } catch (NvmeException stillSuspended) {
                    return device;
                }
            }
            if (device == null) {
                try {
                    attach(server.guestDevice(cntlid));   // after a switchover: where the guest went
                } catch (NvmeException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }
            return device;
        }
    }

    private void attach(PciNvmeDevice d) throws NvmeException {
        if (d == driver) return;
        device = new NvmeBlockDevice(d, nsid);
        driver = d;
    }

    /** For a read: the guest's driver if one exists (attached from now on), else the MMC's view of this namespace. */
    private NvmeBlockDevice reader() throws IOException {
        if (device != null) return device();
        Optional<PciNvmeDevice> guest = server.existingGuestDevice(cntlid);
        if (guest.isPresent()) return device();
        NvmeBlockDevice m = throughMmc;
        if (m != null) return m;
        synchronized (this) {
            if (throughMmc == null) {
                int shared = (cntlid - 1) * server.subsystem().config().namespacesPerController() + nsid;   // docs/device.md: the MMC's NSID of MC C's namespace n
                try {
                    throughMmc = new NvmeBlockDevice(server.device(0), shared);
                } catch (NvmeException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }
            return throughMmc;
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

    @Override public void read(long offset, MemorySegment dst) throws IOException { reader().read(offset, dst); }

    @Override public void write(long offset, MemorySegment src) throws IOException { device().write(offset, src); }

    @Override public void writeZeroes(long offset, long length, boolean deallocate) throws IOException { device().writeZeroes(offset, length, deallocate); }

    /** A client that wrote nothing through this export has nothing of its own to flush: the MMC's Flush of the namespace does, without queues. */
    @Override public void flush() throws IOException { (device != null ? device() : reader()).flush(); }

    @Override public List<Extent> allocated(long offset, long length) throws IOException { return reader().allocated(offset, length); }

    @Override public void close() {}
}
