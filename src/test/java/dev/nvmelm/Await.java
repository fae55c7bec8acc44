package dev.nvmelm;

import java.time.Duration;

/**
 * Waiting in a test for a condition nothing signals: a socket another process opens, a file a
 * server writes, a proxy's byte counter, a queue the controller fills. The condition is checked
 * about every millisecond until it holds; a timeout is a failure naming what did not happen.
 * Where a latch, a future or a CDQ marker exists, tests wait on that instead.
 */
public final class Await {
    private Await() {}

    @FunctionalInterface
    public interface Condition {
        boolean holds() throws Exception;
    }

    /** Returns once {@code condition} holds; throws AssertionError("timed out ... until WHAT") after {@code timeout}. */
    public static void until(String what, Duration timeout, Condition condition) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.holds()) {
            if (System.nanoTime() - deadline > 0) throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting until " + what);
            Thread.sleep(1);   // the one polling pause: the condition has no notification to wait on
        }
    }
}
