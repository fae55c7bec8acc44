package dev.nvmelm.spec.bus;

/** Controller register map (NVMe Base 2.1, section 3.1.4, Figure "Controller Properties"). */
public final class Registers {
    private Registers() {}

    public static final int CAP = 0x00, VS = 0x08, INTMS = 0x0c, INTMC = 0x10, CC = 0x14, CSTS = 0x1c,
            AQA = 0x24, ASQ = 0x28, ACQ = 0x30, DOORBELL_BASE = 0x1000;

    // CAP fields: MQES 15:0 (0's based), CQR 16, TO 31:24 (500 ms units), DSTRD 35:32, CSS 44:37, MPSMIN 51:48
    public static int capMqes(long cap) { return (int) (cap & 0xffff); }
    public static int capDstrd(long cap) { return (int) ((cap >>> 32) & 0xf); }
    public static int capTimeoutMs(long cap) { return (int) ((cap >>> 24) & 0xff) * 500; }

    // CC: EN bit 0, CSS 6:4, MPS 10:7 (2^(12+MPS)), AMS 13:11, SHN 15:14, IOSQES 19:16, IOCQES 23:20
    public static final int CC_EN = 1;
    public static int ccMps(int cc) { return (cc >>> 7) & 0xf; }

    // CSTS: RDY bit 0, CFS bit 1, SHST 3:2
    public static final int CSTS_RDY = 1, CSTS_CFS = 2;

    /** Offset of the SQ y Tail Doorbell. */
    public static int sqTailDoorbell(int qid, int dstrd) {
        return DOORBELL_BASE + (2 * qid) * (4 << dstrd);
    }

    /** Offset of the CQ y Head Doorbell. */
    public static int cqHeadDoorbell(int qid, int dstrd) {
        return DOORBELL_BASE + (2 * qid + 1) * (4 << dstrd);
    }
}
