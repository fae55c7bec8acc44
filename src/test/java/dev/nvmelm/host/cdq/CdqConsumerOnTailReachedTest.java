package dev.nvmelm.host.cdq;

import dev.nvmelm.spec.TailPointerTrigger;

/** Every consumer test again, against a producer whose trigger fires one slot early (QEMU's rule). */
class CdqConsumerOnTailReachedTest extends CdqConsumerTest {
    @Override
    TailPointerTrigger rule() {
        return TailPointerTrigger.TAIL_REACHED;
    }
}
