package dev.nvmelm.cli;

import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.cdq.DirtyExtents;
import dev.nvmelm.host.cdq.LbaRange;
import dev.nvmelm.migrate.Tracking;
import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.nbd.BlockDeviceExport;

import java.util.ArrayList;
import java.util.List;

/**
 * CDQ tracking of one migratable controller held by the device server itself, so the NBD
 * context {@code nvme-lm:dirty} can report what changed since the server started — the role
 * {@code qemu:dirty-bitmap} plays for QEMU. It takes the MC's User Data Migration Queue (an MC
 * has one), so a migration of that MC needs a server started without {@code --nbd-dirty}.
 * Extents are never taken: the map only grows until the server exits.
 */
final class DirtyTracker implements AutoCloseable {
    static final long CDQ_BYTES = 1 << 20;   // 32768 entries
    private final DeviceServer server;
    private final int cntlid;
    private final Tracking tracking;
    private final List<DirtyExtents> extents = new ArrayList<>();

    /** Returns once the ESA 1 marker was consumed: every later write is in the map. */
    DirtyTracker(DeviceServer server, int cntlid) throws NvmeException, InterruptedException {
        this.server = server;
        this.cntlid = cntlid;
        var config = server.subsystem().config();
        long lbas = config.nsSizeBytes() / config.lbaSizeBytes();
        for (int n = 1; n <= config.namespacesPerController(); n++) extents.add(new DirtyExtents(n, lbas, config.lbaSizeBytes()));
        this.tracking = new Tracking(server.device(0), cntlid, extents, CDQ_BYTES);
        server.holdCdq(tracking.queue());   // no sim: client may stop this logging or move its head
        try {
            tracking.startLogging();
        } catch (NvmeException | InterruptedException | RuntimeException e) {
            server.forgetCdq(tracking.queue().cdqid());
            tracking.close();
            throw e;
        }
    }

    /** The dirty map of namespace {@code nsid}; everything once tracking broke (CDQ full). */
    BlockDeviceExport.DirtyMap map(int nsid) {
        DirtyExtents d = extents.get(nsid - 1);
        long lbaBytes = d.lbaSizeBytes();
        return (offset, length) -> {
            if (tracking.broken()) return List.of(new BlockDevice.Extent(offset, length));
            tracking.pollNow();   // what the controller logged up to this request
            List<BlockDevice.Extent> out = new ArrayList<>();
            long end = offset + length;
            for (LbaRange r : d.snapshot(offset / lbaBytes, (end + lbaBytes - 1) / lbaBytes)) {
                long s = Math.max(r.slba() * lbaBytes, offset), e = Math.min((r.slba() + r.count()) * lbaBytes, end);
                if (e > s) out.add(new BlockDevice.Extent(s, e - s));
            }
            return out;
        };
    }

    /** Deletes the CDQ, which stops logging on the controller. */
    @Override
    public void close() throws NvmeException {
        server.forgetCdq(tracking.queue().cdqid());
        tracking.close();
    }

    @Override
    public String toString() {
        return "nvme-lm:dirty tracker of CNTLID " + cntlid;
    }
}
