package dev.nvmelm.spec;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Each {@link Disagreements} knob is read by the codec it names, and flipping it changes what
 * that codec does (docs/spec.md, "Disagreements"). The controller-side knobs are flipped through
 * a real controller in {@code device.ControllerChoicesTest}.
 */
class DisagreementsTest {

    /** NVM Command Set, Figure 177: NLB is 0's based; a count-based reader (QEMU's DSM path) is one LBA off. */
    @Test
    void udmqNlb() {
        var e = LbaMigrationEntry.range(1, 100, 8, true);
        assertThat(e.nlb()).as("0's based, the knob's value").isEqualTo(Disagreements.UDMQ_NLB.field(8)).isEqualTo(7);
        assertThat(e.blockCount()).isEqualTo(8);
        assertThat(CountField.COUNT.count(e.nlb())).as("flipped: the same entry read as a count").isEqualTo(7);
        assertThat(CountField.COUNT.field(8)).isEqualTo(8);
    }

    @Test
    void migrationSendNumd() {
        var st = new MigrationSendCommand.SetControllerState(1, MigrationSendCommand.SEQIND_ENTIRE, 1, 0, 0, 0,
                Disagreements.migrationSendNumd(12));
        assertThat(st.toSqe().cdw15()).as("a dword count").isEqualTo(12);
        assertThat(st.lengthBytes()).isEqualTo(48);
        assertThat(CountField.ZERO_BASED.field(12)).as("flipped: NVIDIA's 0's based NUMD").isEqualTo(11);
        assertThat(CountField.ZERO_BASED.count(12) * 4).as("flipped: the same NUMD carries one dword more").isEqualTo(52);
    }

    @Test
    void lbaStatusNlb() {
        MemorySegment m = MemorySegment.ofArray(new byte[GetLbaStatus.HEADER + GetLbaStatus.DESCRIPTOR]);
        new GetLbaStatus.Reply(true, java.util.List.of(new GetLbaStatus.Descriptor(10, 4))).encode(m);
        long field = Integer.toUnsignedLong(m.get(Sqe.LE_INT, GetLbaStatus.HEADER + 8));
        assertThat(field).isEqualTo(Disagreements.LBA_STATUS_NLB.field(4)).isEqualTo(3);
        assertThat(CountField.COUNT.field(4)).as("flipped").isEqualTo(4);
    }

    /** NVMe Base 2.1, Figure 361: S0PT; QEMU's producer phase differs exactly when the tail is 0. */
    @Test
    void iocqaBit2() {
        var fresh = new IoCqState(0x1000, 63, 1, 0, 0, true, true, true, 0);   // phase 1, tail 0: slot 0 still holds phase 0
        MemorySegment m = MemorySegment.ofArray(new byte[IoCqState.SIZE]);
        fresh.encode(m, 0);
        assertThat((fresh.attributes() & 4) != 0).as("S0PT of a fresh CQ").isFalse();
        assertThat(Disagreements.IOCQA_BIT2.encode(true, 0)).isFalse();
        assertThat(CqPhaseAttribute.PRODUCER_PHASE.encode(true, 0)).as("flipped: QEMU writes the producer phase").isTrue();
        assertThat(CqPhaseAttribute.PRODUCER_PHASE.encode(true, 5)).isEqualTo(CqPhaseAttribute.SLOT0_PHASE_TAG.encode(true, 5));
        assertThat(IoCqState.decode(m, 0)).isEqualTo(fresh);
    }

    @Test
    void idCtrlLmOffset() {
        var id = new IdentifyController(0x1b36, 0x1af4, "SN", "MN", "FR", 0, 0, 0x20100, 0, IdentifyController.OACS_HMLMS, 3, 0,
                0x66, 0x44, 64, 2, 0, 1, 2, 3, 4, 2, 16, 16, 0, 0, 64, "nqn");
        MemorySegment ours = MemorySegment.ofArray(id.encode());
        assertThat(ours.get(Sqe.LE_SHORT, Disagreements.ID_CTRL_LM_FIELDS_OFFSET + 16)).as("MCDQPC at 586").isEqualTo((short) 64);
        MemorySegment nv = MemorySegment.ofArray(id.encode(352));
        assertThat(nv.get(Sqe.LE_SHORT, 352 + 16)).as("flipped: NVIDIA's offset").isEqualTo((short) 64);
        assertThat(nv.get(Sqe.LE_SHORT, 586)).isZero();
        assertThat(IdentifyController.decode(nv, 352)).isEqualTo(id);
        assertThat(IdentifyController.decode(nv).mcdqpc()).as("read at our offset: nothing there").isZero();
    }

    /** NVMe Base 2.1, Figure 426: the same arming means a different slot under the two rules. */
    @Test
    void tailPointerTrigger() {
        String chosen = System.getProperty(Disagreements.TAIL_POINTER_TRIGGER_PROPERTY);
        assertThat(Disagreements.TAIL_POINTER_TRIGGER).as("the spec's rule unless -D%s says otherwise", Disagreements.TAIL_POINTER_TRIGGER_PROPERTY)
                .isEqualTo(chosen == null ? TailPointerTrigger.SLOT_POSTED : TailPointerTrigger.valueOf(chosen));
        assertThat(TailPointerTrigger.SLOT_POSTED.armFor(5, 1, 16)).isEqualTo(5);
        assertThat(TailPointerTrigger.TAIL_REACHED.armFor(5, 1, 16)).isEqualTo(6);
        assertThat(TailPointerTrigger.SLOT_POSTED.fires(5, 5, 16)).isTrue();
        assertThat(TailPointerTrigger.TAIL_REACHED.fires(5, 5, 16)).isFalse();
        assertThat(TailPointerTrigger.TAIL_REACHED.fires(15, 0, 16)).as("across the wrap").isTrue();
        assertThat(ControllerChoices.NVME_LM.tailPointerTrigger()).isEqualTo(Disagreements.TAIL_POINTER_TRIGGER);
    }
}
