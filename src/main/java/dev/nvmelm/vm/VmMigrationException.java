package dev.nvmelm.vm;

import java.io.IOException;

/** QEMU's side of a VM migration failed; {@link #kind} says how (docs/vm.md, "Failure handling"). */
public final class VmMigrationException extends IOException {
    public enum Kind {
        /** A QMP command was refused or the connection to the source QEMU broke. */
        QMP,
        /** QEMU reported the migration failed or cancelled. */
        QEMU_FAILED,
        /** The destination QEMU is gone (its QMP connection closed) before migrate-continue. */
        DESTINATION_GONE,
        /** The RAM migration did not reach pre-switchover or completed in time. */
        TIMEOUT,
        /** The VM was not in a state to migrate (not running, a migration already active, ...). */
        NOT_READY
    }

    private final Kind kind;

    public VmMigrationException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
