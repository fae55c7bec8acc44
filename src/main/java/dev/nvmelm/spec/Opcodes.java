package dev.nvmelm.spec;

/**
 * Admin and NVM I/O command opcodes (NVMe Base 2.1, section 5; NVM Command Set, section 3), including the
 * Host Managed Live Migration ones (docs/spec.md, "Opcodes"). Bits 1:0 give the data
 * direction: 01b host to controller, 10b controller to host.
 */
public final class Opcodes {
    private Opcodes() {}

    // Admin
    public static final int DELETE_IO_SQ = 0x00, CREATE_IO_SQ = 0x01, GET_LOG_PAGE = 0x02, DELETE_IO_CQ = 0x04,
            CREATE_IO_CQ = 0x05, IDENTIFY = 0x06, ABORT = 0x08, SET_FEATURES = 0x09, GET_FEATURES = 0x0a,
            ASYNC_EVENT_REQUEST = 0x0c, TRACK_SEND = 0x3d, TRACK_RECEIVE = 0x3e, MIGRATION_SEND = 0x41,
            MIGRATION_RECEIVE = 0x42, CONTROLLER_DATA_QUEUE = 0x45, FORMAT_NVM = 0x80, SANITIZE = 0x84, GET_LBA_STATUS = 0x86;
    // NVM I/O
    public static final int FLUSH = 0x00, WRITE = 0x01, READ = 0x02, WRITE_UNCORRECTABLE = 0x04, COMPARE = 0x05,
            WRITE_ZEROES = 0x08, DATASET_MANAGEMENT = 0x09, COPY = 0x19;

    /** Data transfer direction from opcode bits 1:0. */
    public enum Direction { NONE, HOST_TO_CONTROLLER, CONTROLLER_TO_HOST, BIDIRECTIONAL }

    public static Direction direction(int opcode) {
        return Direction.values()[opcode & 3];
    }

    public static String adminName(int opcode) {
        return switch (opcode) {
            case DELETE_IO_SQ -> "Delete I/O Submission Queue";
            case CREATE_IO_SQ -> "Create I/O Submission Queue";
            case GET_LOG_PAGE -> "Get Log Page";
            case DELETE_IO_CQ -> "Delete I/O Completion Queue";
            case CREATE_IO_CQ -> "Create I/O Completion Queue";
            case IDENTIFY -> "Identify";
            case ABORT -> "Abort";
            case SET_FEATURES -> "Set Features";
            case GET_FEATURES -> "Get Features";
            case ASYNC_EVENT_REQUEST -> "Asynchronous Event Request";
            case TRACK_SEND -> "Track Send";
            case TRACK_RECEIVE -> "Track Receive";
            case MIGRATION_SEND -> "Migration Send";
            case MIGRATION_RECEIVE -> "Migration Receive";
            case CONTROLLER_DATA_QUEUE -> "Controller Data Queue";
            case FORMAT_NVM -> "Format NVM";
            case SANITIZE -> "Sanitize";
            case GET_LBA_STATUS -> "Get LBA Status";
            default -> "Unknown";
        };
    }
}
