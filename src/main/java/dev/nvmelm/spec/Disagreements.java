package dev.nvmelm.spec;

/**
 * Where the implementations in the field (QEMU hw/nvme, libnvme/nvme-cli, the kernel RFC, the
 * NVIDIA/Intel RFC) disagree with the ratified text or with each other, each choice is made
 * exactly once, here, with the spec section and the alternatives named (docs/spec.md,
 * "Disagreements", has the table). Each knob is read by the code its comment names; knobs of a
 * type with behaviour ({@link CountField}, {@link CqPhaseAttribute}, {@link TailPointerTrigger})
 * can be flipped by passing the other value, and the controller-side ones are also a
 * {@link ControllerChoices} a controller is built with.
 *
 * <p>Settled by the ratified text and so no longer knobs: Migration Send SEL 0/1/2 (NVMe Base
 * 2.1, section 5.1.17, Figure "Migration Send - Command Dword 10"; NVIDIA's RFC used 0/2/3),
 * STYPE in CDW11[23:16] (Figure 351), and CSVI numbering from 1 with 0 meaning "no
 * controller state" (Figure 345; NVIDIA's RFC sent 0 for the first version).
 */
public final class Disagreements {
    private Disagreements() {}

    /** The system property that picks {@link #TAIL_POINTER_TRIGGER}. */
    public static final String TAIL_POINTER_TRIGGER_PROPERTY = "nvmelm.tailPointerTrigger";

    /**
     * UDMQ entry NLB: 0's based, as NVM Command Set Figure 177 says ("This is a 0's based value";
     * QEMU's write path, libvfn). Alternative: a count (QEMU's DSM deallocate path). Read by
     * {@link LbaMigrationEntry}.
     */
    public static final CountField UDMQ_NLB = CountField.ZERO_BASED;

    /**
     * Migration Send NUMD: a dword count (libnvme, nvme-cli 3.0, QEMU, libvfn). Alternative: 0's
     * based (NVIDIA/Intel RFC; Migration Receive NUMD is 0's based everywhere). Not settled: the
     * Set Controller State figure of NVMe Base 2.1 was not found in the searchable text (docs/spec.md).
     * Read by {@link MigrationSendCommand.SetControllerState#lengthBytes()}.
     */
    public static final CountField MIGRATION_SEND_NUMD = CountField.COUNT;

    /** Dwords a Migration Send with this NUMD carries. */
    public static long migrationSendDwords(int numd) {
        return MIGRATION_SEND_NUMD.count(Integer.toUnsignedLong(numd));
    }

    /** The NUMD field for a Migration Send carrying {@code dwords} dwords. */
    public static int migrationSendNumd(long dwords) {
        long v = MIGRATION_SEND_NUMD.field(dwords);
        Fields.unsigned("NUMD", v, 32);
        return (int) v;
    }

    /** UDMQ entry: the number of LBAs an entry with this NLB field covers. */
    public static long udmqBlockCount(long nlbField) {
        return UDMQ_NLB.count(nlbField);
    }

    /** UDMQ entry: the NLB field for a range of {@code blockCount} LBAs. */
    public static long udmqNlbField(long blockCount) {
        if (blockCount < 1) throw new IllegalArgumentException("a logged range covers at least one LBA");
        return UDMQ_NLB.field(blockCount);
    }

    /**
     * Controller state IOCQA bit 2: Slot 0 Phase Tag (NVMe Base 2.1, Figure 361; libnvme,
     * nvme-cli). Alternative: the CQ's current producer phase (QEMU). Read by {@link IoCqState}.
     */
    public static final CqPhaseAttribute IOCQA_BIT2 = CqPhaseAttribute.SLOT0_PHASE_TAG;

    /** The IOCQA bit 2 value for a CQ whose producer phase is {@code phase} and tail is {@code tail}. */
    public static boolean iocqaBit2(boolean producerPhase, int tail) {
        return IOCQA_BIT2.encode(producerPhase, tail);
    }

    /** The producer phase recovered from IOCQA bit 2 and the tail. */
    public static boolean producerPhase(boolean iocqaBit2, int tail) {
        return IOCQA_BIT2.producerPhase(iocqaBit2, tail);
    }

    /**
     * Controller state header: 48 bytes (libnvme, nvme-cli, QEMU, libvfn). Alternative: NVIDIA's
     * 20, with different field widths, so this is a layout, not a flip. Read by {@link ControllerState}.
     */
    public static final int CONTROLLER_STATE_HEADER_BYTES = 48;

    /**
     * Identify Controller LM fields at bytes 570-587 (libnvme, QEMU). Alternative: NVIDIA's 352.
     * Read by {@link IdentifyController}, which takes another offset for a flip.
     */
    public static final int ID_CTRL_LM_FIELDS_OFFSET = 570;

    /**
     * LBAMQF in the I/O Command Set specific (NVM) Identify Controller, as NVM Command Set section
     * 5.6 places it, byte 24, Type 0 = 00h (libnvme, nvme-cli). Alternative: QEMU's NVM Identify
     * Namespace byte 9 = 01h. Read by {@link IdentifyControllerNvm}.
     */
    public static final int LBAMQF_OFFSET_ID_CTRL_NVM = 24, LBAMQF_TYPE0 = 0x00;

    /** CSVI of the first (only) controller state version: 1, since 0 means none (NVMe Base 2.1, Figure 345). */
    public static final int CSVI_FIRST_VERSION = 1;

    /**
     * One-Shot events not masked after delivery: the trigger disarms itself and the host re-arms.
     * Alternative: QEMU masks AET 4 after the first and never unmasks (One-Shot events have no log
     * page to read). Read by the controller through {@link ControllerChoices#maskOneShotAfterDelivery()}.
     */
    public static final boolean MASK_ONE_SHOT_AFTER_DELIVERY = false;

    /**
     * No free UDMQ (MCUDMQ or MNSUDMQ reached): Not Enough Resources (SCT 1h/38h, NVMe Base 2.1,
     * section 5.1.4.1.1.1, page 209, the User Data Migration Queue's own rule). The text
     * contradicts itself: section 5.1.4.1.1 (page 207) says Invalid Field in Command for the same
     * two conditions. Alternatives: that Invalid Field, QEMU's bare DNR. Read through
     * {@link ControllerChoices#cdqTableFull()}.
     */
    public static final Status CDQ_TABLE_FULL = Status.dnr(StatusCodes.NOT_ENOUGH_RESOURCES);

    /**
     * Unknown CNTLID: Invalid Controller Identifier (SCT 1h/1Fh; NVMe Base 2.1, Figures 169 and
     * 362). Alternatives: QEMU's Invalid Field or 0137h. Read through {@link ControllerChoices#unknownCntlid()}.
     */
    public static final Status UNKNOWN_CNTLID = Status.dnr(StatusCodes.INVALID_CTRL_ID);

    /**
     * Suspend and Resume with no room in the UDMQ for their marker: 3Bh, nothing changes
     * ({@link MarkerWithoutRoom#REFUSE_CDQ_FULL}). The ratified text completes the command and
     * the marker goes out as ESA 111b ({@link MarkerWithoutRoom#POST_QUEUE_FULL}; NVMe Base 2.1,
     * section 5.1.17.1.1 and Figures 103 and 362; NVM Command Set, Figure 177). nvme-lm keeps 3Bh
     * until the migration engine's final drain also ends on an ESA 7 (docs/spec.md, "Status
     * codes"). QEMU writes the marker into the last free slot. Read by the controller through
     * {@link ControllerChoices#markerWithoutRoom()}.
     */
    public static final MarkerWithoutRoom MARKER_WITHOUT_ROOM = MarkerWithoutRoom.REFUSE_CDQ_FULL;

    /**
     * Track Send start on a UDMQ already logging: success, nothing posted (QEMU's). Alternative:
     * {@link StartWhileLogging#RESTART}, a new ESA 1. Not settled: Base 2.1's Log User Data Changes
     * figures (page 437) are not in the searchable text. Read by the controller through
     * {@link ControllerChoices#startWhileLogging()}.
     */
    public static final StartWhileLogging START_WHILE_LOGGING = StartWhileLogging.NO_CHANGE;

    /**
     * Set Features FID 21h leaves an undelivered CDQ Tail Pointer event of that CDQ queued.
     * Alternative: {@link PendingTailPointerEvent#DISCARDED}. Not settled: Base 2.1, Figure 424
     * (page 415) is not in the searchable text. Read by the controller through
     * {@link ControllerChoices#pendingTailPointerEvent()}.
     */
    public static final PendingTailPointerEvent PENDING_TAIL_POINTER_EVENT = PendingTailPointerEvent.KEPT;

    /**
     * Get LBA Status descriptor NLB: 0's based as QEMU writes it. Alternative: a count. TP4165 is
     * not in the ratified text searched (docs/spec.md). Read by {@link GetLbaStatus}.
     */
    public static final CountField LBA_STATUS_NLB = CountField.ZERO_BASED;

    /**
     * When an armed CDQ Tail Pointer Trigger fires. The spec (NVMe Base 2.1, Figures 154 and
     * 426): when an entry is posted into slot TPT. QEMU hw/nvme fires when the advanced tail
     * equals TPT (one slot early) and the kernel RFC's consumer arms TPT = head + 1 to match.
     * nvme-lm's controller and host follow the spec by default; {@link ControllerChoices} and
     * {@code CdqConsumer.Config} select the other rule for controllers that have it. The system
     * property {@value #TAIL_POINTER_TRIGGER_PROPERTY} ({@code SLOT_POSTED} or {@code TAIL_REACHED})
     * changes the default of both sides for a whole process, e.g. to drive a QEMU controller or to
     * run the migration tests against the QEMU rule.
     */
    public static final TailPointerTrigger TAIL_POINTER_TRIGGER = TailPointerTrigger.fromProperty(TAIL_POINTER_TRIGGER_PROPERTY);
}
