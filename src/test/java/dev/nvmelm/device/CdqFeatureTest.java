package dev.nvmelm.device;

import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.AsyncEvent;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.TailPointerTrigger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Feature 21h "Controller Data Queue" (NVMe Base 2.1, Figures 425-427) and the Tail Pointer
 * Trigger (Figures 154 and 426): head validation, the one-shot event, its disarming, and no
 * masking after the first delivery (QEMU masks, so its hosts only ever see one; docs/spec.md).
 */
class CdqFeatureTest {
    static final Status INVALID_FIELD = Status.dnr(StatusCodes.INVALID_FIELD);

    /** Get Features 21h: {DW0, HP, TPT}. */
    static int[] get(Fx fx, Ring ring) {
        Sim.Buf buf = fx.sim.alloc(CdqFeature.CdqFeatureData.SIZE);
        Cqe c = fx.mmc.admin(fx.mmc.withData(new CdqFeature.GetCdq(ring.cdqid).toSqe(), buf));
        assertThat(c.status()).isEqualTo(Status.SUCCESS);
        CdqFeature.CdqFeatureData d = CdqFeature.CdqFeatureData.decode(buf.seg(), 0);
        return new int[]{c.dw0(), d.headPointer(), d.tailPointerTrigger()};
    }

    static void assertTpt(Cqe event, Ring ring) {
        assertThat(event).as("Tail Pointer Trigger event").isNotNull();
        assertThat(event.status()).isEqualTo(Status.SUCCESS);
        assertThat(AsyncEvent.decode(event.dw0(), event.dw1())).isEqualTo(AsyncEvent.cdqTailPointer(ring.cdqid));
        assertThat(event.dw0()).isEqualTo(0x0000_0004);   // AET 4 one-shot, AEI 00h, no log page
        assertThat(event.dw1()).isEqualTo(ring.cdqid);
    }

    /**
     * NVMe Base 2.1, Figure 426: TPT "specifies a slot in the CDQ that when posted with an entry
     * causes the controller to issue a Controller Data Queue Tail Pointer event" (AEI 00h of
     * Figure 154). By default the controller fires on the entry posted into slot TPT; with the
     * QEMU-style rule selected it fires on the entry before it.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(TailPointerTrigger.class)
    void theTriggerFiresOnceDisarmsAndFiresAgainWhenReArmed(TailPointerTrigger rule, @TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(new Sim(dir, 2, 1, Fx.NS_BYTES, Fx.LBA, rule))) {
            fx.createCdq(2, 8);   // CDQID 0 belongs to MC 2: the events must name CDQ 1
            Ring ring = fx.createCdq(1, 16);
            assertThat(ring.cdqid).isEqualTo(1);
            fx.trackStart(ring);
            ring.poll();
            int aer1 = fx.mmc.submit(0, AdminCommands.asyncEventRequest());
            int aer2 = fx.mmc.submit(0, AdminCommands.asyncEventRequest());
            fx.sim.run();

            // arm "as soon as anything new arrives": the next entry goes into slot HP = 1
            int next = rule.armFor(ring.head(), 1, 16);
            assertThat(next).isEqualTo(rule == TailPointerTrigger.SLOT_POSTED ? 1 : 2);
            assertThat(ring.setHead(ring.head(), true, next)).isEqualTo(Status.SUCCESS);
            assertThat(get(fx, ring)).containsExactly(ring.cdqid | 1 << 31, 1, next);
            fx.write(1, 10, 1);   // slot 1
            assertTpt(fx.mmc.completion(0, aer1), ring);
            assertThat(get(fx, ring)).as("disarmed").containsExactly(ring.cdqid, 1, 0);

            fx.write(1, 11, 1);   // no trigger armed: no event
            assertThat(fx.mmc.completion(0, aer2)).isNull();

            // re-arm for the third entry: the event is not masked after the first one
            ring.poll();
            assertThat(ring.setHead(ring.head(), true, rule.armFor(ring.head(), 3, 16))).isEqualTo(Status.SUCCESS);
            fx.write(1, 12, 1);
            fx.write(2, 13, 1);
            assertThat(fx.mmc.completion(0, aer2)).isNull();
            fx.write(1, 14, 1);
            assertTpt(fx.mmc.completion(0, aer2), ring);

            // with no AER outstanding the event waits and completes the next AER at once
            ring.poll();
            ring.setHead(ring.head(), true, rule.armFor(ring.head(), 1, 16));
            fx.write(1, 15, 1);
            assertTpt(fx.mmc.admin(AdminCommands.asyncEventRequest()), ring);
        }
    }

    /** NVMe Base 2.1, Figure 426: armed at slot S, the entry written into S fires, not the one before it. */
    @Test
    void theSpecTriggerFiresOnTheEntryPostedIntoSlotTpt(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 8);
            fx.trackStart(ring);                                 // ESA 1 in slot 0
            ring.drain();                                        // head 1
            ring.setHead(1, true, 2);
            int aer = fx.mmc.submit(0, AdminCommands.asyncEventRequest());
            fx.write(1, 1, 1);                                   // slot 1: QEMU would fire here
            fx.sim.run();
            assertThat(fx.mmc.completion(0, aer)).isNull();
            fx.write(1, 2, 1);                                   // slot 2 = TPT
            assertTpt(fx.mmc.completion(0, aer), ring);
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(TailPointerTrigger.class)
    void theTriggerFiresAcrossTheWrapAndReportingWithoutEtptDisarms(TailPointerTrigger rule, @TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(new Sim(dir, 2, 1, Fx.NS_BYTES, Fx.LBA, rule))) {
            Ring ring = fx.createCdq(1, 4);
            fx.trackStart(ring);
            fx.write(1, 1, 1);
            ring.drain();                                        // head 2, tail 2
            ring.setHead(2, true, rule.armFor(2, 2, 4));         // the second entry: slot 3, after which the tail wraps to 0
            int aer = fx.mmc.submit(0, AdminCommands.asyncEventRequest());
            fx.write(1, 2, 1);                                   // slot 2
            fx.sim.run();
            assertThat(fx.mmc.completion(0, aer)).isNull();
            fx.write(1, 3, 1);                                   // slot 3, tail -> 0
            assertTpt(fx.mmc.completion(0, aer), ring);

            ring.drain();                                        // head 0
            ring.setHead(0, true, 1);
            assertThat(ring.setHead(0, false, 0)).isEqualTo(Status.SUCCESS);   // ETPT 0: disarm
            int aer2 = fx.mmc.submit(0, AdminCommands.asyncEventRequest());
            fx.write(1, 4, 1);
            assertThat(fx.mmc.completion(0, aer2)).isNull();
        }
    }

    @Test
    void theHeadMustLieInTheOccupiedRegion(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 8);
            fx.trackStart(ring);
            for (int i = 0; i < 3; i++) fx.write(1, i, 1);   // slots 0..3 hold entries: head 0, tail 4
            for (int hp : new int[]{5, 7, 8, 9, -1, Integer.MIN_VALUE}) {
                Cqe c = fx.mmc.admin(new CdqFeature.SetCdq(ring.cdqid, hp, false, 0).toSqe());
                assertThat(c.status()).as("HP %d", hp).isEqualTo(INVALID_FIELD);
                assertThat(c.status().field()).isEqualTo(0x4002);
            }
            assertThat(ring.setHead(3, false, 0)).isEqualTo(Status.SUCCESS);
            assertThat(ring.setHead(2, false, 0)).as("the head never moves back").isEqualTo(INVALID_FIELD);
            assertThat(ring.setHead(3, false, 0)).as("reporting the same head again").isEqualTo(Status.SUCCESS);
            assertThat(ring.setHead(4, false, 0)).as("HP == tail: everything consumed").isEqualTo(Status.SUCCESS);

            // a failed report changes nothing, not even the trigger it carried
            assertThat(ring.setHead(5, true, 6)).isEqualTo(INVALID_FIELD);
            assertThat(get(fx, ring)).containsExactly(ring.cdqid, 4, 0);
            assertThat(ring.setHead(4, true, 8)).as("TPT outside [0, N)").isEqualTo(INVALID_FIELD);

            // occupied region that wraps: head 4, tail 2 -> HP in {4..7, 0, 1, 2}
            for (int i = 0; i < 6; i++) fx.write(2, 10 + i, 1);
            assertThat(ring.setHead(3, false, 0)).isEqualTo(INVALID_FIELD);
            assertThat(ring.setHead(0, false, 0)).isEqualTo(Status.SUCCESS);
            assertThat(ring.setHead(2, false, 0)).isEqualTo(Status.SUCCESS);
            assertThat(ring.setHead(1, false, 0)).isEqualTo(INVALID_FIELD);
        }
    }

    /**
     * NVMe Base 2.1, Figure 427: the Get Features data structure is 512 bytes (HP 3:0, TPT 7:4,
     * 511:8 reserved) and the controller transfers all of it; Figure 426: for Get Features TPT
     * (and with it ETPT) is ignored.
     */
    @Test
    void getFeaturesReturnsThe512ByteStructureAndIgnoresTpt(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 8);
            fx.trackStart(ring);
            ring.drain();
            assertThat(ring.setHead(1, true, 5)).isEqualTo(Status.SUCCESS);
            Sim.Buf buf = fx.sim.alloc(4096);
            buf.seg().fill((byte) 0x5a);
            Sqe get = new CdqFeature.GetCdq(ring.cdqid).toSqe();
            Cqe c = fx.mmc.admin(fx.mmc.withData(get.withCdw11(get.cdw11() | 1 << 31).withCdw12(77).withCdw13(-1), buf));
            assertThat(c.status()).as("ETPT, HP and TPT of a Get Features are ignored").isEqualTo(Status.SUCCESS);
            assertThat(CdqFeature.CdqFeatureData.decode(buf.seg(), 0)).isEqualTo(new CdqFeature.CdqFeatureData(1, 5));
            for (int i = 8; i < 512; i++) assertThat(buf.seg().get(java.lang.foreign.ValueLayout.JAVA_BYTE, i)).as("reserved byte %d", i).isZero();
            assertThat(buf.seg().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 512)).as("nothing past byte 511").isEqualTo((byte) 0x5a);
            assertThat(fx.mmc.admin(get.withCdw11(get.cdw11() | 1 << 16)).status()).as("CDW11[30:16] reserved").isEqualTo(INVALID_FIELD);
        }
    }

    @Test
    void feature21hStatusCodes(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 8);
            Cqe unknown = fx.mmc.admin(new CdqFeature.SetCdq(7, 0, false, 0).toSqe());
            assertThat(unknown.status()).isEqualTo(Status.dnr(StatusCodes.INVALID_CDQ));
            assertThat(unknown.status().field()).isEqualTo(0x4137);
            Sim.Buf buf = fx.sim.alloc(CdqFeature.CdqFeatureData.SIZE);
            assertThat(fx.mmc.admin(fx.mmc.withData(new CdqFeature.GetCdq(7).toSqe(), buf)).status().field()).isEqualTo(0x4137);
            Sqe good = new CdqFeature.SetCdq(ring.cdqid, 0, false, 0).toSqe();
            assertThat(fx.mmc.admin(good.withCdw11(good.cdw11() | 1 << 20)).status()).as("CDW11[30:16] reserved").isEqualTo(INVALID_FIELD);
            assertThat(fx.mmc.admin(good.withCdw10(good.cdw10() | 1 << 31)).status())
                    .isEqualTo(Status.dnr(StatusCodes.FEATURE_NOT_SAVEABLE));
            assertThat(fx.mc.admin(good).status()).as("FID 21h belongs to the MMC").isEqualTo(INVALID_FIELD);
            assertThat(fx.mmc.admin(new CdqFeature.GetCdq(ring.cdqid).toSqe().withPrp(0x10, 0)).status())
                    .as("Get Features data outside host memory").isEqualTo(Status.dnr(StatusCodes.DATA_TRANSFER_ERROR));
            assertThat(fx.fatal(fx.mmc)).isFalse();
        }
    }
}
