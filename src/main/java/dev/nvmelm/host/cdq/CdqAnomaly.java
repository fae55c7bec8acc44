package dev.nvmelm.host.cdq;

import java.util.List;
import java.util.Set;

/**
 * An entry the consumer refused to use as written. Its fields were never used to index memory
 * or to skip anything. If it claims a change (LBACI 0, 1 or 3), every tracked namespace it
 * names (all of them for NSID FFFFFFFFh) was marked entirely dirty ({@code markedDirty}), so no
 * data can be skipped because of it; an entry naming no tracked namespace marks nothing. An
 * anomalous ESA 1, 2, 3 or 7 entry is still reported as a marker afterwards. The raw fields are
 * kept for the report: {@code attributes} is byte 31 (LBAMQA), {@code nlb} the raw field.
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
        RESERVED_LBACI,
        /**
         * Fields that contradict each other (NVM Command Set, Figure 177): ESA 1, 2 or 3 with LBACI other than 2
         * or with NSID, NLB or SLBA set; LBACI 2 with ESA 0; DLBA without LBACI 0.
         */
        IMPOSSIBLE_COMBINATION
    }

    public CdqAnomaly {
        kinds = Set.copyOf(kinds);
        markedDirty = List.copyOf(markedDirty);
    }
}
