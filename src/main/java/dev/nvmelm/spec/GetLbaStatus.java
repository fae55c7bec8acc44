package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Get LBA Status (admin 86h) with ATYPE 02h "tracked allocated LBAs" (TP4165; docs/spec.md, "Get LBA Status"):
 * CDW10/11 SLBA, CDW12 MNDW (0's based dwords of reply), CDW13 RL 15:0 (0 = to the end),
 * ATYPE 31:24. Reply: {le32 NLSD; u8 CMPC (1 incomplete, 2 complete); 3 reserved} then NLSD
 * 16-byte descriptors {le64 DSLBA; le32 NLB; u8 rsvd; u8 status; 2 rsvd}.
 */
public final class GetLbaStatus {
    private GetLbaStatus() {}

    public static final int ATYPE_ALLOCATED = 0x02;
    public static final int CMPC_INCOMPLETE = 1, CMPC_COMPLETE = 2;
    public static final int HEADER = 8, DESCRIPTOR = 16;

    public record Command(int nsid, long slba, int mndwZeroBased, int rangeLength, int atype) {
        public Command {
            Fields.unsigned("RL", rangeLength, 16);
            Fields.unsigned("ATYPE", atype, 8);
        }

        public long replyBytes() {
            return (Integer.toUnsignedLong(mndwZeroBased) + 1) * 4;
        }

        public Sqe toSqe() {
            return Sqe.of(AdminOpcode.GET_LBA_STATUS).withNsid(nsid).withCdw10((int) slba).withCdw11((int) (slba >>> 32))
                    .withCdw12(mndwZeroBased).withCdw13(rangeLength | atype << 24);
        }

        public static Command decode(Sqe s) {
            return new Command(s.nsid(), IoCommands.slbaOf(s), s.cdw12(), s.cdw13() & 0xffff, s.cdw13() >>> 24);
        }
    }

    /** An allocated run of LBAs. */
    public record Descriptor(long slba, long blockCount) {}

    public record Reply(boolean complete, List<Descriptor> descriptors) {
        public void encode(MemorySegment m) {
            m.set(Sqe.LE_INT, 0, descriptors.size());
            m.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 4, (byte) (complete ? CMPC_COMPLETE : CMPC_INCOMPLETE));
            for (int i = 0; i < descriptors.size(); i++) {
                long o = HEADER + (long) i * DESCRIPTOR;
                Descriptor d = descriptors.get(i);
                long nlb = Disagreements.LBA_STATUS_NLB.field(d.blockCount());
                m.set(Sqe.LE_LONG, o, d.slba());
                m.set(Sqe.LE_INT, o + 8, (int) Fields.unsigned("descriptor NLB", nlb, 32));
                m.set(java.lang.foreign.ValueLayout.JAVA_BYTE, o + 13, (byte) ATYPE_ALLOCATED);
            }
        }

        /** Decodes, never reading past {@code lengthBytes} even if NLSD claims more. */
        public static Reply decode(MemorySegment m, long lengthBytes) {
            int n = m.get(Sqe.LE_INT, 0);
            int cmpc = Byte.toUnsignedInt(m.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 4));
            long fit = (lengthBytes - HEADER) / DESCRIPTOR;
            if (n < 0 || n > fit) throw new IllegalArgumentException("LBA status reply claims " + Integer.toUnsignedString(n) + " descriptors, room for " + fit);
            List<Descriptor> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                long o = HEADER + (long) i * DESCRIPTOR;
                long nlb = Integer.toUnsignedLong(m.get(Sqe.LE_INT, o + 8));
                out.add(new Descriptor(m.get(Sqe.LE_LONG, o), Disagreements.LBA_STATUS_NLB.count(nlb)));
            }
            return new Reply(cmpc == CMPC_COMPLETE, out);
        }
    }
}
