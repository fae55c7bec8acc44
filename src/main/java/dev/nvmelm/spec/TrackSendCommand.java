package dev.nvmelm.spec;

/**
 * Track Send, admin opcode 3Dh (NVMe Base 2.1, section 5.1.27; docs/spec.md, "Track Send"). CDW10: SEL 7:0 (0 Log User Data Changes,
 * 1 Track Memory Changes), MOS 31:16 with LACT = MOS[3:0] (0 stop, 1 start; 2-15 reserved).
 * CDW11[15:0] CDQID of the User Data Migration Queue. No data for SEL 0.
 */
public record TrackSendCommand(int sel, int lact, int cdqid) {
    public static final int SEL_LOG_USER_DATA = 0, SEL_TRACK_MEMORY = 1;
    public static final int LACT_STOP = 0, LACT_START = 1;

    public TrackSendCommand {
        Fields.unsigned("SEL", sel, 8);
        Fields.unsigned("LACT", lact, 4);
        Fields.unsigned("CDQID", cdqid, 16);
    }

    public static TrackSendCommand start(int cdqid) {
        return new TrackSendCommand(SEL_LOG_USER_DATA, LACT_START, cdqid);
    }

    public static TrackSendCommand stop(int cdqid) {
        return new TrackSendCommand(SEL_LOG_USER_DATA, LACT_STOP, cdqid);
    }

    public Sqe toSqe() {
        return Sqe.of(AdminOpcode.TRACK_SEND).withCdw10(sel | lact << 16).withCdw11(cdqid);
    }

    public static TrackSendCommand decode(Sqe s) {
        if (!AdminOpcode.TRACK_SEND.isOpcodeOf(s)) throw new IllegalArgumentException("not a Track Send command");
        Fields.reservedZero("Track Send CDW10[15:8]", s.cdw10(), 0x0000ff00);
        Fields.reservedZero("Track Send MOS[15:4]", s.cdw10(), 0xfff00000);
        Fields.reservedZero("Track Send CDW11[31:16]", s.cdw11(), 0xffff0000);
        return new TrackSendCommand(Fields.get(s.cdw10(), 7, 0), Fields.get(s.cdw10(), 19, 16), s.cdw11() & 0xffff);
    }
}
