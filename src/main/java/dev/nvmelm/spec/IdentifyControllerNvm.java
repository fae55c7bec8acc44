package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;

/**
 * I/O Command Set specific Identify Controller, NVM (CNS 06h, CSI 00h; NVM Command Set, section 5.6; docs/spec.md, "Identify"):
 * AOCS 19:18 (bit 0 RALBAS: Get LBA Status ATYPE 02h works), LBAMQF 24 (00h = Type 0 entries),
 * and the NVM Identify Namespace (CNS 05h) TLBAAG 295:292.
 */
public record IdentifyControllerNvm(int aocs, int lbamqf) {
    public static final int SIZE = 4096;
    public static final int AOCS_RALBAS = 1;
    public static final int TLBAAG_OFFSET = 292;

    public byte[] encode() {
        byte[] b = new byte[SIZE];
        MemorySegment m = MemorySegment.ofArray(b);
        m.set(Sqe.LE_SHORT, 18, (short) aocs);
        b[Disagreements.LBAMQF_OFFSET_ID_CTRL_NVM] = (byte) lbamqf;
        return b;
    }

    public static IdentifyControllerNvm decode(MemorySegment m) {
        return new IdentifyControllerNvm(IdentifyController.u16(m, 18), IdentifyController.u8(m, Disagreements.LBAMQF_OFFSET_ID_CTRL_NVM));
    }

    /** NVM Identify Namespace (CNS 05h) with only TLBAAG set, in LBAs. */
    public static byte[] nvmNamespace(int tlbaagLbas) {
        byte[] b = new byte[4096];
        MemorySegment.ofArray(b).set(Sqe.LE_INT, TLBAAG_OFFSET, tlbaagLbas);
        return b;
    }
}
