package dev.nvmelm.spec;

/**
 * Where the sources disagree (reference nvme-lm-spec.md §16), each choice is made exactly once,
 * here, with the alternatives named, so it can be flipped against the ratified text.
 */
public final class Disagreements {
    private Disagreements() {}

    /**
     * UDMQ entry NLB: 0's based like the I/O NLB field (QEMU's write path, libvfn's consumer).
     * Alternative: a 1's based count (QEMU's DSM path). §6.4, open question 1.
     */
    public static final boolean UDMQ_NLB_ZERO_BASED = true;

    /**
     * Migration Send NUMD: a dword count (libnvme, nvme-cli 3.0, QEMU, libvfn).
     * Alternative: 0's based (NVIDIA/Intel RFC). Migration Receive NUMD is 0's based everywhere. §8.3.
     */
    public static final boolean MIGRATION_SEND_NUMD_ZERO_BASED = false;

    /** Dwords a Migration Send with this NUMD carries. */
    public static long migrationSendDwords(int numd) {
        return Integer.toUnsignedLong(numd) + (MIGRATION_SEND_NUMD_ZERO_BASED ? 1 : 0);
    }

    /** The NUMD field for a Migration Send carrying {@code dwords} dwords. */
    public static int migrationSendNumd(long dwords) {
        long v = dwords - (MIGRATION_SEND_NUMD_ZERO_BASED ? 1 : 0);
        Fields.unsigned("NUMD", v, 32);
        return (int) v;
    }

    /** UDMQ entry: the number of LBAs an entry with this NLB field covers. */
    public static long udmqBlockCount(long nlbField) {
        return UDMQ_NLB_ZERO_BASED ? nlbField + 1 : nlbField;
    }

    /** UDMQ entry: the NLB field for a range of {@code blockCount} LBAs. */
    public static long udmqNlbField(long blockCount) {
        if (blockCount < 1) throw new IllegalArgumentException("a logged range covers at least one LBA");
        return UDMQ_NLB_ZERO_BASED ? blockCount - 1 : blockCount;
    }

    /**
     * Controller state IOCQA bit 2: "Phase Tag bit for Slot 0" (S0PT; libnvme, nvme-cli).
     * Alternative: the CQ's current producer phase (QEMU). They agree when the tail is not 0
     * and are opposite when it is (a fresh zeroed CQ: phase 1, slot 0 holds 0). §10.3, question 7.
     */
    public static final boolean IOCQA_BIT2_IS_SLOT0_PHASE = true;

    /** The IOCQA bit 2 value for a CQ whose producer phase is {@code phase} and tail is {@code tail}. */
    public static boolean iocqaBit2(boolean producerPhase, int tail) {
        return IOCQA_BIT2_IS_SLOT0_PHASE ? (tail != 0 ? producerPhase : !producerPhase) : producerPhase;
    }

    /** The producer phase recovered from IOCQA bit 2 and the tail. */
    public static boolean producerPhase(boolean iocqaBit2, int tail) {
        return IOCQA_BIT2_IS_SLOT0_PHASE ? (tail != 0 ? iocqaBit2 : !iocqaBit2) : iocqaBit2;
    }

    /** Migration Send SEL values: 0/1/2 (libnvme, nvme-cli, QEMU, libvfn). Alternative: NV's 0/2/3. §8. */
    public static final int MIGRATION_SEND_SEL_RESUME = 1, MIGRATION_SEND_SEL_SET_STATE = 2;

    /** Controller state header: 48 bytes (libnvme, nvme-cli, QEMU, libvfn). Alternative: NV's 20. §10.1. */
    public static final int CONTROLLER_STATE_HEADER_BYTES = 48;

    /** Identify Controller LM fields at bytes 570-587 (libnvme, QEMU, audit). Alternative: NV's 352. §2.1. */
    public static final int ID_CTRL_LM_FIELDS_OFFSET = 570;

    /** LBAMQF in the NVM Identify Controller (CNS 06h) byte 24, Type 0 = 00h. Alternative: QEMU's NVM Id-NS byte 9 = 01h. §2.2. */
    public static final int LBAMQF_OFFSET_ID_CTRL_NVM = 24, LBAMQF_TYPE0 = 0x00;

    /** CSVI numbering: 1-based (libnvme, QEMU, libvfn). Alternative: NV sends 0 for the first version. §2.4. */
    public static final int CSVI_FIRST_VERSION = 1;

    /** STYPE in CDW11[23:16] (libnvme, nvme-cli, QEMU). Alternative: NV's comment "cdw11[17:16]". §8.1. */
    public static final int STYPE_SHIFT = 16;

    /** SEQIND in CDW10[17:16] = MOS[1:0]. Alternative: NV's comment "CDW11[17:16]". §8.3. */
    public static final int SEQIND_SHIFT = 16;

    /** One-shot AEN masking: not masked after delivery (the trigger disarms itself). Alternative: QEMU masks. §11. */
    public static final boolean MASK_ONE_SHOT_AFTER_DELIVERY = false;

    /** Full CDQ table: Not Enough Resources (SCT1/38h). Alternative: QEMU's bare DNR. §12. */
    public static final Status CDQ_TABLE_FULL = Status.commandSpecific(StatusCodes.NOT_ENOUGH_RESOURCES);

    /** Unknown CNTLID: Invalid Controller Identifier (SCT1/1Fh). Alternatives: QEMU's Invalid Field / 0137h. §12. */
    public static final Status UNKNOWN_CNTLID = Status.commandSpecific(StatusCodes.INVALID_CTRL_ID);

    /**
     * When an armed CDQ Tail Pointer Trigger fires. The spec (NVMe Base 2.1, Figures 154 and
     * 426): when an entry is posted into slot TPT. QEMU hw/nvme fires when the advanced tail
     * equals TPT (one slot early) and the kernel RFC's consumer arms TPT = head + 1 to match.
     * nvme-lm's controller and host follow the spec by default; {@code Subsystem.Options} and
     * {@code CdqConsumer.Config} select the other rule for controllers that have it.
     */
    public static final TailPointerTrigger TAIL_POINTER_TRIGGER = TailPointerTrigger.SLOT_POSTED;

    /** Get LBA Status descriptor NLB: 0's based as QEMU writes it. Alternative: a count. §13. */
    public static final boolean LBA_STATUS_NLB_ZERO_BASED = true;
}
