package dev.nvmelm.spec;

import java.util.Map;

/**
 * Status code names and descriptions exactly as libnvme's {@code nvme_status_to_string()}
 * prints them ("Name: Description", or the name alone where libnvme has no description), for
 * the codes nvme-lm's controller returns or the host may meet. libnvme's names are not always
 * the spec's (it prints "PRP Offset Invalid" for 13h, as the spec names it, but other codes
 * differ in wording); docs/spec.md, "Status codes", lists them. The HMLM codes are SCT 1h,
 * SC 37h..3Bh (NVMe Base 2.1, the Command Specific Status Values figures of the Controller Data
 * Queue, Migration Send/Receive and Track Send commands).
 */
public final class StatusCodes {
    private StatusCodes() {}

    // Generic Command Status (SCT 0h)
    public static final int SUCCESS = 0x00, INVALID_OPCODE = 0x01, INVALID_FIELD = 0x02, CMDID_CONFLICT = 0x03,
            DATA_TRANSFER_ERROR = 0x04, POWER_LOSS = 0x05, INTERNAL = 0x06, ABORT_REQUESTED = 0x07,
            ABORT_SQ_DELETED = 0x08, INVALID_NS = 0x0b, CMD_SEQ_ERROR = 0x0c, PRP_OFFSET_INVALID = 0x13,
            LBA_RANGE = 0x80, CAPACITY_EXCEEDED = 0x81, NS_NOT_READY = 0x82;
    // Command Specific Status (SCT 1h)
    public static final int CQ_INVALID = 0x00, INVALID_QID = 0x01, INVALID_QSIZE = 0x02, ABORT_LIMIT = 0x03,
            AER_LIMIT = 0x05, INVALID_LOG_PAGE = 0x09, INVALID_FORMAT = 0x0a, FEATURE_NOT_SAVEABLE = 0x0d,
            FEATURE_NOT_CHANGEABLE = 0x0e, INVALID_QUEUE_DELETION = 0x0c, INVALID_CTRL_ID = 0x1f,
            INVALID_CDQ = 0x37, NOT_ENOUGH_RESOURCES = 0x38, CTRL_SUSPENDED = 0x39, CTRL_NOT_SUSPENDED = 0x3a,
            CDQ_FULL = 0x3b;
    // Command Specific Status, NVM Command Set (SCT 1h, SC 80h-): libnvme prints a name only
    public static final int CMD_SIZE_LIMIT_EXCEEDED = 0x83;

    private record Text(String name, String description) {}

    private static final Map<Integer, Text> GENERIC = Map.ofEntries(
            Map.entry(0x00, new Text("Successful Completion", "The command completed without error")),
            Map.entry(0x01, new Text("Invalid Command Opcode", "A reserved coded value or an unsupported value in the command opcode field")),
            Map.entry(0x02, new Text("Invalid Field in Command", "A reserved coded value or an unsupported value in a defined field")),
            Map.entry(0x03, new Text("Command ID Conflict", "The command identifier is already in use")),
            Map.entry(0x04, new Text("Data Transfer Error", "Transferring the data or metadata associated with a command experienced an error")),
            Map.entry(0x05, new Text("Commands Aborted due to Power Loss Notification", "Indicates that the command was aborted due to a power loss notification")),
            Map.entry(0x06, new Text("Internal Error", "The command was not completed successfully due to an internal error")),
            Map.entry(0x07, new Text("Command Abort Requested", "The command was aborted due to an Abort command")),
            Map.entry(0x08, new Text("Command Aborted due to SQ Deletion", "The command was aborted due to a Delete I/O Submission Queue")),
            Map.entry(0x0b, new Text("Invalid Namespace or Format", "The namespace or the format of that namespace is invalid")),
            // libnvme's text, its stray space included ("multi- command"): nvme-cli prints it so
            Map.entry(0x0c, new Text("Command Sequence Error", "The command was aborted due to a protocol violation in a multi- command sequence")),
            Map.entry(0x13, new Text("PRP Offset Invalid", "The Offset field for a PRP entry is invalid")),
            Map.entry(0x80, new Text("LBA Out of Range", "The command references an LBA that exceeds the size of the namespace")),
            Map.entry(0x81, new Text("Capacity Exceeded", "Execution of the command has caused the capacity of the namespace to be exceeded")),
            Map.entry(0x82, new Text("Namespace Not Ready", "The namespace is not ready to be accessed")));

    private static final Map<Integer, Text> COMMAND_SPECIFIC = Map.ofEntries(
            Map.entry(0x00, new Text("Completion Queue Invalid", "The Completion Queue identifier specified in the command does not exist")),
            Map.entry(0x01, new Text("Invalid Queue Identifier", "The creation of the I/O Completion Queue failed due to an invalid queue identifier specified as part of the command")),
            Map.entry(0x02, new Text("Invalid Queue Size", "The host attempted to create an I/O Completion Queue with an invalid number of entries")),
            Map.entry(0x03, new Text("Abort Command Limit Exceeded", "The number of concurrently outstanding Abort commands has exceeded the limit indicated in the Identify Controller data structure")),
            Map.entry(0x05, new Text("Asynchronous Event Request Limit Exceeded", "The number of concurrently outstanding Asynchronous Event Request commands has been exceeded")),
            Map.entry(0x09, new Text("Invalid Log Page", "The log page indicated is invalid")),
            Map.entry(0x0a, new Text("Invalid Format", "The LBA Format specified is not supported")),
            Map.entry(0x0c, new Text("Invalid Queue Deletion", "Invalid I/O Completion Queue specified to delete")),
            Map.entry(0x0d, new Text("Feature Identifier Not Saveable", "The Feature Identifier specified does not support a saveable value")),
            Map.entry(0x0e, new Text("Feature Not Changeable", "The Feature Identifier is not able to be changed")),
            Map.entry(0x1f, new Text("Invalid Controller Identifier", "An invalid controller id was specified")),
            // libnvme gives 37h, 38h and 3Bh a name only
            Map.entry(0x37, new Text("Invalid Controller Data Queue", "")),
            Map.entry(0x38, new Text("Not Enough Resources", "")),
            Map.entry(0x39, new Text("Controller Suspended", "Operation failed because the controller is currently in a suspended state")),
            Map.entry(0x3a, new Text("Controller Not Suspended", "Operation failed because the controller is not in a suspended state")),
            Map.entry(0x3b, new Text("Controller Data Queue Full", "")),
            Map.entry(0x83, new Text("Command Size Limit Exceeded", "")));

    private static Text lookup(int sct, int sc) {
        Text t = switch (sct) {
            case Status.SCT_GENERIC -> GENERIC.get(sc);
            case Status.SCT_COMMAND_SPECIFIC -> COMMAND_SPECIFIC.get(sc);
            default -> null;
        };
        return t != null ? t : new Text("Unknown", "Unknown status (SCT " + sct + "h SC " + Integer.toHexString(sc) + "h)");
    }

    public static String name(int sct, int sc) { return lookup(sct, sc).name(); }

    public static String description(int sct, int sc) { return lookup(sct, sc).description(); }

    /** "Name: Description", the text between "NVMe status: " and the hex value. */
    public static String text(int sct, int sc) {
        Text t = lookup(sct, sc);
        return t.description().isEmpty() ? t.name() : t.name() + ": " + t.description();
    }
}
