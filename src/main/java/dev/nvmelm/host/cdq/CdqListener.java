package dev.nvmelm.host.cdq;

/**
 * What the consumer tells its caller besides dirty ranges. Called on the consuming thread, in
 * ring order, after every range before the entry has reached its DirtyExtents. Keep it short
 * and do not call back into the consumer.
 */
public interface CdqListener {
    /** ESA 1, 2, 3 or 7. {@link CdqMarker.Kind#QUEUE_FULL} means tracking is broken. */
    default void onMarker(CdqMarker marker) {}

    /** An entry that was refused (see {@link CdqAnomaly}). */
    default void onAnomaly(CdqAnomaly anomaly) {}

    /** A Set Features FID 21h (head report or trigger) failed; it is retried on the next poll. */
    default void onHeadReportFailed(int head, Throwable cause) {}

    CdqListener NONE = new CdqListener() {};
}
