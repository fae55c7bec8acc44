package dev.nvmelm.spec;

/**
 * What a Set Features command for the Controller Data Queue feature (FID 21h, NVMe Base 2.1,
 * section 5.1.25.1.23) does to a Controller Data Queue Tail Pointer event (One-Shot AEI 00h,
 * Figure 154) of the same CDQ that the controller generated but has not yet delivered, for want
 * of an outstanding Asynchronous Event Request. The Command Dword 11 figure of that feature
 * (Figure 424, page 415 of Base 2.1) was not in the searchable ratified text; the figures that
 * were (425-427, page 416) and Base 2.2 section 8.1.6.1 say when the event is generated, not that
 * a later Set Features withdraws it.
 */
public enum PendingTailPointerEvent {
    /** nvme-lm's default: an event already generated is delivered; a new arming only replaces the trigger. */
    KEPT,
    /**
     * A successful Set Features FID 21h withdraws the undelivered Tail Pointer events of that CDQ:
     * the host that reports a new head has read the ring and re-arms for what it has not read.
     */
    DISCARDED;
}
