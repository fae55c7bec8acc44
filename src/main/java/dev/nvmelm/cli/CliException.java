package dev.nvmelm.cli;

/** A user-facing error: printed as one line on stderr, exit status 1. */
public class CliException extends RuntimeException {
    public CliException(String message) {
        super(message);
    }

    public CliException(String message, Throwable cause) {
        super(message, cause);
    }
}
