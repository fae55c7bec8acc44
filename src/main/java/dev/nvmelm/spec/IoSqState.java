package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;

/**
 * I/O Submission Queue state entry, 24 bytes (NVMe Base 2.1, Figure 360): 7:0 IOSQPRP1, 9:8 IOSQQSIZE
 * (0's based), 11:10 IOSQQID, 13:12 IOSQCQID, 15:14 IOSQA (bit 0 PC, bits 2:1 QPRIO), 17:16
 * IOSQHP, 19:18 IOSQTP, 23:20 reserved.
 */
public record IoSqState(long prp1, int qsizeZeroBased, int qid, int cqid, boolean physicallyContiguous, int qprio,
                        int head, int tail) {
    public static final int SIZE = 24;

    public IoSqState {
        Fields.unsigned("IOSQQSIZE", qsizeZeroBased, 16);
        Fields.unsigned("IOSQQID", qid, 16);
        Fields.unsigned("IOSQCQID", cqid, 16);
        Fields.unsigned("QPRIO", qprio, 2);
        Fields.unsigned("IOSQHP", head, 16);
        Fields.unsigned("IOSQTP", tail, 16);
    }

    public int attributes() {
        return (physicallyContiguous ? 1 : 0) | qprio << 1;
    }

    public void encode(MemorySegment m, long off) {
        m.set(Sqe.LE_LONG, off, prp1);
        m.set(Sqe.LE_SHORT, off + 8, (short) qsizeZeroBased);
        m.set(Sqe.LE_SHORT, off + 10, (short) qid);
        m.set(Sqe.LE_SHORT, off + 12, (short) cqid);
        m.set(Sqe.LE_SHORT, off + 14, (short) attributes());
        m.set(Sqe.LE_SHORT, off + 16, (short) head);
        m.set(Sqe.LE_SHORT, off + 18, (short) tail);
        m.set(Sqe.LE_INT, off + 20, 0);
    }

    public static IoSqState decode(MemorySegment m, long off) {
        int attr = Short.toUnsignedInt(m.get(Sqe.LE_SHORT, off + 14));
        Fields.reservedZero("IOSQA[15:3]", attr, 0xfff8);
        Fields.reservedZero("I/O SQ state bytes 23:20", m.get(Sqe.LE_INT, off + 20), -1);
        return new IoSqState(m.get(Sqe.LE_LONG, off), u16(m, off + 8), u16(m, off + 10), u16(m, off + 12),
                (attr & 1) != 0, (attr >>> 1) & 3, u16(m, off + 16), u16(m, off + 18));
    }

    static int u16(MemorySegment m, long off) {
        return Short.toUnsignedInt(m.get(Sqe.LE_SHORT, off));
    }
}
