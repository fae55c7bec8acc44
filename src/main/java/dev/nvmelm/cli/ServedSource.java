package dev.nvmelm.cli;

import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.sim.SimMessage;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.migrate.MediaMigration;
import dev.nvmelm.block.NvmeBlockDevice;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.StatusCodes;

import java.time.Duration;

/**
 * A served controller ({@code sim:D/ctl.sock#C}) as the source of a move to another host. The
 * engine reads through the MMC's shared namespace, as {@link SimEndpoints} does locally, while
 * the server's driver of MC C keeps serving its guests (sim: clients, NBD exports). The
 * destination has no guest memory, so right before the Suspend the server quiesces that driver
 * (new guest I/O held, what is in flight completed: no command waits in an SQ); after the agent
 * committed it detaches it (held and later guest I/O fail back to their clients, MC C is reset);
 * if the commit does not complete, MC C is resumed and the held I/O released: the guests go on
 * here, nothing lost.
 */
final class ServedSource implements RemoteEndpoints.Source, AutoCloseable {
    private final SimNvmeDevice mmc;
    private final MediaMigration.Side side;
    private final String destination;
    /** The server holds MC C's guest I/O for this run: released on any end but a commit. */
    private volatile boolean quiesced;

    private ServedSource(SimNvmeDevice mmc, MediaMigration.Side side, String destination) {
        this.mmc = mmc;
        this.side = side;
        this.destination = destination;
    }

    /** {@code destination} names where the namespace goes, for the refusals the source's clients see afterwards. */
    static ServedSource open(String device, int nsid, Duration timeout, String destination) throws NvmeException {
        SimNvmeDevice.Address a = SimNvmeDevice.Address.parse(device);
        if (a.cntlid() == 0) throw new CliException("--source names a migratable controller: sim:PATH#CNTLID with CNTLID >= 1 (sim:PATH alone is the MMC)");
        SimNvmeDevice m = SimNvmeDevice.open("sim:" + a.socket(), timeout);
        try {
            int shared;
            try {
                shared = m.sharedNsid(a.cntlid(), nsid);
            } catch (IllegalArgumentException e) {
                throw new CliException(device + ": " + e.getMessage());
            }
            return new ServedSource(m, new MediaMigration.Side(m, a.cntlid(), nsid, new NvmeBlockDevice(m, shared)), destination);
        } catch (NvmeException | RuntimeException e) {
            m.close();
            throw e;
        }
    }

    @Override public MediaMigration.Side side() { return side; }

    @Override public NvmeDevice guest() { return null; }

    /** The guests stay with the server's driver; only the quiesce before the Suspend is this side's. */
    @Override
    public MediaMigration.GuestHandover handover() {
        return new MediaMigration.GuestHandover() {
            @Override
            public void beforeSuspend() throws NvmeException {
                quiesced = true;   // set first: a quiesce that fails half way is released on close
                mmc.gate(side.cntlid(), SimMessage.GateStep.QUIESCE, destination);
            }

            @Override public void toDestination() {
                throw new IllegalStateException("a storage-only destination takes no handover");
            }

            @Override public void backToSource() {
                throw new IllegalStateException("a storage-only destination takes no handover");
            }
        };
    }

    @Override
    public byte[] sha256() throws Exception {
        return dev.nvmelm.net.agent.DestinationAgent.sha256(side.data(), side.data().sizeBytes());
    }

    @Override
    public String committed() {
        try {
            mmc.gate(side.cntlid(), SimMessage.GateStep.DETACH, destination);
            quiesced = false;
            return "source controller " + side.cntlid() + " detached: its clients' requests now fail with an error there";
        } catch (NvmeException e) {
            // the agent owns the namespace now: never resume the source; it stays suspended with its guests held
            quiesced = false;
            return "the source server did not detach controller " + side.cntlid() + " (" + e.getMessage() + "); it stays suspended";
        }
    }

    @Override
    public String notCommitted() {
        String resumed;
        try {
            var c = mmc.admin(new MigrationSendCommand.Resume(side.cntlid(), 0).toSqe(), null);
            resumed = c.ok() || c.status().is(StatusCodes.CTRL_NOT_SUSPENDED) ? "the source controller is resumed"
                    : "the source controller did not resume (" + c.status() + ")";
        } catch (NvmeException e) {
            resumed = "the source controller did not resume (" + e.getMessage() + ")";
        }
        String released = release();
        return resumed + " and " + released;
    }

    /** Submits the guest I/O the server held; returns what happened, in words. */
    private String release() {
        if (!quiesced) return "its guests continue on it";
        try {
            mmc.gate(side.cntlid(), SimMessage.GateStep.RELEASE, "");
            quiesced = false;
            return "its guests continue on it, nothing lost";
        } catch (NvmeException e) {
            return "its held guest requests were not released (" + e.getMessage() + "; they go out when this client disconnects)";
        }
    }

    /** An abort (the engine resumed MC C) or a failed commit: the held guest I/O goes out. */
    @Override
    public void close() {
        release();
        mmc.close();
    }
}
