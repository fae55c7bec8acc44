package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;

/**
 * Feature Identifier 21h "Controller Data Queue" (reference §5.4).
 * Set Features: CDW10 FID 21h (SV 0), CDW11 CDQID 15:0 and ETPT bit 31, CDW12 HP (head
 * pointer, a slot index), CDW13 TPT (tail pointer trigger, a slot index, meaningful with ETPT).
 * Get Features: CDW10 FID 21h with SEL 10:8, CDW11 CDQID; returns the 8-byte {@link CdqFeatureData}.
 */
public final class CdqFeature {
    private CdqFeature() {}

    public static final int FID = 0x21;
    public static final int SET_FEATURES = Opcodes.SET_FEATURES, GET_FEATURES = Opcodes.GET_FEATURES;

    public record SetCdq(int cdqid, int headPointer, boolean etpt, int tailPointerTrigger) {
        public SetCdq {
            Fields.unsigned("CDQID", cdqid, 16);
            if (!etpt && tailPointerTrigger != 0) {
                throw new IllegalArgumentException("TPT = " + Integer.toUnsignedString(tailPointerTrigger) + " without ETPT");
            }
        }

        public Sqe toSqe() {
            // ETPT comes from etpt alone (libnvme 85b8fb93 took it from tpt); TPT is a full u32.
            return Sqe.of(SET_FEATURES).withCdw10(FID).withCdw11(cdqid | (etpt ? 1 << 31 : 0))
                    .withCdw12(headPointer).withCdw13(tailPointerTrigger);
        }

        /** Decodes a Set Features FID 21h command; CDW10 bit 31 (SV) must be 0: the feature is not saveable. */
        public static SetCdq decode(Sqe s) {
            if (s.opcode() != SET_FEATURES || (s.cdw10() & 0xff) != FID) throw new IllegalArgumentException("not Set Features FID 21h");
            Fields.reservedZero("Set Features FID 21h CDW10[30:8]", s.cdw10(), 0x7fffff00);
            Fields.reservedZero("Set Features FID 21h CDW11[30:16]", s.cdw11(), 0x7fff0000);
            boolean etpt = s.cdw11() < 0;
            return new SetCdq(s.cdw11() & 0xffff, s.cdw12(), etpt, etpt ? s.cdw13() : 0);
        }

        /** SV (save) requested: the controller answers Feature Identifier Not Saveable. */
        public static boolean saveRequested(Sqe s) {
            return s.cdw10() < 0;
        }
    }

    public record GetCdq(int cdqid) {
        public GetCdq {
            Fields.unsigned("CDQID", cdqid, 16);
        }

        public Sqe toSqe() {
            return Sqe.of(GET_FEATURES).withCdw10(FID).withCdw11(cdqid);
        }

        public static GetCdq decode(Sqe s) {
            if (s.opcode() != GET_FEATURES || (s.cdw10() & 0xff) != FID) throw new IllegalArgumentException("not Get Features FID 21h");
            Fields.reservedZero("Get Features FID 21h CDW11[31:16]", s.cdw11(), 0xffff0000);
            return new GetCdq(s.cdw11() & 0xffff);
        }
    }

    /** The 8-byte Get Features FID 21h payload {le32 HP @0; le32 TPT @4}. */
    public record CdqFeatureData(int headPointer, int tailPointerTrigger) {
        public static final int SIZE = 8;

        public void encode(MemorySegment seg, long off) {
            seg.set(Sqe.LE_INT, off, headPointer);
            seg.set(Sqe.LE_INT, off + 4, tailPointerTrigger);
        }

        public static CdqFeatureData decode(MemorySegment seg, long off) {
            return new CdqFeatureData(seg.get(Sqe.LE_INT, off), seg.get(Sqe.LE_INT, off + 4));
        }
    }
}
