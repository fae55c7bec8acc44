package dev.nvmelm.fuzz;

import java.util.Arrays;

/**
 * Typed values cut from the front of a fuzz input: a target takes {@code byte[]} (what the
 * committed regression inputs hold, byte for byte, and what the combined target passes on) and
 * reads its parameters here. Past the end every value is zero.
 */
public final class BytesProvider {
    private final byte[] data;
    private int pos;

    public BytesProvider(byte[] data) {
        this.data = data;
    }

    public int remaining() {
        return data.length - pos;
    }

    public int consumeByte() {
        return pos < data.length ? data[pos++] & 0xff : 0;
    }

    public boolean consumeBoolean() {
        return (consumeByte() & 1) != 0;
    }

    public long consumeLong() {
        long v = 0;
        for (int i = 0; i < 8; i++) v = v << 8 | consumeByte();
        return v;
    }

    public int consumeInt() {
        return (int) (consumeLong() >>> 32);
    }

    /** A value in [min, max]. */
    public long consumeLong(long min, long max) {
        long span = max - min + 1;
        return span <= 0 ? min + consumeLong() : min + Long.remainderUnsigned(consumeLong(), span);
    }

    /** A value in [min, max], from four bytes. */
    public int consumeInt(int min, int max) {
        long span = (long) max - min + 1;
        long raw = 0;
        for (int i = 0; i < 4; i++) raw = raw << 8 | consumeByte();
        return (int) (min + raw % span);
    }

    /** Up to {@code n} bytes (fewer at the end of the input). */
    public byte[] consumeBytes(int n) {
        int k = Math.max(0, Math.min(n, remaining()));
        byte[] b = Arrays.copyOfRange(data, pos, pos + k);
        pos += k;
        return b;
    }

    public byte[] consumeRemainingAsBytes() {
        return consumeBytes(remaining());
    }
}
