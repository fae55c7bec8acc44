package dev.nvmelm.cli;

/** A user-facing error: printed as one line on stderr, exit status 1 (or {@link #exitStatus}). */
public class CliException extends RuntimeException {
    private final int exitStatus;

    public CliException(String message) {
        this(message, null, 1);
    }

    public CliException(String message, Throwable cause) {
        this(message, cause, 1);
    }

    /** An error with its own exit status, such as 128 + signo for a command a signal stopped. */
    public CliException(String message, Throwable cause, int exitStatus) {
        super(message, cause);
        this.exitStatus = exitStatus;
    }

    public int exitStatus() {
        return exitStatus;
    }
}
