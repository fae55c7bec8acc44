package dev.nvmelm.spec;

/**
 * A status as the pair (Status Code Type, Status Code) that identifies it (NVMe Base 2.1, section
 * 4.2.3): command specific 37h (Invalid Controller Data Queue) and a generic 37h are different values
 * of this type, so one cannot stand for the other. {@link Status} adds the CQE's CRD, M and DNR bits.
 */
public record StatusCode(StatusCodeType type, int sc) {
    public StatusCode {
        if (type == null) throw new IllegalArgumentException("status code type missing");
        Fields.unsigned("SC", sc, 8);
    }

    /** A Generic Command Status (SCT 0h). */
    public static StatusCode generic(int sc) { return new StatusCode(StatusCodeType.GENERIC, sc); }

    /** A Command Specific Status (SCT 1h). */
    public static StatusCode commandSpecific(int sc) { return new StatusCode(StatusCodeType.COMMAND_SPECIFIC, sc); }

    /** libnvme's name for it, "Unknown" where nvme-lm has none. */
    public String name() { return StatusCodes.name(type.value(), sc); }

    @Override
    public String toString() {
        return name() + " (SCT " + type.value() + "h SC " + Integer.toHexString(sc) + "h)";
    }
}
