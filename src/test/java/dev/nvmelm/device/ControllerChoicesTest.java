package dev.nvmelm.device;

import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.ControllerChoices;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.TailPointerTrigger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

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
}
