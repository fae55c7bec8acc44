package dev.nvmelm.host.cdq;

/**
 * The deterministic heap estimate of {@link DirtyExtents#memoryBytes()}: an array costs its
 * capacity times its element size plus a header (docs/cdq.md, "DirtyExtents").
 */
final class HeapEstimate {
    private HeapEstimate() {}

    static final int ARRAY_HEADER_BYTES = 16;

    /** Bytes of a {@code long[]}, 0 for none. */
    static long of(long[] a) {
        return a == null ? 0 : ARRAY_HEADER_BYTES + 8L * a.length;
    }

    /** Bytes of an {@code int[]}, 0 for none. */
    static long of(int[] a) {
        return a == null ? 0 : ARRAY_HEADER_BYTES + 4L * a.length;
    }
}
