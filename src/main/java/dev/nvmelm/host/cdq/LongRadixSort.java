package dev.nvmelm.host.cdq;

import java.util.Arrays;

/**
 * LSD radix sort of non-negative longs, used to sort the staged starts and ends of
 * {@link DirtyExtents} before a merge. LBAs of one namespace span few bits (2^28 LBAs for
 * 1 TiB of 4 KiB blocks), and sorting {@code key - min} over only the bits that differ
 * takes 2-3 linear passes where a comparison sort needs log2(m) ~ 12-16 levels.
 */
final class LongRadixSort {
    private LongRadixSort() {}

    /** Below this, a comparison sort is cheaper than clearing and summing a histogram. */
    static final int SMALL = 256;
    private static final int MAX_DIGIT_BITS = 13;
    /** Size of the {@code counts} array {@link #sort} needs. */
    static final int COUNTS = 1 << MAX_DIGIT_BITS;

    /**
     * Sorts {@code a[0, len)} ascending. Every value must be >= 0. {@code scratch} holds at
     * least {@code len} longs; {@code counts} at least {@link #COUNTS} ints.
     */
    static void sort(long[] a, int len, long[] scratch, int[] counts) {
        if (len < SMALL) {
            Arrays.sort(a, 0, len);
            return;
        }
        long min = Long.MAX_VALUE, max = 0;
        for (int i = 0; i < len; i++) {
            long v = a[i];
            if (v < min) min = v;
            if (v > max) max = v;
        }
        if (min < 0) throw new IllegalArgumentException("negative key " + min);
        long span = max - min;
        int bits = 64 - Long.numberOfLeadingZeros(span);
        if (bits == 0) return;   // all equal
        // Digits of about log2(len) bits keep the histogram no larger than the data.
        int maxDigit = Math.max(8, Math.min(MAX_DIGIT_BITS, 32 - Integer.numberOfLeadingZeros(len)));
        int passes = (bits + maxDigit - 1) / maxDigit;
        int digit = (bits + passes - 1) / passes;
        int buckets = 1 << digit, mask = buckets - 1;
        long[] src = a, dst = scratch;
        for (int p = 0, shift = 0; p < passes; p++, shift += digit) {
            Arrays.fill(counts, 0, buckets, 0);
            for (int i = 0; i < len; i++) counts[(int) ((src[i] - min) >>> shift) & mask]++;
            int sum = 0;
            for (int b = 0; b < buckets; b++) {
                int c = counts[b];
                counts[b] = sum;
                sum += c;
            }
            for (int i = 0; i < len; i++) {
                long v = src[i];
                dst[counts[(int) ((v - min) >>> shift) & mask]++] = v;
            }
            long[] t = src;
            src = dst;
            dst = t;
        }
        if (src != a) System.arraycopy(src, 0, a, 0, len);
    }
}
