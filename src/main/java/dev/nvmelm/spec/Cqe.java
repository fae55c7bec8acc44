package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;

/**
 * The 16-byte Completion Queue Entry (NVMe Base 2.1, section 4.2.1): DW0 and DW1 command specific,
 * DW2 = SQHD 15:0 | SQID 31:16, DW3 = CID 15:0 | P (phase tag) bit 16 | status 31:17.
 */
public record Cqe(int dw0, int dw1, int sqHead, int sqId, int cid, boolean phase, Status status) {

    public static final int SIZE = 16;

    public Cqe {
        Fields.unsigned("sqHead", sqHead, 16);
        Fields.unsigned("sqId", sqId, 16);
        Fields.unsigned("cid", cid, 16);
        java.util.Objects.requireNonNull(status, "status");
    }

    public void encode(MemorySegment seg, long off) {
        seg.set(Sqe.LE_INT, off, dw0);
        seg.set(Sqe.LE_INT, off + 4, dw1);
        seg.set(Sqe.LE_INT, off + 8, sqHead | sqId << 16);
        seg.set(Sqe.LE_INT, off + 12, dw3());
    }

    /** DW3 as written to memory: CID, phase tag, status field. */
    public int dw3() {
        return cid | (phase ? 1 << 16 : 0) | status.field() << 17;
    }

    public static Cqe decode(MemorySegment seg, long off) {
        int dw2 = seg.get(Sqe.LE_INT, off + 8);
        int dw3 = seg.get(Sqe.LE_INT, off + 12);
        return new Cqe(seg.get(Sqe.LE_INT, off), seg.get(Sqe.LE_INT, off + 4),
                dw2 & 0xffff, dw2 >>> 16, dw3 & 0xffff, (dw3 & (1 << 16)) != 0, Status.fromField(dw3 >>> 17));
    }

    /** The phase tag alone, read first by a consumer before the rest of the entry. */
    public static boolean phaseAt(MemorySegment seg, long off) {
        // DW3 bit 16 is bit 0 of byte 14. Read with acquire ordering, as a driver's dma_rmb: the
        // rest of the entry is read after the phase says it is new.
        return ((byte) PHASE_BYTE.getAcquire(seg, off + 14) & 1) != 0;
    }

    private static final java.lang.invoke.VarHandle PHASE_BYTE = java.lang.foreign.ValueLayout.JAVA_BYTE.varHandle();
}
