package dev.nvmelm.spec;

import java.util.Map;
import java.util.Set;

/**
 * Which command may return which of the Host Managed Live Migration command specific statuses
 * (SCT 1h: 1Fh and 37h-3Bh), as the ratified text assigns them: the "Commands Affected" column of
 * NVMe Base 2.1, Figure 103 (page 168; the same in Base 2.2, Figure 103), together with each
 * command's own status figure where it lists more: Migration Send, Figure 362 (page 383: 1Fh, 37h,
 * 38h, 3Ah); Migration Receive, Figure 348 (page 375: 1Fh); Controller Data Queue, Figure 169
 * (page 210: 1Fh, 37h); Set Features, Figure 456 (37h); Sanitize, Figure 374 (page 390: 39h).
 *
 * <p>Two places where the figures disagree: Figure 103 gives 3Ah Controller Not Suspended to Track
 * Send only, while Figure 362 lists it for Migration Send (and section 5.1.17.1 uses it for
 * Resume and Set Controller State), so both are allowed; and 3Bh Controller Data Queue Full is
 * Track Send's alone in both, which is why a Suspend or Resume that answers 3Bh departs from the
 * text ({@link MarkerWithoutRoom}).
 */
public final class HmlmCommandStatuses {
    private HmlmCommandStatuses() {}

    private static final Map<StatusCode, Set<AdminOpcode>> LISTED = Map.of(
            StatusCodes.INVALID_CTRL_ID, Set.of(AdminOpcode.TRACK_SEND, AdminOpcode.TRACK_RECEIVE, AdminOpcode.MIGRATION_SEND,
                    AdminOpcode.MIGRATION_RECEIVE, AdminOpcode.CONTROLLER_DATA_QUEUE),
            StatusCodes.INVALID_CDQ, Set.of(AdminOpcode.SET_FEATURES, AdminOpcode.GET_FEATURES, AdminOpcode.TRACK_SEND,
                    AdminOpcode.CONTROLLER_DATA_QUEUE, AdminOpcode.MIGRATION_SEND),
            StatusCodes.NOT_ENOUGH_RESOURCES, Set.of(AdminOpcode.TRACK_SEND, AdminOpcode.CONTROLLER_DATA_QUEUE, AdminOpcode.MIGRATION_SEND),
            StatusCodes.CTRL_SUSPENDED, Set.of(AdminOpcode.TRACK_SEND, AdminOpcode.SANITIZE),
            StatusCodes.CTRL_NOT_SUSPENDED, Set.of(AdminOpcode.TRACK_SEND, AdminOpcode.MIGRATION_SEND),
            StatusCodes.CDQ_FULL, Set.of(AdminOpcode.TRACK_SEND));

    /** Whether {@code code} is one of the statuses this class covers (SCT 1h, SC 1Fh or 37h-3Bh). */
    public static boolean covers(StatusCode code) {
        return LISTED.containsKey(code);
    }

    /** {@link #allows(AdminOpcode, StatusCode)} for a status as it comes back in a CQE. */
    public static boolean allows(AdminOpcode command, Status status) {
        return StatusCodeType.of(status.sct()).map(t -> allows(command, new StatusCode(t, status.sc()))).orElse(true);
    }

    /** Whether the ratified text lets {@code command} return {@code code}; true for a code this class does not cover. */
    public static boolean allows(AdminOpcode command, StatusCode code) {
        Set<AdminOpcode> commands = LISTED.get(code);
        return commands == null || commands.contains(command);
    }
}
