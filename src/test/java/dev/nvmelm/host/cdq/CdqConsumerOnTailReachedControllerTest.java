package dev.nvmelm.host.cdq;

import dev.nvmelm.spec.TailPointerTrigger;

/**
 * Every consumer-on-controller test again, against a controller whose Tail Pointer Trigger fires
 * one slot early as QEMU's does (docs/spec.md, "Tail Pointer Trigger"), with the host set for it.
 */
class CdqConsumerOnTailReachedControllerTest extends CdqConsumerOnControllerTest {
    @Override
    TailPointerTrigger rule() {
        return TailPointerTrigger.TAIL_REACHED;
    }
}
