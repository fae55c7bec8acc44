package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;

/**
 * Identify Namespace (CNS 00h, 4096 bytes; NVM Command Set 1.1, section 4.1.5.1), the fields nvme-lm uses:
 * NSZE 7:0, NCAP 15:8, NUSE 23:16, NSFEAT 24, NLBAF 25 (0's based), FLBAS 26, MSSRL 75:74,
 * MCL 79:76, MSRC 80, LBAF[0..] from 128 (4 bytes each: MS 15:0, LBADS 23:16).
 */
public record IdentifyNamespace(long nsze, long ncap, long nuse, int nsfeat, int lbaDataSizeShift, int mssrl, int mcl, int msrcZeroBased) {
    public static final int SIZE = 4096;
    public static final int NSFEAT_THIN = 1;

    public int lbaSizeBytes() {
        return 1 << lbaDataSizeShift;
    }

    public byte[] encode() {
        byte[] b = new byte[SIZE];
        MemorySegment m = MemorySegment.ofArray(b);
        m.set(Sqe.LE_LONG, 0, nsze);
        m.set(Sqe.LE_LONG, 8, ncap);
        m.set(Sqe.LE_LONG, 16, nuse);
        b[24] = (byte) nsfeat;
        b[25] = 0;           // one LBA format
        b[26] = 0;           // FLBAS: format 0
        m.set(Sqe.LE_SHORT, 74, (short) mssrl);
        m.set(Sqe.LE_INT, 76, mcl);
        b[80] = (byte) msrcZeroBased;
        m.set(Sqe.LE_INT, 128, lbaDataSizeShift << 16);
        return b;
    }

    /**
     * Decodes; for an active namespace (NSZE not 0; an inactive NSID reads as zeroes) an LBADS
     * outside 9..30 (below 512 bytes, which the NVM Command Set does not allow, or a block size no
     * int holds) is an IllegalArgumentException, not a block size of 1 << LBADS wrapped around.
     */
    public static IdentifyNamespace decode(MemorySegment m) {
        int flbas = IdentifyController.u8(m, 26) & 0xf;
        int lbaf = m.get(Sqe.LE_INT, 128 + 4L * flbas);
        int lbads = (lbaf >>> 16) & 0xff;
        if (m.get(Sqe.LE_LONG, 0) != 0 && (lbads < 9 || lbads > 30)) throw new IllegalArgumentException("Identify Namespace LBAF " + flbas + ": LBADS " + lbads + " is not a block size of 512 bytes to 1 GiB");
        return new IdentifyNamespace(m.get(Sqe.LE_LONG, 0), m.get(Sqe.LE_LONG, 8), m.get(Sqe.LE_LONG, 16),
                IdentifyController.u8(m, 24), (lbaf >>> 16) & 0xff, IdentifyController.u16(m, 74), m.get(Sqe.LE_INT, 76),
                IdentifyController.u8(m, 80));
    }
}
