package dev.nvmelm.device;

import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the controller logs (NVM Command Set, section 5.6): every user-data change an MC's I/O queues make
 * while tracking is on, one entry per change when the command completes, with NSID, SLBA and
 * NLB (0's based, Figure 177) and LBACI 0; nothing for reads, flushes, failed commands, the MMC's
 * own I/O, or while tracking is off.
 */
class LoggingTest {

    static LbaMigrationEntry range(int nsid, long slba, long blocks) {
        return LbaMigrationEntry.range(nsid, slba, blocks, true);
    }

    /** MC 1 with two namespaces: NSID 2 entries must say NSID 2. */
    static final class TwoNs implements AutoCloseable {
        final Sim sim;
        final Sim.Host mmc, mc;
        final Ring ring;

        TwoNs(Path dir) throws Exception {
            sim = new Sim(dir, 2, 2, Fx.NS_BYTES, Fx.LBA);
            mmc = sim.host(0);
            mc = sim.host(1);
            mc.createIoQueues(1, 64);
            mc.createIoQueues(2, 64);
            mmc.createIoQueues(1, 16);
            Sim.Buf buf = sim.alloc(256 * 32);
            Cqe c = mmc.admin(new dev.nvmelm.spec.ControllerDataQueueCommand.Create(0, true, 1, 256 * 8, buf.iova()).toSqe());
            assertThat(c.status()).isEqualTo(Status.SUCCESS);
            ring = new Ring(mmc, buf, 256, c.dw0());
        }

        Cqe io(int qid, Sqe sqe) {
            return mc.io(qid, sqe);
        }

        Sqe withData(Sqe sqe, long bytes) {
            return mc.withData(sqe, sim.alloc(bytes));
        }

        Status track(boolean start) {
            return mmc.admin(start ? dev.nvmelm.spec.TrackSendCommand.start(ring.cdqid).toSqe()
                    : dev.nvmelm.spec.TrackSendCommand.stop(ring.cdqid).toSqe()).status();
        }

        /** New change entries (markers dropped). */
        List<LbaMigrationEntry> changes() {
            return ring.poll().stream().filter(e -> e.lbaci() != LbaMigrationEntry.LBACI_NONE).toList();
        }

        @Override
        public void close() throws Exception {
            sim.close();
        }

    }

    @Test
    void everyKindOfChangeIsLoggedWithItsRange(@TempDir Path dir) throws Exception {
        try (TwoNs t = new TwoNs(dir)) {
            assertThat(t.track(true)).isEqualTo(Status.SUCCESS);
            assertThat(t.ring.poll()).extracting(LbaMigrationEntry::esa).containsExactly(LbaMigrationEntry.ESA_FIRST);

            assertThat(t.io(1, t.withData(IoCommands.write(1, 7, 1, false).toSqe(), 512)).status()).isEqualTo(Status.SUCCESS);
            assertThat(t.io(2, t.withData(IoCommands.write(2, 100, 64, true).toSqe(), 64 * 512)).status()).isEqualTo(Status.SUCCESS);
            List<LbaMigrationEntry> writes = t.changes();
            assertThat(writes).containsExactly(range(1, 7, 1), range(2, 100, 64));
            assertThat(writes.get(0).nlb()).as("NLB is 0's based").isZero();
            assertThat(writes.get(1).nlb()).isEqualTo(63);
            assertThat(writes).allSatisfy(e -> assertThat(e.lbaci()).isEqualTo(LbaMigrationEntry.LBACI_RANGE));

            // Write Zeroes, plain and deallocating, up to the whole namespace (NLB field 8191)
            t.io(1, new IoCommands.WriteZeroes(1, 300, 9, false).toSqe());
            t.io(1, new IoCommands.WriteZeroes(2, 400, 0, true).toSqe());
            t.io(2, new IoCommands.WriteZeroes(1, 0, 8191, true).toSqe());
            assertThat(t.changes()).containsExactly(range(1, 300, 10), range(2, 400, 1), range(1, 0, 8192));

            // DSM deallocate: ranges sorted and merged where they touch or overlap, empty ranges ignored
            Sim.Buf dsm = t.sim.alloc(5 * 16);
            IoCommands.encodeRanges(List.of(new IoCommands.DsmRange(30, 2), new IoCommands.DsmRange(15, 5),
                    new IoCommands.DsmRange(10, 5), new IoCommands.DsmRange(12, 2), new IoCommands.DsmRange(50, 0)), dsm.seg());
            assertThat(t.io(1, t.mc.withData(new IoCommands.DatasetManagement(2, 5, true).toSqe(), dsm)).status()).isEqualTo(Status.SUCCESS);
            assertThat(t.changes()).containsExactly(range(2, 10, 10), range(2, 30, 2));
            // without AD (Attribute Deallocate) DSM changes nothing: nothing logged
            t.io(1, t.mc.withData(new IoCommands.DatasetManagement(2, 5, false).toSqe(), dsm));
            assertThat(t.changes()).isEmpty();

            // Copy: the destination range, source ranges summed
            Sim.Buf ranges = t.sim.alloc(64);
            IoCommands.encodeCopyRanges(List.of(new IoCommands.CopyRange(100, 3), new IoCommands.CopyRange(7, 0)), ranges.seg());
            assertThat(t.io(2, t.mc.withData(new IoCommands.Copy(2, 1000, 2).toSqe(), ranges)).status()).isEqualTo(Status.SUCCESS);
            assertThat(t.changes()).containsExactly(range(2, 1000, 5));

            // not logged: reads, flushes, failed commands
            t.io(1, t.withData(IoCommands.read(1, 0, 8).toSqe(), 8 * 512));
            t.io(1, IoCommands.flush(1));
            t.io(1, IoCommands.flush(-1));
            assertThat(t.io(1, t.withData(IoCommands.write(1, 8191, 2, false).toSqe(), 1024)).status().isSuccess()).isFalse();
            assertThat(t.io(1, IoCommands.write(1, 0, 1, false).toSqe().withPrp(0x1000, 0)).status().isSuccess()).isFalse();
            IoCommands.encodeRanges(List.of(new IoCommands.DsmRange(0, 1), new IoCommands.DsmRange(8190, 5)), dsm.seg());
            assertThat(t.io(1, t.mc.withData(new IoCommands.DatasetManagement(1, 2, true).toSqe(), dsm)).status().isSuccess()).isFalse();
            assertThat(t.changes()).isEmpty();

            // the MMC's own writes to MC 1's namespace (MMC NSID 1) are not MC 1's changes
            assertThat(t.mmc.io(1, t.mmc.withData(IoCommands.write(1, 5, 1, false).toSqe(), t.sim.alloc(512))).status()).isEqualTo(Status.SUCCESS);
            assertThat(t.changes()).isEmpty();
        }
    }

    @Test
    void nothingIsLoggedWhileTrackingIsOff(@TempDir Path dir) throws Exception {
        try (TwoNs t = new TwoNs(dir)) {
            t.io(1, t.withData(IoCommands.write(1, 1, 1, false).toSqe(), 512));
            assertThat(t.ring.poll()).isEmpty();
            t.track(true);
            t.io(1, t.withData(IoCommands.write(1, 2, 1, false).toSqe(), 512));
            t.track(false);
            t.io(1, t.withData(IoCommands.write(1, 3, 1, false).toSqe(), 512));
            t.io(1, new IoCommands.WriteZeroes(1, 4, 0, true).toSqe());
            assertThat(t.ring.poll()).extracting(LbaMigrationEntry::esa, LbaMigrationEntry::slba).containsExactly(
                    org.assertj.core.groups.Tuple.tuple(LbaMigrationEntry.ESA_FIRST, 0L),
                    org.assertj.core.groups.Tuple.tuple(LbaMigrationEntry.ESA_MIDDLE, 2L),
                    org.assertj.core.groups.Tuple.tuple(LbaMigrationEntry.ESA_STOPPED, 0L));
            // another MC's writes never reach MC 1's queue
            Sim.Host mc2 = t.sim.host(2);
            mc2.createIoQueues(1, 8);
            t.track(true);
            mc2.io(1, mc2.withData(IoCommands.write(1, 9, 1, false).toSqe(), t.sim.alloc(512)));
            assertThat(t.changes()).isEmpty();
        }
    }

    @Test
    void anEntryAppearsWhenItsCommandCompletesNotBefore(@TempDir Path dir) throws Exception {
        try (TwoNs t = new TwoNs(dir)) {
            t.track(true);
            t.ring.poll();
            Sim.Buf data = t.sim.alloc(1024);
            data.seg().fill((byte) 0x42);
            int cid = t.mc.submit(1, t.mc.withData(IoCommands.write(1, 42, 2, false).toSqe(), data));
            assertThat(t.changes()).as("submitted, not executed").isEmpty();
            t.sim.run();
            assertThat(t.mc.completion(1, cid).status()).isEqualTo(Status.SUCCESS);
            assertThat(t.changes()).containsExactly(range(1, 42, 2));
            // and the data is there: the entry names LBAs that hold what was written
            Sim.Buf back = t.sim.alloc(1024);
            t.io(2, t.mc.withData(IoCommands.read(1, 42, 2).toSqe(), back));
            assertThat(back.seg().toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0x42);
        }
    }
}
