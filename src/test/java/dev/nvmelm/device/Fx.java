package dev.nvmelm.device;

import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.TrackSendCommand;
import dev.nvmelm.spec.bus.Registers;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The usual deterministic set-up: a {@link Sim} with the MMC's driver and MC 1's driver (two
 * I/O queue pairs), 512-byte LBAs, and helpers for the HMLM commands and for reading a CDQ the
 * way a host consumer does.
 */
final class Fx implements AutoCloseable {
    static final int LBA = 512;
    static final long NS_BYTES = 4 << 20;   // 8192 LBAs
    final Sim sim;
    final Sim.Host mmc;
    final Sim.Host mc;

    Fx(Path dir) throws IOException {
        this(dir, 2);
    }

    Fx(Path dir, int migratable) throws IOException {
        this(new Sim(dir, migratable, NS_BYTES, LBA));
    }

    /** Drivers for the MMC and MC 1 of an existing {@link Sim}. */
    Fx(Sim sim) {
        this.sim = sim;
        mmc = sim.host(0);
        mc = sim.host(1);
        mc.createIoQueues(1, 64);
        mc.createIoQueues(2, 64);
    }

    /** Creates a contiguous UDMQ of {@code entries} slots for {@code cntlid} and asserts success. */
    Ring createCdq(int cntlid, int entries) {
        Sim.Buf buf = sim.alloc((long) entries * LbaMigrationEntry.SIZE);
        Cqe c = mmc.admin(new ControllerDataQueueCommand.Create(ControllerDataQueueCommand.QT_USER_DATA_MIGRATION, true, cntlid,
                entries * 8L, buf.iova()).toSqe());
        if (!c.status().isSuccess()) throw new AssertionError("Create CDQ: " + c.status());
        return new Ring(mmc, buf, entries, c.dw0() & 0xffff);
    }

    Status trackStart(Ring r) {
        return mmc.admin(TrackSendCommand.start(r.cdqid).toSqe()).status();
    }

    Status trackStop(Ring r) {
        return mmc.admin(TrackSendCommand.stop(r.cdqid).toSqe()).status();
    }

    Status suspend(int cntlid, boolean dudmq) {
        return mmc.admin(new MigrationSendCommand.Suspend(cntlid, MigrationSendCommand.STYPE_SUSPEND, dudmq, 0).toSqe()).status();
    }

    Status resume(int cntlid) {
        return mmc.admin(new MigrationSendCommand.Resume(cntlid, 0).toSqe()).status();
    }

    /** Writes {@code blocks} LBAs of a pattern at {@code slba} through MC 1's I/O queue {@code qid}. */
    Cqe write(int qid, long slba, int blocks) {
        Sim.Buf data = sim.alloc((long) blocks * LBA);
        data.seg().fill((byte) (slba * 7 + 1));
        return mc.io(qid, mc.withData(IoCommands.write(1, slba, blocks, false).toSqe(), data));
    }

    /** Submits a write on MC 1 without running the controllers; returns the CID. */
    int submitWrite(int qid, long slba, int blocks) {
        Sim.Buf data = sim.alloc((long) blocks * LBA);
        data.seg().fill((byte) (slba * 7 + 1));
        return mc.submit(qid, mc.withData(IoCommands.write(1, slba, blocks, false).toSqe(), data));
    }

    boolean fatal(Sim.Host h) {
        return (h.csts() & Registers.CSTS_CFS) != 0;
    }

    @Override
    public void close() throws IOException {
        sim.close();
    }
}
