package dev.nvmelm.spec;

/**
 * Bit-field helpers shared by every codec. Values that do not fit their field are rejected,
 * never truncated: libnvme shipped three such bugs in its LM encoders (CDQ size as u8, ETPT
 * taken from TPT, CNTLID in the wrong half of CDW11), and a loud failure here prevents them.
 */
public final class Fields {
    private Fields() {}

    /** Returns {@code value} if it fits an unsigned field of {@code bits} bits, else throws. */
    public static long unsigned(String name, long value, int bits) {
        if (bits < 64 && (value < 0 || value >>> bits != 0)) {
            throw new IllegalArgumentException(name + " = " + value + " (0x" + Long.toHexString(value)
                    + ") does not fit its " + bits + "-bit field (0.." + ((1L << bits) - 1) + ")");
        }
        return value;
    }

    /** {@link #unsigned(String, long, int)} for fields of at most 32 bits. */
    public static int u(String name, long value, int bits) {
        return (int) unsigned(name, value, bits);
    }

    /** Extracts bits hi..lo (inclusive) of a dword. */
    public static int get(int dword, int hi, int lo) {
        int width = hi - lo + 1;
        return width == 32 ? dword : (dword >>> lo) & ((1 << width) - 1);
    }

    /** True if any bit in hi..lo of the dword is set: used to reject reserved bits. */
    public static boolean any(int dword, int hi, int lo) {
        return get(dword, hi, lo) != 0;
    }

    /** Places a value that was already range-checked into bits starting at lo. */
    public static int put(int value, int lo) {
        return value << lo;
    }

    /** Rejects a decoded dword whose reserved bits (given as a mask) are not zero. */
    public static void reservedZero(String where, int dword, int reservedMask) {
        if ((dword & reservedMask) != 0) {
            throw new IllegalArgumentException(where + ": reserved bits set (0x"
                    + Integer.toHexString(dword & reservedMask) + ")");
        }
    }
}
