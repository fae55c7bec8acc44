package dev.nvmelm.spec;

/** Standard admin commands the host driver and the controller exchange (NVMe Base 2.1, section 5). */
public final class AdminCommands {
    private AdminCommands() {}

    public static final int CNS_NAMESPACE = 0x00, CNS_CONTROLLER = 0x01, CNS_ACTIVE_NS_LIST = 0x02,
            CNS_CS_NAMESPACE = 0x05, CNS_CS_CONTROLLER = 0x06, CNS_CONTROLLER_STATE_FORMATS = 0x20;
    public static final int FID_NUMBER_OF_QUEUES = 0x07, FID_ASYNC_EVENT_CONFIG = 0x0b;
    public static final int LID_ERROR = 0x01, LID_COMMANDS_SUPPORTED = 0x05;

    /** Identify (06h): CDW10 CNS 7:0, CNTID 31:16; CDW11 CSI 31:24. NVMe Base 2.1, section 5.1.13. */
    public record Identify(int cns, int cntid, int nsid, int csi) {
        public Identify {
            Fields.unsigned("CNS", cns, 8);
            Fields.unsigned("CNTID", cntid, 16);
            Fields.unsigned("CSI", csi, 8);
        }

        public Sqe toSqe() {
            return Sqe.of(AdminOpcode.IDENTIFY).withNsid(nsid).withCdw10(cns | cntid << 16).withCdw11(csi << 24);
        }

        public static Identify decode(Sqe s) {
            return new Identify(s.cdw10() & 0xff, s.cdw10() >>> 16, s.nsid(), s.cdw11() >>> 24);
        }
    }

    /** Create I/O Completion Queue (05h): CDW10 QID 15:0, QSIZE 31:16 (0's based); CDW11 PC 0, IEN 1, IV 31:16. */
    public record CreateIoCq(int qid, int qsizeZeroBased, boolean physicallyContiguous, boolean interruptsEnabled,
                             int interruptVector, long prp1) {
        public CreateIoCq {
            Fields.unsigned("QID", qid, 16);
            Fields.unsigned("QSIZE", qsizeZeroBased, 16);
            Fields.unsigned("IV", interruptVector, 16);
        }

        public Sqe toSqe() {
            return Sqe.of(AdminOpcode.CREATE_IO_CQ).withPrp(prp1, 0).withCdw10(qid | qsizeZeroBased << 16)
                    .withCdw11((physicallyContiguous ? 1 : 0) | (interruptsEnabled ? 2 : 0) | interruptVector << 16);
        }

        public static CreateIoCq decode(Sqe s) {
            Fields.reservedZero("Create I/O CQ CDW11[15:2]", s.cdw11(), 0x0000fffc);
            return new CreateIoCq(s.cdw10() & 0xffff, s.cdw10() >>> 16, (s.cdw11() & 1) != 0, (s.cdw11() & 2) != 0,
                    s.cdw11() >>> 16, s.prp1());
        }
    }

    /** Create I/O Submission Queue (01h): CDW10 QID, QSIZE; CDW11 PC 0, QPRIO 2:1, CQID 31:16. */
    public record CreateIoSq(int qid, int qsizeZeroBased, boolean physicallyContiguous, int qprio, int cqid, long prp1) {
        public CreateIoSq {
            Fields.unsigned("QID", qid, 16);
            Fields.unsigned("QSIZE", qsizeZeroBased, 16);
            Fields.unsigned("QPRIO", qprio, 2);
            Fields.unsigned("CQID", cqid, 16);
        }

        public Sqe toSqe() {
            return Sqe.of(AdminOpcode.CREATE_IO_SQ).withPrp(prp1, 0).withCdw10(qid | qsizeZeroBased << 16)
                    .withCdw11((physicallyContiguous ? 1 : 0) | qprio << 1 | cqid << 16);
        }

        public static CreateIoSq decode(Sqe s) {
            Fields.reservedZero("Create I/O SQ CDW11[15:3]", s.cdw11(), 0x0000fff8);
            return new CreateIoSq(s.cdw10() & 0xffff, s.cdw10() >>> 16, (s.cdw11() & 1) != 0, (s.cdw11() >>> 1) & 3,
                    s.cdw11() >>> 16, s.prp1());
        }
    }

    public static Sqe deleteIoSq(int qid) {
        return Sqe.of(AdminOpcode.DELETE_IO_SQ).withCdw10(Fields.u("QID", qid, 16));
    }

    public static Sqe deleteIoCq(int qid) {
        return Sqe.of(AdminOpcode.DELETE_IO_CQ).withCdw10(Fields.u("QID", qid, 16));
    }

    /** Get Log Page (02h): CDW10 LID 7:0, NUMDL 31:16; CDW11 NUMDU 15:0; CDW12/13 offset. NUMD 0's based. */
    public record GetLogPage(int lid, int nsid, long numdZeroBased, long offsetBytes) {
        public GetLogPage {
            Fields.unsigned("LID", lid, 8);
            Fields.unsigned("NUMD", numdZeroBased, 32);
        }

        public long lengthBytes() {
            return (numdZeroBased + 1) * 4;
        }

        public Sqe toSqe() {
            return Sqe.of(AdminOpcode.GET_LOG_PAGE).withNsid(nsid).withCdw10(lid | (int) (numdZeroBased & 0xffff) << 16)
                    .withCdw11((int) (numdZeroBased >>> 16)).withCdw12((int) offsetBytes).withCdw13((int) (offsetBytes >>> 32));
        }

        public static GetLogPage forBytes(int lid, int nsid, long lengthBytes) {
            return new GetLogPage(lid, nsid, lengthBytes / 4 - 1, 0);
        }

        public static GetLogPage decode(Sqe s) {
            long numd = (s.cdw10() >>> 16) | (long) (s.cdw11() & 0xffff) << 16;
            return new GetLogPage(s.cdw10() & 0xff, s.nsid(), numd, Integer.toUnsignedLong(s.cdw12()) | (long) s.cdw13() << 32);
        }
    }

    /** Set Features (09h) for a feature whose value is CDW11 (and CDW12..15 left 0). */
    public static Sqe setFeatures(int fid, int cdw11) {
        return Sqe.of(AdminOpcode.SET_FEATURES).withCdw10(Fields.u("FID", fid, 8)).withCdw11(cdw11);
    }

    public static Sqe getFeatures(int fid, int cdw11) {
        return Sqe.of(AdminOpcode.GET_FEATURES).withCdw10(Fields.u("FID", fid, 8)).withCdw11(cdw11);
    }

    /** Number of Queues (FID 07h): CDW11 NSQR 15:0, NCQR 31:16, both 0's based. */
    public static Sqe numberOfQueues(int sqs, int cqs) {
        return setFeatures(FID_NUMBER_OF_QUEUES, Fields.u("NSQR", sqs - 1, 16) | Fields.u("NCQR", cqs - 1, 16) << 16);
    }

    public static Sqe asyncEventRequest() {
        return Sqe.of(AdminOpcode.ASYNC_EVENT_REQUEST);
    }

    /**
     * Format NVM (80h), NVMe Base 2.1, section 5.1.10: CDW10 LBAFL 3:0, MSET 4, PI 7:5, PIL 8, SES 11:9
     * (0 no secure erase, 1 user data erase, 2 cryptographic erase), LBAFU 13:12.
     */
    public record FormatNvm(int nsid, int lbaf, boolean mset, int pi, boolean pil, int ses) {
        public static final int SES_NONE = 0, SES_USER_DATA = 1, SES_CRYPTO = 2;

        public FormatNvm {
            Fields.unsigned("LBAF", lbaf, 6);
            Fields.unsigned("PI", pi, 3);
            Fields.unsigned("SES", ses, 3);
        }

        public Sqe toSqe() {
            return Sqe.of(AdminOpcode.FORMAT_NVM).withNsid(nsid).withCdw10((lbaf & 0xf) | (mset ? 1 << 4 : 0) | pi << 5 | (pil ? 1 << 8 : 0)
                    | ses << 9 | (lbaf >>> 4) << 12);
        }

        public static FormatNvm decode(Sqe s) {
            int d = s.cdw10();
            Fields.reservedZero("Format NVM CDW10[31:14]", d, 0xffffc000);
            return new FormatNvm(s.nsid(), (d & 0xf) | ((d >>> 12) & 3) << 4, (d & 1 << 4) != 0, (d >>> 5) & 7, (d & 1 << 8) != 0, (d >>> 9) & 7);
        }
    }

    /** Sanitize (84h), NVMe Base 2.1, section 5.1.22: CDW10 SANACT 2:0 (1 exit failure mode, 2 block erase, 3 overwrite, 4 crypto erase), AUSE 3, OWPASS 7:4, OIPBP 8, NDAS 9; CDW11 overwrite pattern. */
    public record Sanitize(int sanact, boolean ause, int owpass, boolean oipbp, boolean ndas, int overwritePattern) {
        public static final int EXIT_FAILURE = 1, BLOCK_ERASE = 2, OVERWRITE = 3, CRYPTO_ERASE = 4;

        public Sanitize {
            Fields.unsigned("SANACT", sanact, 3);
            Fields.unsigned("OWPASS", owpass, 4);
        }

        public Sqe toSqe() {
            return Sqe.of(AdminOpcode.SANITIZE).withCdw10(sanact | (ause ? 1 << 3 : 0) | owpass << 4 | (oipbp ? 1 << 8 : 0) | (ndas ? 1 << 9 : 0))
                    .withCdw11(overwritePattern);
        }

        public static Sanitize decode(Sqe s) {
            int d = s.cdw10();
            Fields.reservedZero("Sanitize CDW10[31:10]", d, 0xfffffc00);
            return new Sanitize(d & 7, (d & 1 << 3) != 0, (d >>> 4) & 0xf, (d & 1 << 8) != 0, (d & 1 << 9) != 0, s.cdw11());
        }
    }
}
