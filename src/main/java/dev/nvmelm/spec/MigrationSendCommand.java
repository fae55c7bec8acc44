package dev.nvmelm.spec;

/**
 * Migration Send, admin opcode 41h (NVMe Base 2.1, section 5.1.17). CDW10 SEL 7:0: 0 Suspend, 1 Resume,
 * 2 Set Controller State (NV's RFC uses 2/3; see {@link Disagreements}). CDW14[6:0] UIDX.
 */
public sealed interface MigrationSendCommand {
    int SEL_SUSPEND = 0, SEL_RESUME = 1, SEL_SET_CONTROLLER_STATE = 2;
    int STYPE_NOTIFICATION = 0, STYPE_SUSPEND = 1;
    int SEQIND_MIDDLE = 0, SEQIND_FIRST = 1, SEQIND_LAST = 2, SEQIND_ENTIRE = 3;

    Sqe toSqe();

    int cntlid();

    /** NVMe Base 2.1, Figure 351: CDW11 CNTLID 15:0, STYPE 23:16, 30:24 reserved, DUDMQ bit 31. */
    record Suspend(int cntlid, int stype, boolean dudmq, int uidx) implements MigrationSendCommand {
        public Suspend {
            Fields.unsigned("CNTLID", cntlid, 16);
            Fields.unsigned("STYPE", stype, 8);
            Fields.unsigned("UIDX", uidx, 7);
        }

        @Override
        public Sqe toSqe() {
            return Sqe.of(AdminOpcode.MIGRATION_SEND).withCdw10(SEL_SUSPEND)
                    .withCdw11(cntlid | stype << 16 | (dudmq ? 1 << 31 : 0)).withCdw14(uidx);
        }
    }

    /** NVMe Base 2.1, section 5.1.17.1.2: CDW11 CNTLID 15:0. */
    record Resume(int cntlid, int uidx) implements MigrationSendCommand {
        public Resume {
            Fields.unsigned("CNTLID", cntlid, 16);
            Fields.unsigned("UIDX", uidx, 7);
        }

        @Override
        public Sqe toSqe() {
            return Sqe.of(AdminOpcode.MIGRATION_SEND).withCdw10(SEL_RESUME).withCdw11(cntlid).withCdw14(uidx);
        }
    }

    /**
     * NVMe Base 2.1, section 5.1.17.1.3: CDW10 SEQIND = MOS[1:0] (bits 17:16); CDW11 CNTLID 15:0, CSVI 23:16, CSUUIDI 31:24;
     * CDW12/13 offset in bytes; CDW15 NUMD, a dword count (not 0's based, see
     * {@link Disagreements#MIGRATION_SEND_NUMD}).
     */
    record SetControllerState(int cntlid, int seqind, int csvi, int csuuidi, long offsetBytes, int uidx, int numd)
            implements MigrationSendCommand {
        public SetControllerState {
            Fields.unsigned("CNTLID", cntlid, 16);
            Fields.unsigned("SEQIND", seqind, 2);
            Fields.unsigned("CSVI", csvi, 8);
            Fields.unsigned("CSUUIDI", csuuidi, 8);
            Fields.unsigned("offset", offsetBytes, 63);
            Fields.unsigned("UIDX", uidx, 7);
        }

        /** Bytes carried by this command. */
        public long lengthBytes() {
            return Disagreements.migrationSendDwords(numd) * 4;
        }

        @Override
        public Sqe toSqe() {
            return Sqe.of(AdminOpcode.MIGRATION_SEND).withCdw10(SEL_SET_CONTROLLER_STATE | seqind << 16)
                    .withCdw11(cntlid | csvi << 16 | csuuidi << 24)
                    .withCdw12((int) offsetBytes).withCdw13((int) (offsetBytes >>> 32))
                    .withCdw14(uidx).withCdw15(numd);
        }
    }

    static MigrationSendCommand decode(Sqe s) {
        if (!AdminOpcode.MIGRATION_SEND.isOpcodeOf(s)) throw new IllegalArgumentException("not a Migration Send command");
        int sel = Fields.get(s.cdw10(), 7, 0);
        Fields.reservedZero("Migration Send CDW10[15:8]", s.cdw10(), 0x0000ff00);
        Fields.reservedZero("Migration Send CDW14[31:7]", s.cdw14(), 0xffffff80);
        int uidx = s.cdw14() & 0x7f;
        return switch (sel) {
            case SEL_SUSPEND -> {
                Fields.reservedZero("Suspend MOS", s.cdw10(), 0xffff0000);
                Fields.reservedZero("Suspend CDW11[30:24]", s.cdw11(), 0x7f000000);
                yield new Suspend(s.cdw11() & 0xffff, Fields.get(s.cdw11(), 23, 16), s.cdw11() < 0, uidx);
            }
            case SEL_RESUME -> {
                Fields.reservedZero("Resume MOS", s.cdw10(), 0xffff0000);
                Fields.reservedZero("Resume CDW11[31:16]", s.cdw11(), 0xffff0000);
                yield new Resume(s.cdw11() & 0xffff, uidx);
            }
            case SEL_SET_CONTROLLER_STATE -> {
                Fields.reservedZero("Set Controller State MOS[15:2]", s.cdw10(), 0xfffc0000);
                long offset = Integer.toUnsignedLong(s.cdw12()) | (long) s.cdw13() << 32;
                if (offset < 0) throw new IllegalArgumentException("Set Controller State offset exceeds 2^63");
                yield new SetControllerState(s.cdw11() & 0xffff, Fields.get(s.cdw10(), 17, 16), Fields.get(s.cdw11(), 23, 16),
                        s.cdw11() >>> 24, offset, uidx, s.cdw15());
            }
            default -> throw new IllegalArgumentException("Migration Send SEL " + sel + " is not defined (0 Suspend, 1 Resume, 2 Set Controller State)");
        };
    }
}
