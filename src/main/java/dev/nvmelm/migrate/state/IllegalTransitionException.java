package dev.nvmelm.migrate.state;

/** A requested state change that no sequence of legal arcs reaches; names both states. */
public final class IllegalTransitionException extends IllegalStateException {
    private final MigState from;
    private final MigState to;

    public IllegalTransitionException(MigState from, MigState to, String why) {
        super("illegal migration state change " + from + " -> " + to + ": " + why);
        this.from = from;
        this.to = to;
    }

    public MigState from() { return from; }

    public MigState to() { return to; }
}
