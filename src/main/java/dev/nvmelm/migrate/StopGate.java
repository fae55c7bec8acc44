package dev.nvmelm.migrate;

/**
 * When the stop may begin, for a migration that must wait for someone else: a VMM migrating the
 * VM's RAM alongside (docs/vm.md). Once the dirty passes have converged the engine calls
 * {@link #converged()} once, then keeps copying the dirty ranges (passes without a verdict) and
 * asks {@link #awaitReady} between them until it says yes; only then does the stop run. An
 * exception from either of the first two aborts the migration like any other failure: the source is resumed.
 */
public interface StopGate {
    /** Opens at once: the stop follows convergence directly. */
    StopGate OPEN = new StopGate() {
        @Override
        public void converged() {
        }

        @Override
        public boolean awaitReady(long timeoutNanos) {
            return true;
        }
    };

    /** The storage has converged (called once): start whatever the stop waits for. */
    void converged() throws Exception;

    /** Waits up to {@code timeoutNanos} (0: just look) for the stop to be allowed; true when it is. */
    boolean awaitReady(long timeoutNanos) throws Exception;

    /**
     * The destination controller resumed and owns the guest (called at once, before the source's
     * clean-up, so whoever waits pays nothing more). Must not throw: nothing can be undone now.
     * Not called for a destination without a controller, whose commit happens outside the engine.
     */
    default void committed() {
    }
}
