package dev.nvmelm.cli;

import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.migrate.MediaMigration;
import dev.nvmelm.block.NvmeBlockDevice;

import java.time.Duration;

/**
 * A live migration between two migratable controllers of one served subsystem:
 * {@code sim:D/ctl.sock#C} to {@code sim:D/ctl.sock#E}. The engine commands the MMC and reads
 * and writes the data through its shared namespaces, never through the MCs' own queues (a
 * suspended MC fetches nothing). The guest is whatever uses the source MC — sim: clients, NBD
 * exports — and the server plays the VMM at the switchover: its driver of MC C, with every
 * client on it, continues on MC E ({@code SimMessage.Handover}).
 *
 * <p>Both MCs must be in one subsystem because a controller's queue state names host-memory
 * addresses: within one server they stay valid, across two servers nothing here would carry
 * the guest's memory (a VMM's job), and the destination would fetch commands from unrelated
 * memory. That case is refused.
 */
final class SimEndpoints implements MigrationRun.Endpoints {
    private final SimNvmeDevice srcMmc, dstMmc;
    private final MediaMigration.Side source, destination;

    private SimEndpoints(SimNvmeDevice srcMmc, SimNvmeDevice dstMmc, MediaMigration.Side source, MediaMigration.Side destination) {
        this.srcMmc = srcMmc;
        this.dstMmc = dstMmc;
        this.source = source;
        this.destination = destination;
    }

    static SimEndpoints open(String src, String dst, int nsid, Duration timeout) throws NvmeException {
        SimNvmeDevice.Address a = SimNvmeDevice.Address.parse(src), b = SimNvmeDevice.Address.parse(dst);
        if (a.cntlid() == 0 || b.cntlid() == 0) {
            throw new CliException("--source and --dest name migratable controllers: sim:PATH#CNTLID with CNTLID >= 1 (sim:PATH alone is the MMC)");
        }
        if (!a.socket().toAbsolutePath().normalize().equals(b.socket().toAbsolutePath().normalize())) {
            throw new CliException("--source and --dest must be controllers of one served subsystem (same sim:PATH): a controller's queue state"
                    + " names host memory, which only one server shares; across hosts use the migration agents");
        }
        if (a.cntlid() == b.cntlid()) throw new CliException("--source and --dest are the same controller");
        SimNvmeDevice s = SimNvmeDevice.open("sim:" + a.socket(), timeout);
        SimNvmeDevice d = null;
        try {
            d = SimNvmeDevice.open("sim:" + b.socket(), timeout);
            var srcSide = new MediaMigration.Side(s, a.cntlid(), nsid, new NvmeBlockDevice(s, shared(s, a.cntlid(), nsid, src)));
            // Both namespaces' data through one connection: a buffer is memory of the client that
            // allocated it, so writes through the other would each go through a bounce buffer of
            // their own (an Alloc and a Free round trip more per write).
            var dstSide = new MediaMigration.Side(d, b.cntlid(), nsid, new NvmeBlockDevice(s, shared(s, b.cntlid(), nsid, dst)));
            return new SimEndpoints(s, d, srcSide, dstSide);
        } catch (NvmeException | RuntimeException e) {
            s.close();
            if (d != null) d.close();
            throw e;
        }
    }

    private static int shared(SimNvmeDevice mmc, int cntlid, int nsid, String what) {
        try {
            return mmc.sharedNsid(cntlid, nsid);
        } catch (IllegalArgumentException e) {
            throw new CliException(what + ": " + e.getMessage());
        }
    }

    @Override public MediaMigration.Side source() { return source; }

    @Override public MediaMigration.Side destination() { return destination; }

    /** The server moves its driver (and so every client and NBD export on it) between the MCs. */
    @Override
    public MediaMigration.GuestHandover handover() {
        return new MediaMigration.GuestHandover() {
            @Override public void toDestination() throws NvmeException {
                srcMmc.handover(source.cntlid(), destination.cntlid());
            }

            @Override public void backToSource() throws NvmeException {
                srcMmc.handover(destination.cntlid(), source.cntlid());
            }
        };
    }

    @Override public NvmeDevice guest() { return null; }

    @Override public long sizeBytes() { return source.data().sizeBytes(); }

    @Override
    public void close() {
        srcMmc.close();
        dstMmc.close();
    }
}
