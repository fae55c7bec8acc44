package dev.nvmelm.vm;

import java.util.concurrent.Callable;
import java.util.function.Predicate;

/**
 * The one retry the VM tests allow: a guest kernel that panics under TCG. Debian's 6.1 guest
 * occasionally panics in its virtio-blk completion path ("Fatal exception in interrupt" in
 * blk_mq_complete_request_remote) on this emulated CPU, also with QEMU's own mirror and a plain
 * file disk, where nvme-lm is not involved at all (docs/vm.md, "Known limits"). A run whose guest
 * panicked says nothing about the migration, so it runs once more; a second panic, or any other
 * failure, fails the test.
 */
public final class GuestPanics {
    /** What the guest's console shows when its kernel panicked. */
    public static final String MARKER = "Kernel panic - not syncing";

    private GuestPanics() {}

    /** True if {@code text} (a console, an error message) shows a guest kernel panic. */
    public static boolean in(String text) {
        return text != null && text.contains(MARKER);
    }

    /** Runs {@code attempt}; if its result shows a guest panic, runs it once more and returns that result. */
    public static <T> T retryOnce(Callable<T> attempt, Predicate<T> panicked) throws Exception {
        T first = attempt.call();
        if (!panicked.test(first)) return first;
        System.err.println("the guest kernel panicked under TCG (not a migration result); running once more");
        return attempt.call();
    }

    /**
     * Runs {@code attempt}; if it throws with a guest panic in its message, runs {@code reset}
     * (a fresh set-up: the first attempt may have moved the namespace) and the attempt once more.
     */
    public static void retryOnce(ThrowingRunnable attempt, ThrowingRunnable reset) throws Exception {
        try {
            attempt.run();
        } catch (Exception | AssertionError e) {
            if (!in(e.getMessage())) throw e;
            System.err.println("the guest kernel panicked under TCG (not a migration result); running once more");
            reset.run();
            attempt.run();
        }
    }

    @FunctionalInterface
    public interface ThrowingRunnable {
        void run() throws Exception;
    }
}
