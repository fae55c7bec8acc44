package dev.nvmelm.host.cdq;

/**
 * A sequence entry of the User Data Migration Queue (ESA 1, 2, 3 or 7; NVM Command Set, Figure 177).
 * {@code sequence} counts entries consumed since the consumer started (0 = first entry), so
 * markers can be ordered against each other and against anomalies.
 */
public record CdqMarker(Kind kind, long sequence, int slot) {

    public enum Kind {
        /** ESA 1: logging (re)started. */
        FIRST(1),
        /** ESA 2: last entry, logging stopped (Track Send stop). */
        STOPPED(2),
        /** ESA 3: last entry, the controller is suspended (Migration Send Suspend). */
        SUSPENDED(3),
        /**
         * ESA 7: the entry that filled the queue. Changes after it are lost: tracking is broken
         * and the caller must restart tracking and recopy, or mark every namespace dirty.
         */
        QUEUE_FULL(7);

        public final int esa;

        Kind(int esa) {
            this.esa = esa;
        }

        /** The kind for an ESA value, or null for 0 (middle) and the reserved 4-6. */
        public static Kind ofEsa(int esa) {
            return switch (esa) {
                case 1 -> FIRST;
                case 2 -> STOPPED;
                case 3 -> SUSPENDED;
                case 7 -> QUEUE_FULL;
                default -> null;
            };
        }
    }
}
