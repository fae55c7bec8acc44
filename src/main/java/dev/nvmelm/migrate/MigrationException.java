package dev.nvmelm.migrate;

/**
 * A migration that did not complete; the source is resumed and intact when this is thrown. The
 * report, when present, holds what was measured up to the abort (the verdict and its numbers).
 */
public final class MigrationException extends Exception {
    private final transient MediaMigration.Report report;

    public MigrationException(String message) {
        this(message, null, null);
    }

    public MigrationException(String message, Throwable cause) {
        this(message, cause, null);
    }

    public MigrationException(String message, Throwable cause, MediaMigration.Report report) {
        super(message, cause);
        this.report = report;
    }

    /** What the engine had measured when it gave up, or null. */
    public MediaMigration.Report report() {
        return report;
    }
}
