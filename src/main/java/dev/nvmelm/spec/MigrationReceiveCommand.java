package dev.nvmelm.spec;

/**
 * Migration Receive, admin opcode 42h, SEL 0 Get Controller State (NVMe Base 2.1, section 5.1.16, Figures 345-347).
 * CDW10: SEL 7:0, CSVI = MOS[7:0] (bits 23:16, 1-based). CDW11: CNTLID 15:0, CSUUIDI 23:16,
 * CSUIDXP 31:24. CDW12/13 offset in bytes. CDW14[6:0] UIDX. CDW15 NUMD, 0's based.
 * CQE DW0 bit 0 = CSUP (controller suspended).
 */
public record MigrationReceiveCommand(int cntlid, int csvi, int csuuidi, int csuidxp, long offsetBytes, int uidx, int numd) {
    public static final int SEL_GET_CONTROLLER_STATE = 0;
    public static final int CSUP = 1;

    public MigrationReceiveCommand {
        Fields.unsigned("CNTLID", cntlid, 16);
        Fields.unsigned("CSVI", csvi, 8);
        Fields.unsigned("CSUUIDI", csuuidi, 8);
        Fields.unsigned("CSUIDXP", csuidxp, 8);
        Fields.unsigned("offset", offsetBytes, 63);
        Fields.unsigned("UIDX", uidx, 7);
    }

    /** Bytes transferred: (NUMD + 1) * 4. */
    public long lengthBytes() {
        return (Integer.toUnsignedLong(numd) + 1) * 4;
    }

    /** A command reading {@code lengthBytes} (a positive multiple of 4) at {@code offsetBytes}. */
    public static MigrationReceiveCommand read(int cntlid, int csvi, long offsetBytes, long lengthBytes) {
        if (lengthBytes <= 0 || lengthBytes % 4 != 0 || lengthBytes / 4 - 1 > 0xffffffffL) {
            throw new IllegalArgumentException("Get Controller State length " + lengthBytes + " must be a positive multiple of 4");
        }
        return new MigrationReceiveCommand(cntlid, csvi, 0, 0, offsetBytes, 0, (int) (lengthBytes / 4 - 1));
    }

    public Sqe toSqe() {
        return Sqe.of(AdminOpcode.MIGRATION_RECEIVE).withCdw10(SEL_GET_CONTROLLER_STATE | csvi << 16)
                .withCdw11(cntlid | csuuidi << 16 | csuidxp << 24)
                .withCdw12((int) offsetBytes).withCdw13((int) (offsetBytes >>> 32)).withCdw14(uidx).withCdw15(numd);
    }

    public static MigrationReceiveCommand decode(Sqe s) {
        if (!AdminOpcode.MIGRATION_RECEIVE.isOpcodeOf(s)) throw new IllegalArgumentException("not a Migration Receive command");
        int sel = Fields.get(s.cdw10(), 7, 0);
        if (sel != SEL_GET_CONTROLLER_STATE) throw new IllegalArgumentException("Migration Receive SEL " + sel + " is not defined (0 Get Controller State)");
        Fields.reservedZero("Migration Receive CDW10[15:8]", s.cdw10(), 0x0000ff00);
        Fields.reservedZero("Migration Receive MOS[15:8]", s.cdw10(), 0xff000000);
        Fields.reservedZero("Migration Receive CDW14[31:7]", s.cdw14(), 0xffffff80);
        long offset = Integer.toUnsignedLong(s.cdw12()) | (long) s.cdw13() << 32;
        if (offset < 0) throw new IllegalArgumentException("Get Controller State offset exceeds 2^63");
        return new MigrationReceiveCommand(s.cdw11() & 0xffff, Fields.get(s.cdw10(), 23, 16), Fields.get(s.cdw11(), 23, 16),
                s.cdw11() >>> 24, offset, s.cdw14() & 0x7f, s.cdw15());
    }
}
