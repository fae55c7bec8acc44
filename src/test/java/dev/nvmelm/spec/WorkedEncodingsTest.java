package dev.nvmelm.spec;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Worked encodings of the HMLM commands (docs/spec.md), and the libnvme bit bugs nvme-lm does not copy (docs/cli.md) pinned. */
class WorkedEncodingsTest {

    @Test
    void controllerDataQueue() {
        Sqe create = new ControllerDataQueueCommand.Create(0, true, 2, 1024, 0x1000).toSqe();
        assertThat(create.opcode()).isEqualTo(0x45);
        assertThat(create.cdw10()).isEqualTo(0x00000000);
        assertThat(create.cdw11()).isEqualTo(0x00020001);   // CNTLID in CQS = CDW11[31:16] (libnvme 2ca023a1 put it in 15:0)
        assertThat(create.cdw12()).isEqualTo(0x00000400);   // a u32 dword count (libnvme 48ce0ca3 had a u8)
        assertThat(create.prp1()).isEqualTo(0x1000);
        assertThat(new ControllerDataQueueCommand.Create(0, true, 1, 0x1_0000, 0).toSqe().cdw12()).isEqualTo(0x10000);
        Sqe delete = new ControllerDataQueueCommand.Delete(3).toSqe();
        assertThat(delete.cdw10()).isEqualTo(1);
        assertThat(delete.cdw11()).isEqualTo(3);
    }

    @Test
    void trackSend() {
        assertThat(TrackSendCommand.start(3).toSqe().cdw10()).isEqualTo(0x00010000);
        assertThat(TrackSendCommand.start(3).toSqe().cdw11()).isEqualTo(3);
        assertThat(TrackSendCommand.stop(3).toSqe().cdw10()).isEqualTo(0);
        assertThat(TrackSendCommand.start(3).toSqe().opcode()).isEqualTo(0x3d);
    }

    @Test
    void migrationSend() {
        assertThat(new MigrationSendCommand.Suspend(2, 1, true, 0).toSqe().cdw11()).isEqualTo(0x80010002);
        assertThat(new MigrationSendCommand.Suspend(2, 1, false, 0).toSqe().cdw11()).isEqualTo(0x00010002);
        assertThat(new MigrationSendCommand.Suspend(2, 0, false, 0).toSqe().cdw11()).isEqualTo(0x00000002);
        Sqe resume = new MigrationSendCommand.Resume(2, 0).toSqe();
        assertThat(resume.cdw10()).isEqualTo(1);
        assertThat(resume.cdw11()).isEqualTo(2);
        Sqe set = new MigrationSendCommand.SetControllerState(2, 3, 1, 0, 0, 0, 26).toSqe();
        assertThat(set.cdw10()).isEqualTo(0x00030002);
        assertThat(set.cdw11()).isEqualTo(0x00010002);
        assertThat(set.cdw15()).isEqualTo(26);   // a dword count for Migration Send
        Sqe off = new MigrationSendCommand.SetControllerState(2, 0, 1, 0, 0x1_0000_0010L, 0, 4).toSqe();
        assertThat(off.cdw12()).isEqualTo(0x10);
        assertThat(off.cdw13()).isEqualTo(1);
    }

    @Test
    void migrationReceive() {
        Sqe get = MigrationReceiveCommand.read(2, 1, 0, 4096).toSqe();
        assertThat(get.opcode()).isEqualTo(0x42);
        assertThat(get.cdw10()).isEqualTo(0x00010000);
        assertThat(get.cdw11()).isEqualTo(2);
        assertThat(get.cdw15()).isEqualTo(0x3ff);   // 0's based
    }

    @Test
    void cdqFeature() {
        Sqe head = new CdqFeature.SetCdq(3, 5, false, 0).toSqe();
        assertThat(head.cdw10()).isEqualTo(0x21);
        assertThat(head.cdw11()).isEqualTo(3);
        assertThat(head.cdw12()).isEqualTo(5);
        assertThat(head.cdw13()).isEqualTo(0);
        Sqe armed = new CdqFeature.SetCdq(3, 5, true, 9).toSqe();
        assertThat(armed.cdw11()).isEqualTo(0x80000003);
        assertThat(armed.cdw13()).isEqualTo(9);
        Sqe big = new CdqFeature.SetCdq(3, 0, true, 0x80000001).toSqe();   // ETPT from etpt, not from tpt (libnvme 85b8fb93)
        assertThat(big.cdw11()).isEqualTo(0x80000003);
        assertThat(big.cdw13()).isEqualTo(0x80000001);
        assertThatThrownBy(() -> new CdqFeature.SetCdq(3, 0, false, 9)).hasMessageContaining("without ETPT");
    }

    @Test
    void asyncEvents() {
        assertThat(AsyncEvent.cdqTailPointer(3).dw0()).isEqualTo(0x00000004);
        assertThat(AsyncEvent.cdqTailPointer(3).dw1()).isEqualTo(3);
        assertThat(AsyncEvent.cdqFull(3).dw0()).isEqualTo(0x00000104);
        assertThat(AsyncEvent.decode(0x104, 3).isCdqEvent()).isTrue();
    }

    @Test
    void controllerStateSizes() {
        IoSqState sq = new IoSqState(0x10000, 255, 1, 1, true, 0, 3, 7);
        IoCqState cq = new IoCqState(0x20000, 255, 1, 5, 9, true, true, true, 1);
        ControllerState s = new ControllerState(0, true, 0, List.of(sq), List.of(cq), new byte[0]);
        assertThat(s.nvmeStateBytes()).isEqualTo(56);
        byte[] b = s.encode();
        assertThat(b).hasSize(104);
        assertThat(MemorySegment.ofArray(b).get(LittleEndian.U64, 16)).isEqualTo(14);   // NVMECSS in dwords
        assertThat(b[2]).isEqualTo((byte) 1);                                           // CSATTR suspended
        assertThat(ControllerState.decode(b)).isEqualTo(s);
    }

    @Test
    void iocqaBit2IsTheSlot0PhaseTag() {
        // producer phase 1, tail 0 (fresh CQ): slot 0 holds phase 0
        assertThat(new IoCqState(0, 3, 1, 0, 0, true, false, true, 0).attributes() & 4).isZero();
        assertThat(new IoCqState(0, 3, 1, 0, 2, true, false, true, 0).attributes() & 4).isEqualTo(4);
    }

    @Test
    void lbaMigrationEntryLayout() {
        MemorySegment m = MemorySegment.ofArray(new byte[32]);
        LbaMigrationEntry.range(1, 100, 7, true).encode(m, 0);
        assertThat(m.get(LittleEndian.U32, 0)).isEqualTo(1);
        assertThat(m.get(LittleEndian.U32, 4)).isEqualTo(6);   // 0's based NLB
        assertThat(m.get(LittleEndian.U64, 8)).isEqualTo(100);
        assertThat(m.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 31)).isEqualTo((byte) 0x01);
        LbaMigrationEntry.marker(LbaMigrationEntry.ESA_SUSPENDED, false).encode(m, 0);
        assertThat(m.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 31)).isEqualTo((byte) (3 << 1 | 2 << 6));
    }

    @Test
    void identifyControllerLmFieldsAt570() {
        IdentifyController ic = new IdentifyController(1, 2, "SN", "MODEL", "FR", 5, 7, 0x20100, 0, IdentifyController.OACS_HMLMS,
                3, 0, 0x66, 0x44, 64, 1, 0, 0x1122, 0x3344, 5, 6, 2, 0x0102, 0x0304, 1, 0x0506, 0x0708, "nqn.x");
        byte[] b = ic.encode();
        MemorySegment m = MemorySegment.ofArray(b);
        assertThat(m.get(LittleEndian.U16, 256) & (1 << 11)).isNotZero();
        assertThat(m.get(LittleEndian.U16, 570)).isEqualTo((short) 0x1122);
        assertThat(b[576]).isEqualTo((byte) 2);   // TRATTR.TUDCS
        assertThat(m.get(LittleEndian.U16, 578)).isEqualTo((short) 0x0102);   // MCUDMQ
        assertThat(m.get(LittleEndian.U16, 586)).isEqualTo((short) 0x0708);   // MCDQPC
        assertThat(IdentifyController.decode(m)).isEqualTo(ic);
        assertThat(new IdentifyControllerNvm(1, 0).encode()[24]).isZero();   // LBAMQF Type 0
    }
}
