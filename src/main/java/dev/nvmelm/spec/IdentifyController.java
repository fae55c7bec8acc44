package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * Identify Controller data (CNS 01h, 4096 bytes; NVMe Base 2.1 Figure "Identify Controller Data
 * Structure"), the fields nvme-lm uses. Offsets: VID 1:0, SSVID 3:2, SN 23:4, MN 63:24, FR 71:64,
 * MDTS 77, CNTLID 79:78, VER 83:80, CTRATT 99:96, OACS 257:256 (bit 11 HMLMS), AERL 259, LPA 261,
 * SQES 512, CQES 513, MAXCMD 515:514, NN 519:516, ONCS 521:520, and the HMLM fields at 570-587
 * ({@link Disagreements#ID_CTRL_LM_FIELDS_OFFSET}; docs/spec.md, "Identify"): CMMRTD, NMMRTD, MINMRTG, MAXMRTG, TRATTR, MCUDMQ, MNSUDMQ, MCMR, NMCMR, MCDQPC;
 * SUBNQN 1023:768.
 */
public record IdentifyController(int vid, int ssvid, String serial, String model, String firmware, int mdts, int cntlid,
                                 int version, int ctratt, int oacs, int aerl, int lpa, int sqes, int cqes, int maxcmd,
                                 int nn, int oncs, int cmmrtd, int nmmrtd, int minmrtg, int maxmrtg, int trattr,
                                 int mcudmq, int mnsudmq, int mcmr, int nmcmr, int mcdqpc, String subnqn) {
    public static final int SIZE = 4096;
    public static final int OACS_FORMAT_NVM = 1 << 1, OACS_GET_LBA_STATUS = 1 << 9, OACS_HMLMS = 1 << 11;
    public static final int TRATTR_THMCS = 1, TRATTR_TUDCS = 2, TRATTR_MRTLL = 4;
    public static final int ONCS_DSM = 1 << 2, ONCS_WRITE_ZEROES = 1 << 3, ONCS_COPY = 1 << 8;

    public boolean hmlms() {
        return (oacs & OACS_HMLMS) != 0;
    }

    public byte[] encode() {
        return encode(Disagreements.ID_CTRL_LM_FIELDS_OFFSET);
    }

    /** Encodes with the HMLM fields at {@code lm} (the {@link Disagreements#ID_CTRL_LM_FIELDS_OFFSET} knob flipped). */
    public byte[] encode(int lm) {
        byte[] b = new byte[SIZE];
        MemorySegment m = MemorySegment.ofArray(b);
        m.set(Sqe.LE_SHORT, 0, (short) vid);
        m.set(Sqe.LE_SHORT, 2, (short) ssvid);
        ascii(b, 4, 20, serial);
        ascii(b, 24, 40, model);
        ascii(b, 64, 8, firmware);
        b[77] = (byte) mdts;
        m.set(Sqe.LE_SHORT, 78, (short) cntlid);
        m.set(Sqe.LE_INT, 80, version);
        m.set(Sqe.LE_INT, 96, ctratt);
        m.set(Sqe.LE_SHORT, 256, (short) oacs);
        b[259] = (byte) aerl;
        b[261] = (byte) lpa;
        b[512] = (byte) sqes;
        b[513] = (byte) cqes;
        m.set(Sqe.LE_SHORT, 514, (short) maxcmd);
        m.set(Sqe.LE_INT, 516, nn);
        m.set(Sqe.LE_SHORT, 520, (short) oncs);
        m.set(Sqe.LE_SHORT, lm, (short) cmmrtd);
        m.set(Sqe.LE_SHORT, lm + 2, (short) nmmrtd);
        b[lm + 4] = (byte) minmrtg;
        b[lm + 5] = (byte) maxmrtg;
        b[lm + 6] = (byte) trattr;
        m.set(Sqe.LE_SHORT, lm + 8, (short) mcudmq);
        m.set(Sqe.LE_SHORT, lm + 10, (short) mnsudmq);
        m.set(Sqe.LE_SHORT, lm + 12, (short) mcmr);
        m.set(Sqe.LE_SHORT, lm + 14, (short) nmcmr);
        m.set(Sqe.LE_SHORT, lm + 16, (short) mcdqpc);
        byte[] nqn = subnqn.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(nqn, 0, b, 768, Math.min(nqn.length, 255));
        return b;
    }

    public static IdentifyController decode(MemorySegment m) {
        return decode(m, Disagreements.ID_CTRL_LM_FIELDS_OFFSET);
    }

    /** Decodes with the HMLM fields at {@code lm}. */
    public static IdentifyController decode(MemorySegment m, int lm) {
        return new IdentifyController(u16(m, 0), u16(m, 2), str(m, 4, 20), str(m, 24, 40), str(m, 64, 8), u8(m, 77),
                u16(m, 78), m.get(Sqe.LE_INT, 80), m.get(Sqe.LE_INT, 96), u16(m, 256), u8(m, 259), u8(m, 261), u8(m, 512),
                u8(m, 513), u16(m, 514), m.get(Sqe.LE_INT, 516), u16(m, 520), u16(m, lm), u16(m, lm + 2), u8(m, lm + 4),
                u8(m, lm + 5), u8(m, lm + 6), u16(m, lm + 8), u16(m, lm + 10), u16(m, lm + 12), u16(m, lm + 14),
                u16(m, lm + 16), str(m, 768, 256).replace("\0", ""));
    }

    static void ascii(byte[] b, int off, int len, String s) {
        java.util.Arrays.fill(b, off, off + len, (byte) ' ');  // space padded, as the spec requires
        byte[] v = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(v, 0, b, off, Math.min(len, v.length));
    }

    static String str(MemorySegment m, long off, int len) {
        return new String(m.asSlice(off, len).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII).strip();
    }

    static int u8(MemorySegment m, long off) {
        return Byte.toUnsignedInt(m.get(ValueLayout.JAVA_BYTE, off));
    }

    static int u16(MemorySegment m, long off) {
        return Short.toUnsignedInt(m.get(Sqe.LE_SHORT, off));
    }
}
