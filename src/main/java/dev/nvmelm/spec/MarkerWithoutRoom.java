package dev.nvmelm.spec;

/**
 * What a Suspend or a Resume (Migration Send, NVMe Base 2.1, section 5.1.17) does when the MC's
 * User Data Migration Queue has no room for its marker (ESA 011b "suspended" or ESA 001b
 * "first entry since resumed", NVM Command Set, Figure 177). A CDQ is full when one slot is
 * left free (Base 2.1, section 3.3.1.5), so a marker that would take the last free slot fills
 * the queue.
 *
 * <p>The ratified text: Suspend "shall ... post[] an entry in that User Data Migration Queue that
 * indicates the specified controller is suspended" (section 5.1.17.1.1, page 376); the Migration
 * Send statuses (Figure 362, page 383) are 1Fh, 37h, 38h and 3Ah, and Figure 103 (page 168)
 * gives 3Bh Controller Data Queue Full to Track Send alone. The entry that makes an LBA Migration
 * Queue full is "the last entry ... due to the LBA Migration Queue becoming full" (ESA 111b,
 * NVM Command Set, Figure 177), after which the controller has stopped logging. So the spec's
 * controller completes the command and the marker goes out as that ESA 111b entry.
 */
public enum MarkerWithoutRoom {
    /**
     * nvme-lm's default: Suspend and Resume answer 3Bh Controller Data Queue Full and change
     * nothing (the MC keeps running, or stays suspended). Not in Figure 362; kept because the
     * migration engine ends its final drain on the ESA 3 marker (docs/spec.md, "Status codes").
     */
    REFUSE_CDQ_FULL,
    /**
     * The ratified text: the command succeeds; a marker that takes the last free slot is posted
     * as ESA 111b (with the CDQ Full Error event, Figure 154) and logging stops; a queue that is
     * already full gets nothing (its last entry is already the ESA 111b one).
     */
    POST_QUEUE_FULL;

    /** Whether a Suspend or Resume with no room for its marker is refused with 3Bh. */
    public boolean refuses() {
        return this == REFUSE_CDQ_FULL;
    }
}
