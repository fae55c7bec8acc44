package dev.nvmelm.fuzz;

import java.util.Arrays;

/**
 * What every fuzz target shares (docs/testing.md, "Fuzzing"): a run either ends in the
 * component's declared error or returns a correct result; anything else thrown (an NPE, an
 * index out of bounds, a NegativeArraySizeException, an OutOfMemoryError) escapes the target and
 * is Jazzer's finding.
 */
public final class Fuzz {
    private Fuzz() {}

    /** A step of a target that may throw anything. */
    @FunctionalInterface
    public interface Step {
        void run() throws Exception;
    }

    /**
     * Runs {@code step}; an exception of one of the {@code declared} types (or a subtype) is the
     * clear error the component promises and ends the step quietly; any other escapes.
     * Returns true when the step completed without an error.
     */
    @SafeVarargs
    public static boolean declared(Step step, Class<? extends Throwable>... declared) throws Exception {
        try {
            step.run();
            return true;
        } catch (Exception e) {
            for (Class<? extends Throwable> c : declared) if (c.isInstance(e)) return false;
            throw e;
        }
    }

    /**
     * Runs a target that blocks on sockets and futures. Jazzer interrupts the fuzzing thread when
     * its time is up; the interrupted input is not a finding, so the run ends quietly there.
     */
    public static void unlessStopped(Step step) throws Exception {
        try {
            step.run();
        } catch (InterruptedException | java.nio.channels.ClosedByInterruptException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The input cut or zero-padded to exactly {@code size} bytes: a fixed-size structure. */
    public static byte[] fixed(byte[] input, int size) {
        return Arrays.copyOf(input, size);
    }

    /** Fails the target: a result that breaks the component's contract. */
    public static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }
}
