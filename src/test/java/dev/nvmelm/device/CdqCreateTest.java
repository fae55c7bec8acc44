package dev.nvmelm.device;

import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.LittleEndian;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.TrackSendCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Controller Data Queue create and delete (NVMe Base 2.1, section 5.1.4): the checks in order,
 * with the spec's status codes where QEMU has none, PC=0 rings described by a PRP list, and the
 * guarantee that the controller writes nothing outside the ring it was given.
 */
class CdqCreateTest {
    static final int INVALID_FIELD = 0x4002, INVALID_OPCODE = 0x4001, INVALID_CTRL_ID = 0x411f,
            NOT_ENOUGH_RESOURCES = 0x4138, INVALID_CDQ = 0x4137, PRP_OFFSET_INVALID = 0x4013;

    static Sqe create(int qt, boolean pc, int cntlid, long sizeDwords, long prp1) {
        return new ControllerDataQueueCommand.Create(qt, pc, cntlid, sizeDwords, prp1).toSqe();
    }

    static int field(Cqe c) {
        return c.status().field();
    }

    @Test
    void createChecksInOrder(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            long ring = fx.sim.alloc(4096).iova();
            assertThat(field(fx.mmc.admin(create(1, true, 1, 1024, ring)))).as("QT 1").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mc.admin(create(0, true, 1, 1024, ring)))).as("sent to an MC").isEqualTo(INVALID_OPCODE);
            for (long dwords : new long[]{0, 8, 15}) {   // fewer than two 32-byte entries
                assertThat(field(fx.mmc.admin(create(0, true, 1, dwords, ring)))).as("CDQSIZE %d", dwords).isEqualTo(INVALID_FIELD);
            }
            // NVMe Base 2.1, Figure 164: CDQSIZE not a multiple of the entry size (8 dwords) is Invalid Field
            for (long dwords : new long[]{17, 20, 1023, 1025}) {
                assertThat(field(fx.mmc.admin(create(0, true, 1, dwords, ring)))).as("CDQSIZE %d", dwords).isEqualTo(INVALID_FIELD);
            }
            assertThat(field(fx.mmc.admin(create(0, true, 9, 8, ring)))).as("size is checked before CNTLID").isEqualTo(INVALID_FIELD);
            for (int cntlid : new int[]{0, 3, 0xffff}) {
                Cqe c = fx.mmc.admin(create(0, true, cntlid, 1024, ring));
                assertThat(field(c)).as("CNTLID %d", cntlid).isEqualTo(INVALID_CTRL_ID);
            }
            Cqe ok = fx.mmc.admin(create(0, true, 1, 16, ring));   // 64 bytes: the smallest ring
            assertThat(field(ok)).isZero();
            assertThat(ok.dw0()).as("CDQID 0 is valid").isZero();
            assertThat(field(fx.mmc.admin(create(0, true, 1, 1024, fx.sim.alloc(4096).iova())))).as("second UDMQ for MC 1")
                    .isEqualTo(INVALID_FIELD);
            // reserved fields and undefined SEL
            Sqe good = create(0, true, 2, 1024, fx.sim.alloc(4096).iova());
            assertThat(field(fx.mmc.admin(good.withCdw10(good.cdw10() | 1 << 8)))).as("CDW10[15:8]").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(good.withCdw10(good.cdw10() | 1 << 24)))).as("MOS[15:8]").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(good.withCdw11(good.cdw11() | 1 << 3)))).as("CDW11[15:1]").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(good.withCdw10(2)))).as("SEL 2").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(good))).isZero();
            assertThat(fx.fatal(fx.mmc)).isFalse();
        }
    }

    @Test
    void aFullCdqTableIsNotEnoughResources(@TempDir Path dir) throws Exception {
        int mcs = 17;   // the table holds 16 CDQs; one UDMQ per MC, so the 17th MC finds it full
        try (Sim sim = new Sim(dir, mcs, 4096, 512)) {
            Sim.Host mmc = sim.host(0);
            for (int c = 1; c <= 16; c++) {
                Cqe ok = mmc.admin(create(0, true, c, 16, sim.alloc(64).iova()));
                assertThat(field(ok)).isZero();
                assertThat(ok.dw0()).as("lowest free CDQID").isEqualTo(c - 1);
            }
            Cqe full = mmc.admin(create(0, true, 17, 16, sim.alloc(64).iova()));
            assertThat(full.status()).isEqualTo(Status.dnr(StatusCodes.NOT_ENOUGH_RESOURCES));
            assertThat(field(full)).isEqualTo(NOT_ENOUGH_RESOURCES);
            assertThat(field(mmc.admin(new ControllerDataQueueCommand.Delete(5).toSqe()))).isZero();
            Cqe reused = mmc.admin(create(0, true, 17, 16, sim.alloc(64).iova()));
            assertThat(field(reused)).isZero();
            assertThat(reused.dw0()).isEqualTo(5);
        }
    }

    @Test
    void deleteOfAnUnknownCdqIsInvalidControllerDataQueueWithDnr(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Cqe c = fx.mmc.admin(new ControllerDataQueueCommand.Delete(99).toSqe());
            assertThat(c.status().sct()).isEqualTo(1);
            assertThat(c.status().sc()).isEqualTo(0x37);
            assertThat(c.status().dnr()).isTrue();
            assertThat(field(c)).isEqualTo(0x4137);
            assertThat(c.status().toNvmeCliString()).isEqualTo("NVMe status: Invalid Controller Data Queue(0x4137)");
            Ring ring = fx.createCdq(1, 8);
            assertThat(field(fx.mmc.admin(new ControllerDataQueueCommand.Delete(ring.cdqid).toSqe()))).isZero();
            assertThat(field(fx.mmc.admin(new ControllerDataQueueCommand.Delete(ring.cdqid).toSqe()))).as("twice").isEqualTo(INVALID_CDQ);
            Sqe reserved = new ControllerDataQueueCommand.Delete(0).toSqe();
            assertThat(field(fx.mmc.admin(reserved.withCdw11(1 << 16)))).isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(TrackSendCommand.start(ring.cdqid).toSqe()))).as("Track Send on the deleted CDQ")
                    .isEqualTo(INVALID_CDQ);
        }
    }

    @Test
    void aRingOutsideHostMemoryIsRefused(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Sim.Buf page = fx.sim.alloc(4096);
            assertThat(field(fx.mmc.admin(create(0, true, 1, 1024, 0x1000)))).as("unmapped base").isEqualTo(INVALID_FIELD);
            // NVMe Base 2.1, Figure 162: PRP1 and every PRP list entry have an offset of 0h, else PRP Offset Invalid
            assertThat(field(fx.mmc.admin(create(0, true, 1, 1024, page.iova() + 64)))).as("base not page aligned").isEqualTo(PRP_OFFSET_INVALID);
            assertThat(field(fx.mmc.admin(create(0, false, 1, 1024, page.iova() + 8)))).as("PRP list pointer with an offset")
                    .isEqualTo(PRP_OFFSET_INVALID);
            assertThat(field(fx.mmc.admin(create(0, true, 1, 2048, page.iova())))).as("8 KiB ring on a 4 KiB region").isEqualTo(INVALID_FIELD);
            // PC=0: the PRP list itself, or an entry in it, outside memory or unaligned
            assertThat(field(fx.mmc.admin(create(0, false, 1, 1024, 0x2000)))).as("list outside").isEqualTo(INVALID_FIELD);
            Sim.Buf list = fx.sim.alloc(4096);
            list.seg().set(LittleEndian.U64, 0, 0x7000_0000_0000L);
            assertThat(field(fx.mmc.admin(create(0, false, 1, 1024, list.iova())))).as("entry outside").isEqualTo(INVALID_FIELD);
            list.seg().set(LittleEndian.U64, 0, page.iova() + 8);
            assertThat(field(fx.mmc.admin(create(0, false, 1, 1024, list.iova())))).as("entry unaligned").isEqualTo(PRP_OFFSET_INVALID);
            assertThat(field(fx.mmc.admin(create(0, false, 1, 65 * 1024, list.iova())))).as("more pages than MCDQPC").isEqualTo(INVALID_FIELD);
            assertThat(fx.fatal(fx.mmc)).isFalse();
            assertThat(fx.sim.subsystem.cdqs.all()).isEmpty();
        }
    }

    @Test
    void aPc0RingFollowsItsPrpListPageByPage(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            // two pages in reverse order: entries 0..127 go to page B, 128..255 to page A
            Sim.Buf a = fx.sim.alloc(4096), b = fx.sim.alloc(4096), list = fx.sim.alloc(4096);
            list.seg().set(LittleEndian.U64, 0, b.iova());
            list.seg().set(LittleEndian.U64, 8, a.iova());
            Cqe c = fx.mmc.admin(create(0, false, 1, 2048, list.iova()));
            assertThat(field(c)).isZero();
            int cdqid = c.dw0();
            list.seg().fill((byte) 0xee);   // the list was read at creation; the host may reuse it
            assertThat(field(fx.mmc.admin(TrackSendCommand.start(cdqid).toSqe()))).isZero();
            for (int i = 1; i < 200; i++) fx.write(1 + i % 2, i, 1 + i % 3);
            assertThat(LbaMigrationEntry.decode(b.seg(), 0)).isEqualTo(LbaMigrationEntry.marker(LbaMigrationEntry.ESA_FIRST, true));
            for (int i = 1; i < 200; i++) {
                MemorySegment page = i < 128 ? b.seg() : a.seg();
                LbaMigrationEntry e = LbaMigrationEntry.decode(page, (i % 128) * 32L);
                assertThat(e).as("entry %d", i).isEqualTo(LbaMigrationEntry.range(1, i, 1 + i % 3, true));
            }
            assertThat(a.seg().asSlice(200 % 128 * 32L).toArray(ValueLayout.JAVA_BYTE)).containsOnly(0);
        }
    }

    @Test
    void theControllerNeverWritesPastTheRingItWasGiven(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            // 160 bytes = 40 dwords: five entries; bytes 160.. of the page belong to the host
            Sim.Buf region = fx.sim.alloc(4096);
            region.seg().asSlice(160).fill((byte) 0xa5);
            Cqe c = fx.mmc.admin(create(0, true, 1, 40, region.iova()));
            assertThat(field(c)).isZero();
            Ring ring = new Ring(fx.mmc, new Sim.Buf(region.seg().asSlice(0, 160), region.iova()), 5, c.dw0());
            fx.trackStart(ring);
            for (int i = 0; i < 300; i++) {
                fx.write(1, i, 1);
                ring.drain();
                if (i % 50 == 0) {   // let it fill now and then (ESA 7), and restart
                    for (int k = 0; k < 4; k++) fx.write(2, i, 1);
                    assertThat(ring.drain().getLast().esa()).isEqualTo(LbaMigrationEntry.ESA_QUEUE_FULL);
                    fx.trackStart(ring);
                }
            }
            assertThat(ring.consumed).isGreaterThan(300);
            assertThat(region.seg().asSlice(160).toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0xa5);
        }
    }
}
