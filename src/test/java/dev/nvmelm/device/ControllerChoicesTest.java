package dev.nvmelm.device;

import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.AsyncEvent;
import dev.nvmelm.spec.ControllerChoices;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.Disagreements;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.MarkerWithoutRoom;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.PendingTailPointerEvent;
import dev.nvmelm.spec.StartWhileLogging;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.TailPointerTrigger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static dev.nvmelm.spec.LbaMigrationEntry.ESA_FIRST;
import static dev.nvmelm.spec.LbaMigrationEntry.ESA_QUEUE_FULL;
import static dev.nvmelm.spec.LbaMigrationEntry.ESA_STOPPED;
import static dev.nvmelm.spec.LbaMigrationEntry.ESA_SUSPENDED;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The controller-side {@link dev.nvmelm.spec.Disagreements} knobs, flipped through a real
 * controller: nvme-lm's choice (the spec's) against QEMU's ({@link ControllerChoices#QEMU}).
 */
class ControllerChoicesTest {
    static Fx fx(Path dir, ControllerChoices choices, int migratable) throws Exception {
        return new Fx(new Sim(dir, migratable, 1, Fx.NS_BYTES, Fx.LBA, choices));
    }

    /** Two Tail Pointer events in a row: both delivered, unless One-Shot events are masked after the first (QEMU). */
    @Test
    void oneShotMasking(@TempDir Path dir) throws Exception {
        for (ControllerChoices c : new ControllerChoices[]{ControllerChoices.NVME_LM, ControllerChoices.QEMU.withTailPointerTrigger(TailPointerTrigger.SLOT_POSTED)}) {
            try (Fx fx = fx(dir.resolve(c == ControllerChoices.NVME_LM ? "ours" : "qemu"), c, 2)) {
                Ring ring = fx.createCdq(1, 16);
                fx.trackStart(ring);
                ring.drain();
                int aer1 = fx.mmc.submit(0, AdminCommands.asyncEventRequest());
                int aer2 = fx.mmc.submit(0, AdminCommands.asyncEventRequest());
                fx.sim.run();
                ring.setHead(ring.head(), true, ring.head());
                fx.write(1, 1, 1);
                assertThat(fx.mmc.completion(0, aer1)).as("first event").isNotNull();
                ring.drain();
                ring.setHead(ring.head(), true, ring.head());
                fx.write(1, 2, 1);
                Cqe second = fx.mmc.completion(0, aer2);
                if (c.maskOneShotAfterDelivery()) assertThat(second).as("QEMU: masked after the first").isNull();
                else assertThat(second).as("ours: not masked").isNotNull();
            }
        }
    }

    /** NVMe Base 2.1, section 5.1.4.1.1.1: no free UDMQ is Not Enough Resources; QEMU answers a bare DNR. */
    @Test
    void cdqTableFull(@TempDir Path dir) throws Exception {
        for (ControllerChoices c : new ControllerChoices[]{ControllerChoices.NVME_LM, ControllerChoices.QEMU}) {
            try (Sim sim = new Sim(dir.resolve(c == ControllerChoices.NVME_LM ? "ours" : "qemu"), 17, 1, 4096, 512, c)) {
                Sim.Host mmc = sim.host(0);
                for (int cntlid = 1; cntlid <= 16; cntlid++) {
                    assertThat(mmc.admin(new ControllerDataQueueCommand.Create(0, true, cntlid, 16, sim.alloc(64).iova()).toSqe()).status())
                            .isEqualTo(Status.SUCCESS);
                }
                Status full = mmc.admin(new ControllerDataQueueCommand.Create(0, true, 17, 16, sim.alloc(64).iova()).toSqe()).status();
                assertThat(full).isEqualTo(c.cdqTableFull());
                if (c == ControllerChoices.NVME_LM) assertThat(full.field()).isEqualTo(0x4138);
                else assertThat(full.field()).isEqualTo(0x4000);
            }
        }
    }

    /** NVMe Base 2.1, Figures 169 and 362: an unknown CNTLID is Invalid Controller Identifier; QEMU says Invalid Field. */
    @Test
    void unknownCntlid(@TempDir Path dir) throws Exception {
        for (ControllerChoices c : new ControllerChoices[]{ControllerChoices.NVME_LM, ControllerChoices.QEMU}) {
            try (Fx fx = fx(dir.resolve(c == ControllerChoices.NVME_LM ? "ours" : "qemu"), c, 2)) {
                int create = fx.mmc.admin(new ControllerDataQueueCommand.Create(0, true, 9, 16, fx.sim.alloc(4096).iova()).toSqe()).status().field();
                int suspend = fx.mmc.admin(new MigrationSendCommand.Suspend(9, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe()).status().field();
                int expected = c == ControllerChoices.NVME_LM ? 0x411f : 0x4002;
                assertThat(create).isEqualTo(expected);
                assertThat(suspend).isEqualTo(expected);
                assertThat(c.unknownCntlid()).isEqualTo(c == ControllerChoices.NVME_LM
                        ? Status.dnr(StatusCodes.INVALID_CTRL_ID) : Status.dnr(StatusCodes.INVALID_FIELD));
            }
        }
    }

    static final Status CDQ_FULL = Status.dnr(StatusCodes.CDQ_FULL);

    static LbaMigrationEntry marker(int esa) {
        return LbaMigrationEntry.marker(esa, true);   // every test here stays in the ring's first pass
    }

    /** The asynchronous event an outstanding AER of the MMC carried, or null if none was delivered. */
    static AsyncEvent event(Fx fx, int aer) {
        Cqe c = fx.mmc.completion(0, aer);
        return c == null ? null : AsyncEvent.decode(c.dw0(), c.dw1());
    }

    /**
     * A Suspend whose ESA 3 would take the last free slot. NVMe Base 2.1, section 5.1.17.1.1
     * (page 376): the Suspend "shall" post the "suspended" entry; Figure 362 (page 383) has no
     * status for a full queue and Figure 103 (page 168) gives 3Bh to Track Send alone; NVM Command
     * Set, Figure 177: the entry that fills the queue is ESA 111b. nvme-lm's default refuses with 3Bh.
     */
    @Test
    void suspendMarkerWithoutRoom(@TempDir Path dir) throws Exception {
        assertThat(ControllerChoices.NVME_LM.markerWithoutRoom()).isEqualTo(Disagreements.MARKER_WITHOUT_ROOM).isEqualTo(MarkerWithoutRoom.REFUSE_CDQ_FULL);
        for (MarkerWithoutRoom choice : MarkerWithoutRoom.values()) {
            try (Fx fx = fx(dir.resolve(choice.name()), ControllerChoices.NVME_LM.withMarkerWithoutRoom(choice), 2)) {
                Ring ring = fx.createCdq(1, 8);
                fx.trackStart(ring);                               // slot 0
                for (int i = 1; i <= 5; i++) fx.write(1, i, 1);   // slots 1..5: one free slot left
                int aer = fx.mmc.submit(0, AdminCommands.asyncEventRequest());
                Status s = fx.suspend(1, false);
                List<LbaMigrationEntry> got = ring.poll();
                if (choice.refuses()) {
                    assertThat(s).isEqualTo(CDQ_FULL);
                    assertThat(fx.sim.subsystem.controller(1).migrationState()).isEqualTo(Controller.State.ACTIVE);
                    assertThat(got).hasSize(6);
                    assertThat(event(fx, aer)).isNull();
                } else {
                    assertThat(s).isEqualTo(Status.SUCCESS);
                    assertThat(fx.sim.subsystem.controller(1).migrationState()).isEqualTo(Controller.State.SUSPENDED);
                    assertThat(got).hasSize(7);
                    assertThat(got.getLast()).as("the marker fills the queue: ESA 111b, no range")
                            .isEqualTo(marker(ESA_SUSPENDED).withEsa(ESA_QUEUE_FULL));
                    assertThat(event(fx, aer)).isEqualTo(AsyncEvent.cdqFull(ring.cdqid));
                    // logging stopped with the ESA 111b entry: a write after the resume is not logged
                    ring.reportHead();
                    assertThat(fx.resume(1)).isEqualTo(Status.SUCCESS);
                    assertThat(fx.write(1, 7, 1).status()).isEqualTo(Status.SUCCESS);
                    assertThat(ring.poll()).isEmpty();
                }
            }
        }
    }

    /** A queue already full (its last entry is ESA 111b): the spec's Suspend succeeds and posts nothing. */
    @Test
    void suspendOnAFullQueue(@TempDir Path dir) throws Exception {
        for (MarkerWithoutRoom choice : MarkerWithoutRoom.values()) {
            try (Fx fx = fx(dir.resolve(choice.name()), ControllerChoices.NVME_LM.withMarkerWithoutRoom(choice), 2)) {
                Ring ring = fx.createCdq(1, 8);
                fx.trackStart(ring);
                for (int i = 1; i <= 6; i++) fx.write(1, i, 1);   // slot 6 fills the ring: ESA 7
                assertThat(ring.poll()).hasSize(7).last().extracting(LbaMigrationEntry::esa).isEqualTo(ESA_QUEUE_FULL);
                Status s = fx.suspend(1, false);
                assertThat(s).isEqualTo(choice.refuses() ? CDQ_FULL : Status.SUCCESS);
                assertThat(ring.isNew(7)).as("nothing written over the unconsumed slot 7").isFalse();
            }
        }
    }

    /** A Resume whose ESA 1 would take the last free slot: 3Bh and still suspended, or resumed with the ESA 111b entry. */
    @Test
    void resumeMarkerWithoutRoom(@TempDir Path dir) throws Exception {
        for (MarkerWithoutRoom choice : MarkerWithoutRoom.values()) {
            try (Fx fx = fx(dir.resolve(choice.name()), ControllerChoices.NVME_LM.withMarkerWithoutRoom(choice), 2)) {
                Ring ring = fx.createCdq(1, 8);
                fx.trackStart(ring);                               // slot 0
                for (int i = 1; i <= 4; i++) fx.write(1, i, 1);   // slots 1..4
                assertThat(fx.suspend(1, false)).isEqualTo(Status.SUCCESS);   // slot 5: ESA 3, one free slot left
                int pending = fx.submitWrite(1, 100, 1);
                fx.sim.run();
                Status s = fx.resume(1);
                List<LbaMigrationEntry> got = ring.poll();
                if (choice.refuses()) {
                    assertThat(s).isEqualTo(CDQ_FULL);
                    assertThat(fx.sim.subsystem.controller(1).migrationState()).isEqualTo(Controller.State.SUSPENDED);
                    assertThat(fx.mc.completion(1, pending)).as("not fetched").isNull();
                    assertThat(got).hasSize(6);
                } else {
                    assertThat(s).isEqualTo(Status.SUCCESS);
                    assertThat(fx.mc.completion(1, pending).status()).isEqualTo(Status.SUCCESS);
                    assertThat(got).hasSize(7);
                    assertThat(got.getLast()).isEqualTo(marker(ESA_FIRST).withEsa(ESA_QUEUE_FULL));
                }
            }
        }
    }

    /**
     * Track Send start on a queue already logging: the ratified text found does not say
     * (NVMe Base 2.1, section 5.1.27.1.1, page 436; its Figures 464-465 on page 437 were not in
     * the searchable text). nvme-lm (and QEMU): success, nothing posted; the alternative: a new
     * ESA 1. A stop on a stopped queue posts nothing under both.
     */
    @Test
    void startWhileLogging(@TempDir Path dir) throws Exception {
        assertThat(ControllerChoices.NVME_LM.startWhileLogging()).isEqualTo(Disagreements.START_WHILE_LOGGING).isEqualTo(StartWhileLogging.NO_CHANGE);
        for (StartWhileLogging choice : StartWhileLogging.values()) {
            try (Fx fx = fx(dir.resolve(choice.name()), ControllerChoices.NVME_LM.withStartWhileLogging(choice), 2)) {
                Ring ring = fx.createCdq(1, 16);
                assertThat(fx.trackStart(ring)).isEqualTo(Status.SUCCESS);
                assertThat(ring.poll()).containsExactly(marker(ESA_FIRST));
                assertThat(fx.trackStart(ring)).isEqualTo(Status.SUCCESS);
                if (choice == StartWhileLogging.RESTART) assertThat(ring.poll()).containsExactly(marker(ESA_FIRST));
                else assertThat(ring.poll()).isEmpty();
                assertThat(fx.write(1, 3, 1).status()).isEqualTo(Status.SUCCESS);
                assertThat(ring.poll()).as("still logging").hasSize(1);
                assertThat(fx.trackStop(ring)).isEqualTo(Status.SUCCESS);
                assertThat(fx.trackStop(ring)).isEqualTo(Status.SUCCESS);
                assertThat(ring.poll()).containsExactly(marker(ESA_STOPPED));
            }
        }
    }

    /**
     * A Tail Pointer event generated while no AER is outstanding, then a Set Features FID 21h
     * for that CDQ, then an AER: the event is delivered (nvme-lm's default) or withdrawn. The
     * figure that could decide it (NVMe Base 2.1, Figure 424, page 415) was not in the searchable text.
     */
    @Test
    void pendingTailPointerEvent(@TempDir Path dir) throws Exception {
        assertThat(ControllerChoices.NVME_LM.pendingTailPointerEvent()).isEqualTo(Disagreements.PENDING_TAIL_POINTER_EVENT)
                .isEqualTo(PendingTailPointerEvent.KEPT);
        for (PendingTailPointerEvent choice : PendingTailPointerEvent.values()) {
            ControllerChoices c = ControllerChoices.NVME_LM.withTailPointerTrigger(TailPointerTrigger.SLOT_POSTED).withPendingTailPointerEvent(choice);
            try (Fx fx = fx(dir.resolve(choice.name()), c, 2)) {
                Ring ring = fx.createCdq(1, 16);
                fx.trackStart(ring);
                ring.drain();
                assertThat(ring.setHead(ring.head(), true, ring.head())).isEqualTo(Status.SUCCESS);
                fx.write(1, 1, 1);                       // posted into slot TPT: the event is generated, no AER to carry it
                ring.drain();                            // the host read the ring and reports its head (ETPT clear)
                int aer = fx.mmc.submit(0, AdminCommands.asyncEventRequest());
                fx.sim.run();
                if (choice == PendingTailPointerEvent.KEPT) assertThat(event(fx, aer)).isEqualTo(AsyncEvent.cdqTailPointer(ring.cdqid));
                else assertThat(event(fx, aer)).as("withdrawn by the Set Features").isNull();
            }
        }
    }
}
