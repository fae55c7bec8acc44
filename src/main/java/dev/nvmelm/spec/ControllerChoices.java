package dev.nvmelm.spec;

import java.util.Objects;

/**
 * The controller-side choices where the controllers in the field disagree with the ratified text
 * or with each other (docs/spec.md, "Disagreements"), as one value a controller is built with, so
 * a test can run the same host against either behaviour. {@link #NVME_LM} is nvme-lm's choice
 * (the spec's wherever the spec decides); {@link #QEMU} is QEMU hw/nvme's.
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
 */
public record ControllerChoices(TailPointerTrigger tailPointerTrigger, boolean maskOneShotAfterDelivery,
                                Status cdqTableFull, Status unknownCntlid) {
    public static final ControllerChoices NVME_LM = new ControllerChoices(Disagreements.TAIL_POINTER_TRIGGER,
            Disagreements.MASK_ONE_SHOT_AFTER_DELIVERY, Disagreements.CDQ_TABLE_FULL, Disagreements.UNKNOWN_CNTLID);

    /** QEMU hw/nvme's behaviour in each of these places. */
    public static final ControllerChoices QEMU = new ControllerChoices(TailPointerTrigger.TAIL_REACHED, true,
            Status.dnr(StatusCodes.SUCCESS), Status.dnr(StatusCodes.INVALID_FIELD));

    public ControllerChoices {
        Objects.requireNonNull(tailPointerTrigger);
        Objects.requireNonNull(cdqTableFull);
        Objects.requireNonNull(unknownCntlid);
    }

    public ControllerChoices withTailPointerTrigger(TailPointerTrigger rule) {
        return new ControllerChoices(rule, maskOneShotAfterDelivery, cdqTableFull, unknownCntlid);
    }
}
