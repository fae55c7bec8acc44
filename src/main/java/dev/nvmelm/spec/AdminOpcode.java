package dev.nvmelm.spec;

import java.util.Optional;

/**
 * Admin command opcodes that nvme-lm builds or names (NVMe Base 2.1, section 5), including
 * the Host Managed Live Migration ones (docs/spec.md, "Opcodes"). A separate type from {@link IoOpcode}
 * because the two value spaces overlap (Delete I/O Submission Queue and Flush are both 00h): the
 * compiler keeps an admin opcode out of an I/O command. The wire form is the byte {@link #value()}
 * in SQE CDW0 bits 7:0.
 */
public enum AdminOpcode implements Opcode {
    DELETE_IO_SQ(0x00, "Delete I/O Submission Queue"),
    CREATE_IO_SQ(0x01, "Create I/O Submission Queue"),
    GET_LOG_PAGE(0x02, "Get Log Page"),
    DELETE_IO_CQ(0x04, "Delete I/O Completion Queue"),
    CREATE_IO_CQ(0x05, "Create I/O Completion Queue"),
    IDENTIFY(0x06, "Identify"),
    ABORT(0x08, "Abort"),
    SET_FEATURES(0x09, "Set Features"),
    GET_FEATURES(0x0a, "Get Features"),
    ASYNC_EVENT_REQUEST(0x0c, "Asynchronous Event Request"),
    TRACK_SEND(0x3d, "Track Send"),
    TRACK_RECEIVE(0x3e, "Track Receive"),
    MIGRATION_SEND(0x41, "Migration Send"),
    MIGRATION_RECEIVE(0x42, "Migration Receive"),
    CONTROLLER_DATA_QUEUE(0x45, "Controller Data Queue"),
    DOORBELL_BUFFER_CONFIG(0x7c, "Doorbell Buffer Config"),
    FORMAT_NVM(0x80, "Format NVM"),
    SANITIZE(0x84, "Sanitize"),
    GET_LBA_STATUS(0x86, "Get LBA Status");

    private static final Object[] BY_VALUE = Opcode.table(values());

    private final int value;
    private final String specName;

    AdminOpcode(int value, String specName) {
        this.value = value;
        this.specName = specName;
    }

    @Override
    public int value() { return value; }

    @Override
    public String specName() { return specName; }

    /**
     * The admin opcode a raw byte from the wire names; empty for one nvme-lm does not know, which a
     * controller answers with Invalid Command Opcode (NVMe Base 2.1, generic status 01h).
     */
    public static Optional<AdminOpcode> of(int value) {
        return Opcode.lookup(BY_VALUE, value);
    }
}
