package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The 64-byte Submission Queue Entry (NVMe Base 2.1, section 4.1, Figure "Common Command Format").
 * Byte 0 opcode, 1 flags (FUSE 1:0, PSDT 7:6), 3:2 CID, 7:4 NSID, 11:8 CDW2, 15:12 CDW3,
 * 23:16 MPTR, 31:24 PRP1 (DPTR), 39:32 PRP2, then CDW10..CDW15 at 40..63. Little-endian.
 */
public record Sqe(int opcode, int flags, int cid, int nsid, int cdw2, int cdw3, long mptr,
                  long prp1, long prp2, int cdw10, int cdw11, int cdw12, int cdw13, int cdw14, int cdw15) {

    public static final int SIZE = 64;
    static final ValueLayout.OfInt LE_INT = LittleEndian.U32;
    static final ValueLayout.OfLong LE_LONG = LittleEndian.U64;
    static final ValueLayout.OfShort LE_SHORT = LittleEndian.U16;

    public Sqe {
        Fields.unsigned("opcode", opcode, 8);
        Fields.unsigned("flags", flags, 8);
        Fields.unsigned("cid", cid, 16);
    }

    /** An admin SQE with only the opcode set; callers fill the rest with the with* methods. */
    public static Sqe of(AdminOpcode opcode) {
        return raw(opcode.value());
    }

    /** An I/O SQE with only the opcode set; callers fill the rest with the with* methods. */
    public static Sqe of(IoOpcode opcode) {
        return raw(opcode.value());
    }

    /**
     * An SQE with a raw opcode byte, for a byte nvme-lm has no name for (a vendor command passed
     * through, or a test of the Invalid Command Opcode answer); a known command uses {@link #of(AdminOpcode)}
     * or {@link #of(IoOpcode)}.
     */
    public static Sqe raw(int opcode) {
        return new Sqe(opcode, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    public Sqe withNsid(int v) { return new Sqe(opcode, flags, cid, v, cdw2, cdw3, mptr, prp1, prp2, cdw10, cdw11, cdw12, cdw13, cdw14, cdw15); }
    public Sqe withCid(int v) { return new Sqe(opcode, flags, v, nsid, cdw2, cdw3, mptr, prp1, prp2, cdw10, cdw11, cdw12, cdw13, cdw14, cdw15); }
    public Sqe withPrp(long p1, long p2) { return new Sqe(opcode, flags, cid, nsid, cdw2, cdw3, mptr, p1, p2, cdw10, cdw11, cdw12, cdw13, cdw14, cdw15); }
    public Sqe withCdw10(int v) { return new Sqe(opcode, flags, cid, nsid, cdw2, cdw3, mptr, prp1, prp2, v, cdw11, cdw12, cdw13, cdw14, cdw15); }
    public Sqe withCdw11(int v) { return new Sqe(opcode, flags, cid, nsid, cdw2, cdw3, mptr, prp1, prp2, cdw10, v, cdw12, cdw13, cdw14, cdw15); }
    public Sqe withCdw12(int v) { return new Sqe(opcode, flags, cid, nsid, cdw2, cdw3, mptr, prp1, prp2, cdw10, cdw11, v, cdw13, cdw14, cdw15); }
    public Sqe withCdw13(int v) { return new Sqe(opcode, flags, cid, nsid, cdw2, cdw3, mptr, prp1, prp2, cdw10, cdw11, cdw12, v, cdw14, cdw15); }
    public Sqe withCdw14(int v) { return new Sqe(opcode, flags, cid, nsid, cdw2, cdw3, mptr, prp1, prp2, cdw10, cdw11, cdw12, cdw13, v, cdw15); }
    public Sqe withCdw15(int v) { return new Sqe(opcode, flags, cid, nsid, cdw2, cdw3, mptr, prp1, prp2, cdw10, cdw11, cdw12, cdw13, cdw14, v); }

    /** Command dword n (0..15) as the controller sees it. */
    public int cdw(int n) {
        return switch (n) {
            case 0 -> opcode | flags << 8 | cid << 16;
            case 1 -> nsid;
            case 2 -> cdw2;
            case 3 -> cdw3;
            case 4 -> (int) mptr;
            case 5 -> (int) (mptr >>> 32);
            case 6 -> (int) prp1;
            case 7 -> (int) (prp1 >>> 32);
            case 8 -> (int) prp2;
            case 9 -> (int) (prp2 >>> 32);
            case 10 -> cdw10;
            case 11 -> cdw11;
            case 12 -> cdw12;
            case 13 -> cdw13;
            case 14 -> cdw14;
            case 15 -> cdw15;
            default -> throw new IndexOutOfBoundsException("CDW" + n);
        };
    }

    public void encode(MemorySegment seg, long off) {
        seg.set(ValueLayout.JAVA_BYTE, off, (byte) opcode);
        seg.set(ValueLayout.JAVA_BYTE, off + 1, (byte) flags);
        seg.set(LE_SHORT, off + 2, (short) cid);
        seg.set(LE_INT, off + 4, nsid);
        seg.set(LE_INT, off + 8, cdw2);
        seg.set(LE_INT, off + 12, cdw3);
        seg.set(LE_LONG, off + 16, mptr);
        seg.set(LE_LONG, off + 24, prp1);
        seg.set(LE_LONG, off + 32, prp2);
        seg.set(LE_INT, off + 40, cdw10);
        seg.set(LE_INT, off + 44, cdw11);
        seg.set(LE_INT, off + 48, cdw12);
        seg.set(LE_INT, off + 52, cdw13);
        seg.set(LE_INT, off + 56, cdw14);
        seg.set(LE_INT, off + 60, cdw15);
    }

    public static Sqe decode(MemorySegment seg, long off) {
        return new Sqe(
                Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, off)),
                Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, off + 1)),
                Short.toUnsignedInt(seg.get(LE_SHORT, off + 2)),
                seg.get(LE_INT, off + 4), seg.get(LE_INT, off + 8), seg.get(LE_INT, off + 12),
                seg.get(LE_LONG, off + 16), seg.get(LE_LONG, off + 24), seg.get(LE_LONG, off + 32),
                seg.get(LE_INT, off + 40), seg.get(LE_INT, off + 44), seg.get(LE_INT, off + 48),
                seg.get(LE_INT, off + 52), seg.get(LE_INT, off + 56), seg.get(LE_INT, off + 60));
    }

    public byte[] toBytes() {
        byte[] b = new byte[SIZE];
        encode(MemorySegment.ofArray(b), 0);
        return b;
    }

    public static Sqe fromBytes(byte[] b) {
        if (b.length != SIZE) throw new IllegalArgumentException("SQE must be 64 bytes, got " + b.length);
        return decode(MemorySegment.ofArray(b), 0);
    }
}
