package dev.nvmelm.spec;

/**
 * What bit 2 of the I/O Completion Queue Attributes in a controller state carries. The ratified
 * text: "Slot 0 Phase Tag (S0PT): This bit states the value of the Phase Tag bit for slot 0 of this
 * I/O Completion Queue" (NVMe Base 2.1, Figure 361), as libnvme and nvme-cli name it. QEMU
 * writes the queue's current producer phase. The two agree when the tail is not 0 and are
 * opposite when it is.
 */
public enum CqPhaseAttribute {
    /** NVMe Base 2.1, Figure 361 (libnvme, nvme-cli). */
    SLOT0_PHASE_TAG,
    /** QEMU hw/nvme. */
    PRODUCER_PHASE;

    /** The bit for a CQ whose producer phase is {@code producerPhase} and whose tail is {@code tail}. */
    public boolean encode(boolean producerPhase, int tail) {
        return this == PRODUCER_PHASE || tail != 0 ? producerPhase : !producerPhase;
    }

    /** The producer phase recovered from the bit and the tail. */
    public boolean producerPhase(boolean bit, int tail) {
        return this == PRODUCER_PHASE || tail != 0 ? bit : !bit;
    }
}
