package dev.nvmelm.host.cdq;

import dev.nvmelm.spec.Opcodes;
import dev.nvmelm.spec.Sqe;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * INTERIM: the one place that knows the wire layouts this package uses, until the spec
 * records {@code LbaMigrationEntry} and {@code CdqFeature} land on branch spec.
 * LBA Migration Queue Entry Type 0, nvme-lm-spec.md §6.1: NSID 3:0, NLB 7:4, SLBA 15:8,
 * reserved 30:16, LBAMQA 31 = CDQP bit 0, ESA 3:1, reserved 4, DLBA 5, LBACI 7:6.
 */
final class SpecBridge {
    private SpecBridge() {}

    static final int ENTRY_BYTES = 32;
    static final int ESA_FIRST = 1, ESA_STOPPED = 2, ESA_SUSPENDED = 3, ESA_QUEUE_FULL = 7;
    static final int LBACI_RANGE = 0, LBACI_ALL = 1, LBACI_NONE = 2;
    /** §6.4: majority reading, NLB is 0's based like the I/O command field. */
    static final boolean NLB_ZERO_BASED = true;

    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static int nsid(MemorySegment s, long off) { return s.get(LE_INT, off); }

    static long nlb(MemorySegment s, long off) { return Integer.toUnsignedLong(s.get(LE_INT, off + 4)); }

    static long slba(MemorySegment s, long off) { return s.get(LE_LONG, off + 8); }

    /** Bytes 30:16 are reserved: true if any is set. */
    static boolean reservedBytesSet(MemorySegment s, long off) {
        return (s.get(LE_LONG, off + 16) | s.get(LE_LONG, off + 23)) != 0;
    }

    static int attributes(MemorySegment s, long off) { return Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, off + 31)); }

    static int esa(int attributes) { return attributes >>> 1 & 7; }

    static boolean dlba(int attributes) { return (attributes & 0x20) != 0; }

    static int lbaci(int attributes) { return attributes >>> 6; }

    static boolean reservedAttributeBit(int attributes) { return (attributes & 0x10) != 0; }

    static long blockCount(long nlb) { return NLB_ZERO_BASED ? nlb + 1 : nlb; }

    /** Set Features FID 21h (§5.4): CDW11 = CDQID | ETPT << 31, CDW12 = HP, CDW13 = TPT. */
    static Sqe setCdq(int cdqid, int headPointer, boolean etpt, int tailPointerTrigger) {
        return Sqe.of(Opcodes.SET_FEATURES).withCdw10(0x21).withCdw11(cdqid | (etpt ? 1 << 31 : 0))
                .withCdw12(headPointer).withCdw13(etpt ? tailPointerTrigger : 0);
    }
}
