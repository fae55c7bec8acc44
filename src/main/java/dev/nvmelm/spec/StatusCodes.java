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
    public static final StatusCode SUCCESS = StatusCode.generic(0x00);
    public static final StatusCode INVALID_OPCODE = StatusCode.generic(0x01);
    public static final StatusCode INVALID_FIELD = StatusCode.generic(0x02);
    public static final StatusCode CMDID_CONFLICT = StatusCode.generic(0x03);
    public static final StatusCode DATA_TRANSFER_ERROR = StatusCode.generic(0x04);
    public static final StatusCode POWER_LOSS = StatusCode.generic(0x05);
    public static final StatusCode INTERNAL = StatusCode.generic(0x06);
    public static final StatusCode ABORT_REQUESTED = StatusCode.generic(0x07);
    public static final StatusCode ABORT_SQ_DELETED = StatusCode.generic(0x08);
    public static final StatusCode INVALID_NS = StatusCode.generic(0x0b);
    public static final StatusCode CMD_SEQ_ERROR = StatusCode.generic(0x0c);
    public static final StatusCode PRP_OFFSET_INVALID = StatusCode.generic(0x13);
    public static final StatusCode LBA_RANGE = StatusCode.generic(0x80);
    public static final StatusCode CAPACITY_EXCEEDED = StatusCode.generic(0x81);
    public static final StatusCode NS_NOT_READY = StatusCode.generic(0x82);
    // Command Specific Status (SCT 1h)
    public static final StatusCode CQ_INVALID = StatusCode.commandSpecific(0x00);
    public static final StatusCode INVALID_QID = StatusCode.commandSpecific(0x01);
    public static final StatusCode INVALID_QSIZE = StatusCode.commandSpecific(0x02);
    public static final StatusCode ABORT_LIMIT = StatusCode.commandSpecific(0x03);
    public static final StatusCode AER_LIMIT = StatusCode.commandSpecific(0x05);
    public static final StatusCode INVALID_LOG_PAGE = StatusCode.commandSpecific(0x09);
    public static final StatusCode INVALID_FORMAT = StatusCode.commandSpecific(0x0a);
    public static final StatusCode FEATURE_NOT_SAVEABLE = StatusCode.commandSpecific(0x0d);
    public static final StatusCode FEATURE_NOT_CHANGEABLE = StatusCode.commandSpecific(0x0e);
    public static final StatusCode INVALID_QUEUE_DELETION = StatusCode.commandSpecific(0x0c);
    public static final StatusCode INVALID_CTRL_ID = StatusCode.commandSpecific(0x1f);
    public static final StatusCode INVALID_CDQ = StatusCode.commandSpecific(0x37);
    public static final StatusCode NOT_ENOUGH_RESOURCES = StatusCode.commandSpecific(0x38);
    public static final StatusCode CTRL_SUSPENDED = StatusCode.commandSpecific(0x39);
    public static final StatusCode CTRL_NOT_SUSPENDED = StatusCode.commandSpecific(0x3a);
    public static final StatusCode CDQ_FULL = StatusCode.commandSpecific(0x3b);
    // Command Specific Status, NVM Command Set (SCT 1h, SC 80h-): libnvme prints a name only
    public static final StatusCode CMD_SIZE_LIMIT_EXCEEDED = StatusCode.commandSpecific(0x83);

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
            case 0 -> GENERIC.get(sc);   // StatusCodeType.GENERIC
            case 1 -> COMMAND_SPECIFIC.get(sc);   // StatusCodeType.COMMAND_SPECIFIC
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
