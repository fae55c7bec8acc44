package dev.nvmelm.cli;

import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.cdq.CdqConsumer;
import dev.nvmelm.host.cdq.DirtyExtents;
import dev.nvmelm.host.cdq.LbaRange;
import dev.nvmelm.host.pci.PciNvmeDevice;
import dev.nvmelm.migrate.block.BlockDevice;
import dev.nvmelm.nbd.BlockDeviceExport;
import dev.nvmelm.spec.TrackSendCommand;

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
    private final PciNvmeDevice mmc;
    private final int cntlid;
    private final CdqQueue queue;
    private final CdqConsumer consumer;
    private final List<DirtyExtents> extents = new ArrayList<>();

    DirtyTracker(DeviceServer server, int cntlid) throws NvmeException {
        this.mmc = server.device(0);
        this.cntlid = cntlid;
        var config = server.subsystem().config();
        long lbas = config.nsSizeBytes() / config.lbaSizeBytes();
        for (int n = 1; n <= config.namespacesPerController(); n++) extents.add(new DirtyExtents(n, lbas, config.lbaSizeBytes()));
        this.server = server;
        this.queue = mmc.createCdq(cntlid, CDQ_BYTES);
        server.holdCdq(queue);   // no sim: client may stop this logging or move its head
        try {
            this.consumer = CdqConsumer.builder(mmc, queue).namespaces(extents).build();
            mmc.admin(new TrackSendCommand(TrackSendCommand.SEL_LOG_USER_DATA, TrackSendCommand.LACT_START, queue.cdqid()).toSqe(), null)
                    .orThrow("Track Send (start) for CNTLID " + cntlid);
            consumer.start();
        } catch (NvmeException | RuntimeException e) {
            server.forgetCdq(queue.cdqid());
            queue.close();
            throw e;
        }
    }

    /** The dirty map of namespace {@code nsid}; everything once tracking broke (CDQ full). */
    BlockDeviceExport.DirtyMap map(int nsid) {
        DirtyExtents d = extents.get(nsid - 1);
        long lbaBytes = d.lbaSizeBytes();
        return (offset, length) -> {
            if (consumer.trackingBroken() || consumer.failure().isPresent()) return List.of(new BlockDevice.Extent(offset, length));
            consumer.pollOnce();   // what the controller logged up to this request
            List<BlockDevice.Extent> out = new ArrayList<>();
            long end = offset + length;
            for (LbaRange r : d.snapshot(offset / lbaBytes, (end + lbaBytes - 1) / lbaBytes)) {
                long s = Math.max(r.slba() * lbaBytes, offset), e = Math.min((r.slba() + r.count()) * lbaBytes, end);
                if (e > s) out.add(new BlockDevice.Extent(s, e - s));
            }
            return out;
        };
    }

    @Override
    public void close() throws NvmeException {
        consumer.close();
        try {
            mmc.admin(new TrackSendCommand(TrackSendCommand.SEL_LOG_USER_DATA, TrackSendCommand.LACT_STOP, queue.cdqid()).toSqe(), null);
        } finally {
            server.forgetCdq(queue.cdqid());
            queue.close();
        }
    }

    @Override
    public String toString() {
        return "nvme-lm:dirty tracker of CNTLID " + cntlid;
    }
}
