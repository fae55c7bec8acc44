package dev.nvmelm.host.cdq;

/**
 * Consumer counters since start. {@code bytesDirtied} sums the bytes of every range applied
 * (LBACI 0) and of every whole namespace marked (LBACI 1, anomalies), counting rewrites again.
 * {@code dlbaEntries} counts applied range entries with DLBA set (deallocated LBAs, which are
 * dirty like written ones).
 */
public record CdqCounters(long entries, long changeEntries, long namespaceWideEntries, long dlbaEntries, long markers,
                          long anomalies, long bytesDirtied, long queueFullMarkers, long ringPasses,
                          long headReports, long headReportFailures, long notifications, long timedWakeups) {}
