package dev.nvmelm.spec;

/**
 * Track Send, Log User Data Changes with the Logging Action bit set to '1' (start), on a User
 * Data Migration Queue that is already logging (NVMe Base 2.1, section 5.1.27.1.1). The
 * searchable ratified text does not say (the page after Figure 463, page 437 of Base 2.1, with
 * Figures 464-465, and the Track Send status figure were not in it; docs/spec.md, "Track
 * Send"), and Figure 103 (page 168) names no status for it: no status code is "already logging".
 * A stop on a queue that is not logging succeeds and posts nothing under either choice (an ESA
 * 010b "last entry ... as a result of logging being stopped" would report a stop that did not
 * happen).
 */
public enum StartWhileLogging {
    /** nvme-lm's default (and QEMU's): success, nothing posted, logging goes on. */
    NO_CHANGE,
    /**
     * Success, and logging starts again: a new ESA 001b "first entry placed ... since logging
     * was started" (NVM Command Set, Figure 177), which needs room as any marker does (3Bh if
     * the marker would fill the queue). A host can then wait for that marker whatever state the
     * queue was in.
     */
    RESTART;
}
