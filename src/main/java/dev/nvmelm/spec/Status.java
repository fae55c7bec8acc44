package dev.nvmelm.spec;

/**
 * The 15-bit Status Field of a CQE (NVMe Base 2.1, section 4.2.3): SC 7:0, SCT 10:8, CRD 12:11,
 * M (More) 13, DNR 14. {@link #field()} is the value Linux passthrough returns and nvme-cli
 * prints, e.g. 0x4137 for Invalid Controller Data Queue with DNR.
 */
public record Status(int sct, int sc, int crd, boolean more, boolean dnr) {

    public static final Status SUCCESS = new Status(0, 0, 0, false, false);

    public Status {
        Fields.unsigned("SCT", sct, 3);
        Fields.unsigned("SC", sc, 8);
        Fields.unsigned("CRD", crd, 2);
    }

    /** A status with DNR set: the controller's answer for every permanent error. */
    public static Status dnr(StatusCode code) {
        return new Status(code.type().value(), code.sc(), 0, false, true);
    }

    public static Status fromField(int field) {
        Fields.unsigned("status field", field, 15);
        return new Status((field >>> 8) & 7, field & 0xff, (field >>> 11) & 3, (field & 1 << 13) != 0, (field & 1 << 14) != 0);
    }

    public int field() {
        return sc | sct << 8 | crd << 11 | (more ? 1 << 13 : 0) | (dnr ? 1 << 14 : 0);
    }

    public boolean isSuccess() {
        return sct == 0 && sc == 0;
    }

    /** Same status code type and status code, ignoring DNR/M/CRD. */
    public boolean is(StatusCode code) {
        return sct == code.type().value() && sc == code.sc();
    }

    public String name() {
        return StatusCodes.name(sct, sc);
    }

    public String description() {
        return StatusCodes.description(sct, sc);
    }

    /** nvme-cli's line: {@code NVMe status: <name>: <description>(0x<field>)}. */
    public String toNvmeCliString() {
        return "NVMe status: " + StatusCodes.text(sct, sc) + "(0x" + Integer.toHexString(field()) + ")";
    }

    @Override
    public String toString() {
        return name() + " (SCT " + sct + "h SC " + Integer.toHexString(sc) + "h" + (dnr ? ", DNR" : "") + ")";
    }
}
