package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * LBA Migration Queue Entry Type 0, the 32-byte User Data Migration Queue entry (NVM Command Set, Figure 177):
 * 3:0 NSID, 7:4 NLB (base per {@link Disagreements#UDMQ_NLB}; 0's based, NVM Command Set Figure 177), 15:8 SLBA, 30:16
 * reserved, 31 LBAMQA = CDQP phase tag bit 0, ESA 3:1, reserved bit 4, DLBA bit 5, LBACI 7:6.
 * The controller writes bytes 0-30 first and byte 31 last, so a consumer that sees the new
 * phase can read the rest.
 */
public record LbaMigrationEntry(int nsid, long nlb, long slba, boolean phase, int esa, boolean dlba, int lbaci) {
    public static final int SIZE = 32, PHASE_OFFSET = 31;
    /** ESA (Figure 177): 0 middle, 1 first (logging (re)started), 2 last: stopped, 3 last: suspended, 7 last: queue full. */
    public static final int ESA_MIDDLE = 0, ESA_FIRST = 1, ESA_STOPPED = 2, ESA_SUSPENDED = 3, ESA_QUEUE_FULL = 7;
    /** LBACIR (Figure 177; LBACI in QEMU): 0 range changed, 1 all LBAs of the namespace changed, 2 no LBA change (marker). */
    public static final int LBACI_RANGE = 0, LBACI_NAMESPACE = 1, LBACI_NONE = 2;

    public LbaMigrationEntry {
        Fields.unsigned("NLB", nlb, 32);
        Fields.unsigned("ESA", esa, 3);
        Fields.unsigned("LBACI", lbaci, 2);
    }

    /** A change entry for {@code blockCount} LBAs starting at {@code slba}. */
    public static LbaMigrationEntry range(int nsid, long slba, long blockCount, boolean phase) {
        return new LbaMigrationEntry(nsid, Disagreements.udmqNlbField(blockCount), slba, phase, ESA_MIDDLE, false, LBACI_RANGE);
    }

    /** A marker entry (ESA 1, 2 or 3): LBACI 2, NSID/NLB/SLBA zero. */
    public static LbaMigrationEntry marker(int esa, boolean phase) {
        return new LbaMigrationEntry(0, 0, 0, phase, esa, false, LBACI_NONE);
    }

    /** LBAs covered by a range entry. */
    public long blockCount() {
        return Disagreements.udmqBlockCount(nlb);
    }

    public int attributes() {
        return (phase ? 1 : 0) | esa << 1 | (dlba ? 1 << 5 : 0) | lbaci << 6;
    }

    public LbaMigrationEntry withEsa(int newEsa) {
        return new LbaMigrationEntry(nsid, nlb, slba, phase, newEsa, dlba, lbaci);
    }

    /** Writes bytes 0-30, then byte 31 (the phase tag) last. */
    public void encode(MemorySegment m, long off) {
        m.set(Sqe.LE_INT, off, nsid);
        m.set(Sqe.LE_INT, off + 4, (int) nlb);
        m.set(Sqe.LE_LONG, off + 8, slba);
        m.asSlice(off + 16, 15).fill((byte) 0);
        java.lang.invoke.VarHandle.releaseFence();
        m.set(ValueLayout.JAVA_BYTE, off + PHASE_OFFSET, (byte) attributes());
    }

    public static boolean phaseAt(MemorySegment m, long off) {
        // Acquire, as CdqRingReader reads it: the controller writes byte 31 last (Base 2.2, 8.1.6.1).
        return ((byte) PHASE_BYTE.getAcquire(m, off + PHASE_OFFSET) & 1) != 0;
    }

    private static final java.lang.invoke.VarHandle PHASE_BYTE = ValueLayout.JAVA_BYTE.varHandle();

    /** Decodes without judging: reserved bits are reported by {@link #reservedBitsSet}, not thrown. */
    public static LbaMigrationEntry decode(MemorySegment m, long off) {
        int a = Byte.toUnsignedInt(m.get(ValueLayout.JAVA_BYTE, off + PHASE_OFFSET));
        return new LbaMigrationEntry(m.get(Sqe.LE_INT, off), Integer.toUnsignedLong(m.get(Sqe.LE_INT, off + 4)),
                m.get(Sqe.LE_LONG, off + 8), (a & 1) != 0, (a >>> 1) & 7, (a & 1 << 5) != 0, a >>> 6);
    }

    /** True if bytes 16-30 or LBAMQA bit 4 of the entry at {@code off} are not zero. */
    public static boolean reservedBitsSet(MemorySegment m, long off) {
        if ((m.get(ValueLayout.JAVA_BYTE, off + PHASE_OFFSET) & 0x10) != 0) return true;
        for (int i = 16; i < 31; i++) if (m.get(ValueLayout.JAVA_BYTE, off + i) != 0) return true;
        return false;
    }
}
