package dev.nvmelm.migrate;

/** A migration that did not complete; the source is resumed and intact when this is thrown. */
public final class MigrationException extends Exception {
    public MigrationException(String message) {
        super(message);
    }

    public MigrationException(String message, Throwable cause) {
        super(message, cause);
    }
}
