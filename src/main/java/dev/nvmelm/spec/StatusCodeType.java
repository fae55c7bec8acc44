package dev.nvmelm.spec;

import java.util.Optional;

/**
 * Status Code Type, CQE Status Field bits 10:8 (NVMe Base 2.1, section 4.2.3): the space a Status
 * Code is drawn from. The same SC means different things in different types (SC 02h is Invalid Field
 * in Command as a generic status, Invalid Queue Size as a command specific one), so a
 * {@link StatusCode} always carries its type. Values 4h-6h are reserved.
 */
public enum StatusCodeType {
    GENERIC(0), COMMAND_SPECIFIC(1), MEDIA_AND_DATA_INTEGRITY(2), PATH_RELATED(3), VENDOR_SPECIFIC(7);

    private final int value;

    StatusCodeType(int value) {
        this.value = value;
    }

    /** The 3-bit SCT value. */
    public int value() { return value; }

    /** The type a raw SCT from the wire names; empty for a reserved value. */
    public static Optional<StatusCodeType> of(int sct) {
        for (StatusCodeType t : values()) if (t.value == sct) return Optional.of(t);
        return Optional.empty();
    }
}
