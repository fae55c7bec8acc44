package dev.nvmelm.spec;

import java.util.Objects;

/**
 * The controller-side choices where the controllers in the field disagree with the ratified text
 * or with each other (docs/spec.md, "Disagreements"), as one value a controller is built with, so
 * a test can run the same host against either behaviour. {@link #NVME_LM} is nvme-lm's choice:
 * the spec's wherever the spec decides, except {@link #markerWithoutRoom()}, where the migration
 * engine still needs the 3Bh refusal; {@link #SPEC} is the ratified text's throughout;
 * {@link #QEMU} is QEMU hw/nvme's.
 *
 * @param tailPointerTrigger       when an armed Tail Pointer Trigger fires (NVMe Base 2.1, Figure 426)
 * @param maskOneShotAfterDelivery whether a delivered One-Shot event (AET 4) masks later ones
 *                                 (QEMU sets aer_mask and clears it only on a log page read, which
 *                                 One-Shot events do not have; the spec gives One-Shot events no mask)
 * @param cdqTableFull             the status for a Create CDQ with no free UDMQ (NVMe Base 2.1,
 *                                 section 5.1.4.1.1.1: Not Enough Resources; QEMU: bare DNR)
 * @param unknownCntlid            the status for a CNTLID that names no migratable controller
 *                                 (Figures 169 and 362: Invalid Controller Identifier; QEMU:
 *                                 Invalid Field in Command)
 * @param markerWithoutRoom        what Suspend and Resume do when the UDMQ has no room for their
 *                                 marker (section 5.1.17.1.1, Figure 362; {@link MarkerWithoutRoom})
 * @param startWhileLogging        what Track Send start does on a UDMQ already logging (section
 *                                 5.1.27.1.1; the text is silent; {@link StartWhileLogging})
 * @param pendingTailPointerEvent  what Set Features FID 21h does to an undelivered Tail Pointer
 *                                 event of that CDQ (Figure 424 not found; {@link PendingTailPointerEvent})
 */
public record ControllerChoices(TailPointerTrigger tailPointerTrigger, boolean maskOneShotAfterDelivery,
                                Status cdqTableFull, Status unknownCntlid, MarkerWithoutRoom markerWithoutRoom,
                                StartWhileLogging startWhileLogging, PendingTailPointerEvent pendingTailPointerEvent) {
    public static final ControllerChoices NVME_LM = new ControllerChoices(Disagreements.TAIL_POINTER_TRIGGER,
            Disagreements.MASK_ONE_SHOT_AFTER_DELIVERY, Disagreements.CDQ_TABLE_FULL, Disagreements.UNKNOWN_CNTLID,
            Disagreements.MARKER_WITHOUT_ROOM, Disagreements.START_WHILE_LOGGING, Disagreements.PENDING_TAIL_POINTER_EVENT);

    /**
     * QEMU hw/nvme's behaviour in each of these places. For a marker without room QEMU writes the
     * marker into the last free slot (it never reports the queue full for a marker), which
     * neither choice models, so it keeps nvme-lm's; what a Set Features does to a queued event
     * was not checked in QEMU (docs/spec.md, "Disagreements").
     */
    public static final ControllerChoices QEMU = new ControllerChoices(TailPointerTrigger.TAIL_REACHED, true,
            Status.dnr(StatusCodes.SUCCESS), Status.dnr(StatusCodes.INVALID_FIELD),
            Disagreements.MARKER_WITHOUT_ROOM, StartWhileLogging.NO_CHANGE, Disagreements.PENDING_TAIL_POINTER_EVENT);

    /** The ratified text's behaviour wherever it decides and nvme-lm's default departs from it. */
    public static final ControllerChoices SPEC = NVME_LM.withMarkerWithoutRoom(MarkerWithoutRoom.POST_QUEUE_FULL);

    public ControllerChoices {
        Objects.requireNonNull(tailPointerTrigger);
        Objects.requireNonNull(cdqTableFull);
        Objects.requireNonNull(unknownCntlid);
        Objects.requireNonNull(markerWithoutRoom);
        Objects.requireNonNull(startWhileLogging);
        Objects.requireNonNull(pendingTailPointerEvent);
    }

    public ControllerChoices withTailPointerTrigger(TailPointerTrigger rule) {
        return new ControllerChoices(rule, maskOneShotAfterDelivery, cdqTableFull, unknownCntlid, markerWithoutRoom,
                startWhileLogging, pendingTailPointerEvent);
    }

    public ControllerChoices withMarkerWithoutRoom(MarkerWithoutRoom choice) {
        return new ControllerChoices(tailPointerTrigger, maskOneShotAfterDelivery, cdqTableFull, unknownCntlid, choice,
                startWhileLogging, pendingTailPointerEvent);
    }

    public ControllerChoices withStartWhileLogging(StartWhileLogging choice) {
        return new ControllerChoices(tailPointerTrigger, maskOneShotAfterDelivery, cdqTableFull, unknownCntlid, markerWithoutRoom,
                choice, pendingTailPointerEvent);
    }

    public ControllerChoices withPendingTailPointerEvent(PendingTailPointerEvent choice) {
        return new ControllerChoices(tailPointerTrigger, maskOneShotAfterDelivery, cdqTableFull, unknownCntlid, markerWithoutRoom,
                startWhileLogging, choice);
    }
}
