package dev.nvmelm.host.cdq;

import java.util.List;
import java.util.Set;

/**
 * An entry the consumer refused to use as written. Its range was never used to index memory
 * or to skip anything; instead every tracked namespace it names was marked entirely dirty
 * ({@code markedDirty}), so no data can be skipped because of it. The raw fields are kept for
 * the report: {@code attributes} is byte 31 (LBAMQA), {@code nlb} the raw field.
 */
public record CdqAnomaly(Set<Kind> kinds, long sequence, int slot, int nsid, long slba, long nlb,
                         int attributes, List<Integer> markedDirty) {

    public enum Kind {
        /** NSID names no tracked namespace (including 0 and FFFFFFFFh with a range). */
        UNKNOWN_NSID,
        /** SLBA + NLB lies (partly) past the end of the namespace, or overflows. */
        RANGE_OUT_OF_BOUNDS,
        /** Byte 31 bit 4 or any of bytes 30:16 is set. */
        RESERVED_BITS,
        /** ESA 4, 5 or 6. */
        RESERVED_ESA,
        /** LBACI 3. */
        RESERVED_LBACI
    }

    public CdqAnomaly {
        kinds = Set.copyOf(kinds);
        markedDirty = List.copyOf(markedDirty);
    }
}
