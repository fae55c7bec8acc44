package dev.nvmelm.spec;

import java.util.Optional;

/**
 * NVM Command Set I/O opcodes that nvme-lm builds or names (NVM Command Set 1.1, section 3;
 * Flush from NVMe Base 2.1, section 7). A separate type from {@link AdminOpcode} because their values
 * overlap (Flush 00h is Delete I/O Submission Queue on the admin queue). The wire form is the byte
 * {@link #value()} in SQE CDW0 bits 7:0.
 */
public enum IoOpcode implements Opcode {
    FLUSH(0x00, "Flush"),
    WRITE(0x01, "Write"),
    READ(0x02, "Read"),
    WRITE_UNCORRECTABLE(0x04, "Write Uncorrectable"),
    COMPARE(0x05, "Compare"),
    WRITE_ZEROES(0x08, "Write Zeroes"),
    DATASET_MANAGEMENT(0x09, "Dataset Management"),
    COPY(0x19, "Copy");

    private static final Object[] BY_VALUE = Opcode.table(values());

    private final int value;
    private final String specName;

    IoOpcode(int value, String specName) {
        this.value = value;
        this.specName = specName;
    }

    @Override
    public int value() { return value; }

    @Override
    public String specName() { return specName; }

    /**
     * The I/O opcode a raw byte from the wire names; empty for one nvme-lm does not know, which a
     * controller answers with Invalid Command Opcode (NVMe Base 2.1, generic status 01h).
     */
    public static Optional<IoOpcode> of(int value) {
        return Opcode.lookup(BY_VALUE, value);
    }
}
