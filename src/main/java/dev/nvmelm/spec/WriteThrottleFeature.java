package dev.nvmelm.spec;

/**
 * nvme-lm's vendor specific Feature Identifier C0h (NVMe Base 2.1 reserves C0h-FFh for vendor
 * specific features): the software controller's write throttle for a migratable controller,
 * which the migration engine sets on the source MC to make a busy guest converge. Only the MMC
 * accepts it. Set Features: CDW11 15:0 CNTLID, CDW12 writes per second (0 = unlimited). Get
 * Features: CDW11 15:0 CNTLID; CQE DW0 the current limit.
 */
public final class WriteThrottleFeature {
    private WriteThrottleFeature() {}

    public static final int FID = 0xC0;

    public static Sqe set(int cntlid, long writesPerSecond) {
        Fields.unsigned("CNTLID", cntlid, 16);
        Fields.unsigned("writes per second", writesPerSecond, 32);
        return Sqe.of(AdminOpcode.SET_FEATURES).withCdw10(FID).withCdw11(cntlid).withCdw12((int) writesPerSecond);
    }

    public static Sqe get(int cntlid) {
        Fields.unsigned("CNTLID", cntlid, 16);
        return Sqe.of(AdminOpcode.GET_FEATURES).withCdw10(FID).withCdw11(cntlid);
    }

    /** The CNTLID a Set or Get Features FID C0h names. */
    public static int cntlid(Sqe s) {
        return s.cdw11() & 0xffff;
    }

    /** The limit a Set Features FID C0h carries. */
    public static long writesPerSecond(Sqe s) {
        return Integer.toUnsignedLong(s.cdw12());
    }
}
