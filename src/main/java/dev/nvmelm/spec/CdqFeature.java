package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;

/**
 * Feature Identifier 21h "Controller Data Queue" (NVMe Base 2.1, section 5.1.25.1.23).
 * Set Features: CDW10 FID 21h (SV 0), CDW11 CDQID 15:0 and ETPT bit 31, CDW12 HP (head
 * pointer, a slot index; Figure 425), CDW13 TPT (tail pointer trigger, a slot index, meaningful
 * with ETPT; Figure 426). Get Features: CDW10 FID 21h with SEL 10:8, CDW11 CDQID; returns the
 * 512-byte {@link CdqFeatureData} (Figure 427). For Get Features the controller ignores TPT
 * (Figure 426) and so ETPT, which only qualifies it.
 */
public final class CdqFeature {
    private CdqFeature() {}

    public static final int FID = 0x21;

    public record SetCdq(int cdqid, int headPointer, boolean etpt, int tailPointerTrigger) {
        public SetCdq {
            Fields.unsigned("CDQID", cdqid, 16);
            if (!etpt && tailPointerTrigger != 0) {
                throw new IllegalArgumentException("TPT = " + Integer.toUnsignedString(tailPointerTrigger) + " without ETPT");
            }
        }

        public Sqe toSqe() {
            // ETPT comes from etpt alone (libnvme 85b8fb93 took it from tpt); TPT is a full u32.
            return Sqe.of(AdminOpcode.SET_FEATURES).withCdw10(FID).withCdw11(cdqid | (etpt ? 1 << 31 : 0))
                    .withCdw12(headPointer).withCdw13(tailPointerTrigger);
        }

        /** Decodes a Set Features FID 21h command; CDW10 bit 31 (SV) must be 0: the feature is not saveable. */
        public static SetCdq decode(Sqe s) {
            if (!AdminOpcode.SET_FEATURES.isOpcodeOf(s) || (s.cdw10() & 0xff) != FID) throw new IllegalArgumentException("not Set Features FID 21h");
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
            return Sqe.of(AdminOpcode.GET_FEATURES).withCdw10(FID).withCdw11(cdqid);
        }

        /** CDW11[30:16] is reserved; ETPT (bit 31), HP (CDW12) and TPT (CDW13) are ignored (NVMe Base 2.1, Figure 426). */
        public static GetCdq decode(Sqe s) {
            if (!AdminOpcode.GET_FEATURES.isOpcodeOf(s) || (s.cdw10() & 0xff) != FID) throw new IllegalArgumentException("not Get Features FID 21h");
            Fields.reservedZero("Get Features FID 21h CDW11[30:16]", s.cdw11(), 0x7fff0000);
            return new GetCdq(s.cdw11() & 0xffff);
        }
    }

    /**
     * The Get Features FID 21h data structure (NVMe Base 2.1, Figure 427): le32 HP at bytes 3:0,
     * le32 TPT at 7:4 (0 when ETPT is clear), bytes 511:8 reserved. libnvme's and QEMU's struct
     * stops at byte 7; a host buffer of that size would be overrun by a conforming controller
     * (docs/spec.md, "Controller Data Queue feature").
     */
    public record CdqFeatureData(int headPointer, int tailPointerTrigger) {
        public static final int SIZE = 512;
        /** Bytes that carry fields; the rest of {@link #SIZE} is reserved. */
        public static final int FIELD_BYTES = 8;

        /** Writes the whole {@link #SIZE}-byte structure, the reserved bytes cleared. */
        public void encode(MemorySegment seg, long off) {
            seg.asSlice(off, SIZE).fill((byte) 0);
            seg.set(Sqe.LE_INT, off, headPointer);
            seg.set(Sqe.LE_INT, off + 4, tailPointerTrigger);
        }

        public static CdqFeatureData decode(MemorySegment seg, long off) {
            return new CdqFeatureData(seg.get(Sqe.LE_INT, off), seg.get(Sqe.LE_INT, off + 4));
        }
    }
}
