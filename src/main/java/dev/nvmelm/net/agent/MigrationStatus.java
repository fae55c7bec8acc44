package dev.nvmelm.net.agent;

import java.util.UUID;

/**
 * What the destination agent knows of one migration, for whoever serves its namespace locally
 * (the NBD exports of {@code nvme-lm serve --nbd}).
 *
 * @param reason for {@link Phase#ABORTED} what ended it, for {@link Phase#COMMITTED} why it is not served; otherwise empty
 */
public record MigrationStatus(UUID id, long sizeBytes, int lbaSizeBytes, Phase phase, String reason) {
    public enum Phase {
        /** Receiving (or waiting for its source to come back): the namespace holds what was copied so far. */
        OPEN,
        /** Committed, and its target serves the migrated controller and namespace here. */
        SERVED,
        /** Committed, but not served by this agent (it restarted since: the controller state was not kept). */
        COMMITTED,
        /** The agent refused it for good (storage failure, verification, switchover): its source resumed. */
        ABORTED
    }
}
