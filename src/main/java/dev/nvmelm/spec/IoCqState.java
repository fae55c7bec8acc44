package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;

/**
 * I/O Completion Queue state entry, 24 bytes (NVMe Base 2.1, Figure 361): 7:0 IOCQPRP1, 9:8 IOCQQSIZE
 * (0's based), 11:10 IOCQQID, 13:12 IOCQHP, 15:14 IOCQTP, 19:16 IOCQA (bit 0 PC, bit 1 IEN,
 * bit 2 S0PT, 31:16 IV), 23:20 reserved. The producer phase is stored through
 * {@link Disagreements#iocqaBit2}.
 */
public record IoCqState(long prp1, int qsizeZeroBased, int qid, int head, int tail, boolean physicallyContiguous,
                        boolean interruptsEnabled, boolean producerPhase, int interruptVector) {
    public static final int SIZE = 24;

    public IoCqState {
        Fields.unsigned("IOCQQSIZE", qsizeZeroBased, 16);
        Fields.unsigned("IOCQQID", qid, 16);
        Fields.unsigned("IOCQHP", head, 16);
        Fields.unsigned("IOCQTP", tail, 16);
        Fields.unsigned("IV", interruptVector, 16);
    }

    public int attributes() {
        return (physicallyContiguous ? 1 : 0) | (interruptsEnabled ? 2 : 0)
                | (Disagreements.iocqaBit2(producerPhase, tail) ? 4 : 0) | interruptVector << 16;
    }

    public void encode(MemorySegment m, long off) {
        m.set(Sqe.LE_LONG, off, prp1);
        m.set(Sqe.LE_SHORT, off + 8, (short) qsizeZeroBased);
        m.set(Sqe.LE_SHORT, off + 10, (short) qid);
        m.set(Sqe.LE_SHORT, off + 12, (short) head);
        m.set(Sqe.LE_SHORT, off + 14, (short) tail);
        m.set(Sqe.LE_INT, off + 16, attributes());
        m.set(Sqe.LE_INT, off + 20, 0);
    }

    public static IoCqState decode(MemorySegment m, long off) {
        int attr = m.get(Sqe.LE_INT, off + 16);
        Fields.reservedZero("IOCQA[15:3]", attr, 0x0000fff8);
        Fields.reservedZero("I/O CQ state bytes 23:20", m.get(Sqe.LE_INT, off + 20), -1);
        int tail = IoSqState.u16(m, off + 14);
        return new IoCqState(m.get(Sqe.LE_LONG, off), IoSqState.u16(m, off + 8), IoSqState.u16(m, off + 10),
                IoSqState.u16(m, off + 12), tail, (attr & 1) != 0, (attr & 2) != 0,
                Disagreements.producerPhase((attr & 4) != 0, tail), attr >>> 16);
    }
}
