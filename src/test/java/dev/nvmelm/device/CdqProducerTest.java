package dev.nvmelm.device;

import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.AsyncEvent;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;

import static dev.nvmelm.spec.LbaMigrationEntry.ESA_FIRST;
import static dev.nvmelm.spec.LbaMigrationEntry.ESA_MIDDLE;
import static dev.nvmelm.spec.LbaMigrationEntry.ESA_QUEUE_FULL;
import static dev.nvmelm.spec.LbaMigrationEntry.ESA_STOPPED;
import static dev.nvmelm.spec.LbaMigrationEntry.ESA_SUSPENDED;
import static dev.nvmelm.spec.LbaMigrationEntry.LBACI_NONE;
import static dev.nvmelm.spec.LbaMigrationEntry.LBACI_RANGE;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The CDQ producer rules (Base 2.2, section 8.1.6) and the markers (NVM Command Set, Figure 177), on the deterministic
 * {@link Sim}: ring wrap and phase, full ring, markers and the last free slot, the Tail
 * Pointer Trigger, and Set Features 21h head validation.
 */
class CdqProducerTest {
    static final Status CDQ_FULL = Status.dnr(StatusCodes.CDQ_FULL);
    static final Status INVALID_FIELD = Status.dnr(StatusCodes.INVALID_FIELD);

    static LbaMigrationEntry range(long slba, long blocks, boolean phase) {
        return LbaMigrationEntry.range(1, slba, blocks, phase);
    }

    static LbaMigrationEntry marker(int esa, boolean phase) {
        return LbaMigrationEntry.marker(esa, phase);
    }

    static dev.nvmelm.spec.Sqe write(Fx fx, long slba) {
        Sim.Buf data = fx.sim.alloc(Fx.LBA);
        return fx.mc.withData(dev.nvmelm.spec.IoCommands.write(1, slba, 1, false).toSqe(), data);
    }

    @Test
    void phaseStartsAtOneAndFlipsExactlyOnEachWrapOverThousandsOfEntries(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            int n = 8;
            Ring ring = fx.createCdq(1, n);
            assertThat(fx.trackStart(ring)).isEqualTo(Status.SUCCESS);
            assertThat(ring.drain()).containsExactly(marker(ESA_FIRST, true));
            long produced = 1;
            int writes = 5000;
            for (int i = 0; i < writes; i++) {
                // the host may scribble on slots it consumed; the controller must rewrite all 32 bytes
                int lastConsumedSlot = ring.slot(ring.consumed - 1);
                ring.buf.seg().asSlice((long) lastConsumedSlot * 32, 31).fill((byte) 0xff);

                long slba = (i * 37L) % 2000;
                int blocks = 1 + i % 8;
                assertThat(fx.write(1 + i % 2, slba, blocks).status()).isEqualTo(Status.SUCCESS);
                // the slot after the new entry still holds the previous pass's phase: not yet written
                assertThat(ring.isNew(produced + 1)).isFalse();
                List<LbaMigrationEntry> got = ring.drain();
                boolean phase = ring.phaseOfPass(produced);
                assertThat(got).as("entry %d (slot %d)", produced, ring.slot(produced)).containsExactly(range(slba, blocks, phase));
                assertThat(LbaMigrationEntry.reservedBitsSet(ring.buf.seg(), ring.slot(produced) * 32L)).isFalse();
                produced++;
            }
            assertThat(produced / n).as("passes over the ring").isGreaterThan(600);
            // phase 1 on even passes, 0 on odd ones: slot N-1 and slot 0 of the next pass differ
            assertThat(ring.phaseOfPass(n - 1)).isTrue();
            assertThat(ring.phaseOfPass(n)).isFalse();
            assertThat(fx.fatal(fx.mmc) || fx.fatal(fx.mc)).isFalse();
        }
    }

    @Test
    void theEntryThatFillsTheRingGetsEsa7AndOneCdqFullEventAndNothingIsWrittenAfterIt(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            int n = 8;
            Ring ring = fx.createCdq(1, n);
            int aer = fx.mmc.submit(0, AdminCommands.asyncEventRequest());
            int aer2 = fx.mmc.submit(0, AdminCommands.asyncEventRequest());
            fx.sim.run();
            assertThat(fx.trackStart(ring)).isEqualTo(Status.SUCCESS);   // slot 0: ESA 1
            for (int i = 1; i <= n - 2; i++) fx.write(1, i * 10L, 1);    // slots 1..6; slot 6 fills the ring
            assertThat(fx.mmc.completion(0, aer2)).isNull();
            Cqe event = fx.mmc.completion(0, aer);
            assertThat(event).as("CDQ Full event").isNotNull();
            assertThat(AsyncEvent.decode(event.dw0(), event.dw1())).isEqualTo(AsyncEvent.cdqFull(ring.cdqid));
            assertThat(event.dw0()).isEqualTo(0x0104);
            assertThat(event.dw1()).isEqualTo(ring.cdqid);

            // writes go on (the MC is not stopped) but nothing more reaches the ring, and no second event
            for (int i = 0; i < 20; i++) assertThat(fx.write(2, 500 + i, 1).status()).isEqualTo(Status.SUCCESS);
            assertThat(fx.mmc.completion(0, aer2)).isNull();
            assertThat(ring.buf.seg().asSlice((long) (n - 1) * 32, 32).toArray(ValueLayout.JAVA_BYTE)).containsOnly(0);

            List<LbaMigrationEntry> got = ring.poll();
            assertThat(got).hasSize(n - 1);
            assertThat(got.getFirst()).isEqualTo(marker(ESA_FIRST, true));
            for (int i = 1; i < n - 2; i++) assertThat(got.get(i)).isEqualTo(range(i * 10L, 1, true));
            assertThat(got.getLast()).isEqualTo(range((n - 2) * 10L, 1, true).withEsa(ESA_QUEUE_FULL));
            assertThat(got.getLast().lbaci()).isEqualTo(LBACI_RANGE);

            // the host consumed everything: the ring has room again, but logging stays broken
            // until Track Send starts it again (the lost changes must not look logged)
            assertThat(ring.reportHead()).isEqualTo(Status.SUCCESS);
            fx.write(1, 900, 1);
            assertThat(ring.poll()).isEmpty();
            assertThat(fx.trackStart(ring)).isEqualTo(Status.SUCCESS);
            fx.write(1, 901, 2);
            assertThat(ring.drain()).containsExactly(marker(ESA_FIRST, true), range(901, 2, false));
            // the trigger-free ring filling again gives a second CDQ Full event: not masked after the first
            for (int i = 0; i < n - 1; i++) fx.write(1, 1000 + i, 1);
            Cqe second = fx.mmc.completion(0, aer2);
            assertThat(second).isNotNull();
            assertThat(second.dw0()).isEqualTo(0x0104);
            assertThat(ring.poll().getLast().esa()).isEqualTo(ESA_QUEUE_FULL);
        }
    }

    @Test
    void afterEsa7TrackingCanBeStoppedOnceTheHostMadeRoomAndDeleteAndRecreateStartsClean(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 4);
            fx.trackStart(ring);
            fx.write(1, 1, 1);
            fx.write(1, 2, 1);   // fills: ESA 7
            assertThat(fx.trackStop(ring)).as("no room for the ESA 2 marker").isEqualTo(CDQ_FULL);
            assertThat(ring.poll()).extracting(LbaMigrationEntry::esa).containsExactly(ESA_FIRST, ESA_MIDDLE, ESA_QUEUE_FULL);
            assertThat(ring.reportHead()).isEqualTo(Status.SUCCESS);
            assertThat(fx.trackStop(ring)).isEqualTo(Status.SUCCESS);
            assertThat(ring.drain()).containsExactly(marker(ESA_STOPPED, true));

            assertThat(fx.mmc.admin(new ControllerDataQueueCommand.Delete(ring.cdqid).toSqe()).status()).isEqualTo(Status.SUCCESS);
            Ring again = fx.createCdq(1, 4);
            assertThat(again.cdqid).as("lowest free CDQID is reused").isEqualTo(ring.cdqid);
            fx.trackStart(again);
            fx.write(2, 77, 3);
            assertThat(again.drain()).containsExactly(marker(ESA_FIRST, true), range(77, 3, true));
        }
    }

    @Test
    void markersFollowStartStopSuspendAndResume(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 64);
            assertThat(fx.trackStart(ring)).isEqualTo(Status.SUCCESS);
            assertThat(fx.trackStart(ring)).as("start while started: success, no marker").isEqualTo(Status.SUCCESS);
            fx.write(1, 5, 1);
            assertThat(fx.trackStop(ring)).isEqualTo(Status.SUCCESS);
            assertThat(fx.trackStop(ring)).isEqualTo(Status.SUCCESS);
            fx.write(1, 6, 1);   // not logged
            List<LbaMigrationEntry> first = ring.drain();
            assertThat(first).containsExactly(marker(ESA_FIRST, true), range(5, 1, true), marker(ESA_STOPPED, true));
            assertThat(first.getFirst().lbaci()).isEqualTo(LBACI_NONE);
            assertThat(first.getLast().lbaci()).isEqualTo(LBACI_NONE);

            // suspend and resume while logging: ESA 3, then ESA 1
            fx.trackStart(ring);
            assertThat(fx.suspend(1, false)).isEqualTo(Status.SUCCESS);
            assertThat(fx.resume(1)).isEqualTo(Status.SUCCESS);
            fx.write(2, 7, 2);
            assertThat(ring.drain()).containsExactly(marker(ESA_FIRST, true), marker(ESA_SUSPENDED, true),
                    marker(ESA_FIRST, true), range(7, 2, true));

            // not logging: suspend still reports "suspended" (the MC has a UDMQ), resume posts no ESA 1
            fx.trackStop(ring);
            assertThat(fx.suspend(1, false)).isEqualTo(Status.SUCCESS);
            assertThat(fx.resume(1)).isEqualTo(Status.SUCCESS);
            fx.write(2, 8, 1);
            assertThat(ring.drain()).containsExactly(marker(ESA_STOPPED, true), marker(ESA_SUSPENDED, true));
        }
    }

    @Test
    void aMarkerNeverTakesTheLastFreeSlotTheCommandFailsWith3Bh(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            int n = 8;
            Ring ring = fx.createCdq(1, n);
            fx.trackStart(ring);                               // slot 0
            for (int i = 1; i <= 5; i++) fx.write(1, i, 1);   // slots 1..5: one free slot left
            assertThat(fx.trackStop(ring)).isEqualTo(CDQ_FULL);
            assertThat(fx.suspend(1, false)).isEqualTo(CDQ_FULL);
            assertThat(fx.sim.subsystem.controller(1).migrationState()).isEqualTo(Controller.State.ACTIVE);
            assertThat(ring.isNew(6)).as("slot 6 untouched").isFalse();
            // logging is still on and the MC still runs: the next write takes the last slot with ESA 7
            fx.write(2, 6, 1);
            List<LbaMigrationEntry> got = ring.drain();
            assertThat(got).hasSize(7);
            assertThat(got.getLast()).isEqualTo(range(6, 1, true).withEsa(ESA_QUEUE_FULL));

            // Resume with no room for its ESA 1 fails and leaves the MC suspended, its SQs unfetched
            Ring r2 = fx.createCdq(2, n);
            Sim.Host mc2 = fx.sim.host(2);
            mc2.createIoQueues(1, 16);
            fx.trackStart(r2);                                                        // slot 0
            for (int i = 0; i < 4; i++) assertThat(mc2.io(1, write(fx, i)).status()).isEqualTo(Status.SUCCESS);   // 1..4
            assertThat(fx.suspend(2, false)).isEqualTo(Status.SUCCESS);                // slot 5: ESA 3, one free
            int pending = mc2.submit(1, write(fx, 100));
            fx.sim.run();
            assertThat(fx.resume(2)).isEqualTo(CDQ_FULL);
            assertThat(fx.sim.subsystem.controller(2).migrationState()).isEqualTo(Controller.State.SUSPENDED);
            assertThat(mc2.completion(1, pending)).isNull();
            assertThat(r2.drain()).hasSize(6).last().isEqualTo(marker(ESA_SUSPENDED, true));
            assertThat(fx.resume(2)).isEqualTo(Status.SUCCESS);
            assertThat(mc2.completion(1, pending).status()).isEqualTo(Status.SUCCESS);
            assertThat(r2.drain()).containsExactly(marker(ESA_FIRST, true), range(100, 1, true));
        }
    }
}
