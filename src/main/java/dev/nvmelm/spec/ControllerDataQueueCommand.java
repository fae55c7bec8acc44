package dev.nvmelm.spec;

/**
 * Controller Data Queue admin command, opcode 45h (NVMe Base 2.1, section 5.1.4, Figures 161-168).
 * CDW10: SEL 7:0 (0 create, 1 delete), 15:8 reserved, MOS 31:16 with QT = MOS[7:0].
 * Create: CDW11 PC bit 0, 15:1 reserved, CQS 31:16 (= CNTLID of the migratable controller for
 * a User Data Migration Queue); CDW12 CDQSIZE in dwords (not 0's based); PRP1 queue base (PC=1)
 * or first PRP list page (PC=0), with an offset of 0h (Figure 162). Delete: CDW11 CDQID 15:0.
 * CQE DW0[15:0] returns the CDQID.
 */
public sealed interface ControllerDataQueueCommand {
    int SEL_CREATE = 0, SEL_DELETE = 1;
    /** QT 0: User Data Migration Queue, the only queue type defined. */
    int QT_USER_DATA_MIGRATION = 0;

    Sqe toSqe();

    record Create(int queueType, boolean physicallyContiguous, int cntlid, long sizeDwords, long prp1)
            implements ControllerDataQueueCommand {
        public Create {
            Fields.unsigned("QT", queueType, 8);
            Fields.unsigned("CNTLID", cntlid, 16);
            Fields.unsigned("CDQSIZE", sizeDwords, 32);
        }

        @Override
        public Sqe toSqe() {
            return Sqe.of(AdminOpcode.CONTROLLER_DATA_QUEUE).withPrp(prp1, 0)
                    .withCdw10(SEL_CREATE | queueType << 16)
                    .withCdw11((physicallyContiguous ? 1 : 0) | cntlid << 16)
                    .withCdw12((int) sizeDwords);
        }

        public long sizeBytes() {
            return sizeDwords * 4;
        }

        /**
         * NVMe Base 2.1, Figure 164: a CDQSIZE (in dwords) that is not a multiple of the entry
         * size of the queue type is Invalid Field in Command. A User Data Migration Queue entry
         * is 32 bytes (8 dwords; NVM Command Set 1.1, the LBA Migration Queue Entry).
         */
        public static boolean wholeUdmqEntries(long sizeDwords) {
            return sizeDwords > 0 && sizeDwords % (LbaMigrationEntry.SIZE / 4) == 0;
        }
    }

    record Delete(int cdqid) implements ControllerDataQueueCommand {
        public Delete {
            Fields.unsigned("CDQID", cdqid, 16);
        }

        @Override
        public Sqe toSqe() {
            return Sqe.of(AdminOpcode.CONTROLLER_DATA_QUEUE).withCdw10(SEL_DELETE).withCdw11(cdqid);
        }
    }

    /** Decodes and validates; reserved bits or an undefined SEL are an IllegalArgumentException. */
    static ControllerDataQueueCommand decode(Sqe s) {
        if (!AdminOpcode.CONTROLLER_DATA_QUEUE.isOpcodeOf(s)) throw new IllegalArgumentException("not a Controller Data Queue command");
        int sel = Fields.get(s.cdw10(), 7, 0);
        Fields.reservedZero("CDQ CDW10[15:8]", s.cdw10(), 0x0000ff00);
        return switch (sel) {
            case SEL_CREATE -> {
                Fields.reservedZero("CDQ create MOS[15:8]", s.cdw10(), 0xff000000);
                Fields.reservedZero("CDQ create CDW11[15:1]", s.cdw11(), 0x0000fffe);
                yield new Create(Fields.get(s.cdw10(), 23, 16), (s.cdw11() & 1) != 0, s.cdw11() >>> 16,
                        Integer.toUnsignedLong(s.cdw12()), s.prp1());
            }
            case SEL_DELETE -> {
                Fields.reservedZero("CDQ delete MOS", s.cdw10(), 0xffff0000);
                Fields.reservedZero("CDQ delete CDW11[31:16]", s.cdw11(), 0xffff0000);
                yield new Delete(s.cdw11() & 0xffff);
            }
            default -> throw new IllegalArgumentException("CDQ SEL " + sel + " is not defined (0 create, 1 delete)");
        };
    }
}
