package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/** NVM Command Set I/O commands (NVM Command Set 1.1, section 3). SLBA in CDW10/11; NLB 0's based. */
public final class IoCommands {
    private IoCommands() {}

    /** Read (02h) or Write (01h): CDW12 NLB 15:0 (0's based), FUA bit 30, LR bit 31. */
    public record ReadWrite(IoOpcode opcode, int nsid, long slba, int nlbZeroBased, boolean fua) {
        public ReadWrite {
            if (opcode != IoOpcode.READ && opcode != IoOpcode.WRITE) throw new IllegalArgumentException("not a Read or Write opcode");
            Fields.unsigned("NLB", nlbZeroBased, 16);
        }

        public long blockCount() {
            return nlbZeroBased + 1L;
        }

        public Sqe toSqe() {
            return Sqe.of(opcode).withNsid(nsid).withCdw10((int) slba).withCdw11((int) (slba >>> 32))
                    .withCdw12(nlbZeroBased | (fua ? 1 << 30 : 0));
        }

        public static ReadWrite decode(Sqe s) {
            return new ReadWrite(IoOpcode.of(s.opcode()).orElseThrow(() -> new IllegalArgumentException("not a Read or Write opcode")), s.nsid(), slbaOf(s), s.cdw12() & 0xffff, (s.cdw12() & 1 << 30) != 0);
        }
    }

    public static ReadWrite read(int nsid, long slba, long blocks) {
        return new ReadWrite(IoOpcode.READ, nsid, slba, (int) Fields.unsigned("block count - 1", blocks - 1, 16), false);
    }

    public static ReadWrite write(int nsid, long slba, long blocks, boolean fua) {
        return new ReadWrite(IoOpcode.WRITE, nsid, slba, (int) Fields.unsigned("block count - 1", blocks - 1, 16), fua);
    }

    /** Write Zeroes (08h): CDW12 NLB 15:0, DEAC bit 25 (deallocate), FUA bit 30. */
    public record WriteZeroes(int nsid, long slba, int nlbZeroBased, boolean deallocate) {
        public WriteZeroes {
            Fields.unsigned("NLB", nlbZeroBased, 16);
        }

        public long blockCount() {
            return nlbZeroBased + 1L;
        }

        public Sqe toSqe() {
            return Sqe.of(IoOpcode.WRITE_ZEROES).withNsid(nsid).withCdw10((int) slba).withCdw11((int) (slba >>> 32))
                    .withCdw12(nlbZeroBased | (deallocate ? 1 << 25 : 0));
        }

        public static WriteZeroes decode(Sqe s) {
            return new WriteZeroes(s.nsid(), slbaOf(s), s.cdw12() & 0xffff, (s.cdw12() & 1 << 25) != 0);
        }
    }

    /** A Dataset Management range: 16 bytes {le32 context attributes, le32 NLB (a count), le64 SLBA}. */
    public record DsmRange(long slba, long blockCount) {
        public static final int SIZE = 16;
    }

    /** Dataset Management (09h): CDW10 NR 7:0 (0's based), CDW11 AD bit 2. */
    public record DatasetManagement(int nsid, int rangeCount, boolean deallocate) {
        public Sqe toSqe() {
            return Sqe.of(IoOpcode.DATASET_MANAGEMENT).withNsid(nsid).withCdw10(Fields.u("NR", rangeCount - 1, 8))
                    .withCdw11(deallocate ? 4 : 0);
        }

        public long dataBytes() {
            return (long) rangeCount * DsmRange.SIZE;
        }

        public static DatasetManagement decode(Sqe s) {
            return new DatasetManagement(s.nsid(), (s.cdw10() & 0xff) + 1, (s.cdw11() & 4) != 0);
        }
    }

    public static void encodeRanges(List<DsmRange> ranges, MemorySegment m) {
        for (int i = 0; i < ranges.size(); i++) {
            m.set(Sqe.LE_INT, i * 16L, 0);
            m.set(Sqe.LE_INT, i * 16L + 4, (int) Fields.unsigned("DSM range NLB", ranges.get(i).blockCount(), 32));
            m.set(Sqe.LE_LONG, i * 16L + 8, ranges.get(i).slba());
        }
    }

    public static List<DsmRange> decodeRanges(MemorySegment m, int count) {
        List<DsmRange> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(new DsmRange(m.get(Sqe.LE_LONG, i * 16L + 8), Integer.toUnsignedLong(m.get(Sqe.LE_INT, i * 16L + 4))));
        }
        return out;
    }

    public static Sqe flush(int nsid) {
        return Sqe.of(IoOpcode.FLUSH).withNsid(nsid);
    }

    /** A Copy source range, format 0 (32 bytes): 15:8 SLBA, 17:16 NLB (0's based). */
    public record CopyRange(long slba, int nlbZeroBased) {
        public static final int SIZE = 32;
    }

    /** Copy (19h): CDW10/11 SDLBA, CDW12 NR 7:0 (0's based), DESFMT 11:8 (0). */
    public record Copy(int nsid, long sdlba, int rangeCount) {
        public Sqe toSqe() {
            return Sqe.of(IoOpcode.COPY).withNsid(nsid).withCdw10((int) sdlba).withCdw11((int) (sdlba >>> 32))
                    .withCdw12(Fields.u("NR", rangeCount - 1, 8));
        }

        public static Copy decode(Sqe s) {
            int fmt = Fields.get(s.cdw12(), 11, 8);
            if (fmt != 0) throw new IllegalArgumentException("Copy descriptor format " + fmt + " is not supported (only 0)");
            return new Copy(s.nsid(), slbaOf(s), (s.cdw12() & 0xff) + 1);
        }
    }

    public static void encodeCopyRanges(List<CopyRange> ranges, MemorySegment m) {
        for (int i = 0; i < ranges.size(); i++) {
            m.asSlice(i * 32L, 32).fill((byte) 0);
            m.set(Sqe.LE_LONG, i * 32L + 8, ranges.get(i).slba());
            m.set(Sqe.LE_SHORT, i * 32L + 16, (short) ranges.get(i).nlbZeroBased());
        }
    }

    public static List<CopyRange> decodeCopyRanges(MemorySegment m, int count) {
        List<CopyRange> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(new CopyRange(m.get(Sqe.LE_LONG, i * 32L + 8), Short.toUnsignedInt(m.get(Sqe.LE_SHORT, i * 32L + 16))));
        }
        return out;
    }

    static long slbaOf(Sqe s) {
        return Integer.toUnsignedLong(s.cdw10()) | (long) s.cdw11() << 32;
    }
}
