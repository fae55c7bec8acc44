package dev.nvmelm.util;

import java.time.Duration;
import java.time.Instant;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.random.RandomGenerator;

/** {@link LmRuntime#live()}: the JDK's clocks, virtual threads and one daemon timer thread. */
final class LiveRuntime implements LmRuntime {
    static final LiveRuntime INSTANCE = new LiveRuntime();

    /** Created on first use: most commands never schedule anything. */
    private static final class Timers {
        static final ScheduledExecutorService EXEC;
        static {
            var e = new ScheduledThreadPoolExecutor(1, r -> Thread.ofPlatform().daemon().name("nvme-lm-timer").unstarted(r));
            e.setRemoveOnCancelPolicy(true); // a cancelled timeout must not hold its task until it would have fired
            EXEC = e;
        }
    }

    private LiveRuntime() {}

    @Override public long nanoTime() { return System.nanoTime(); }

    @Override public Instant now() { return Instant.now(); }

    @Override public void sleep(Duration duration) throws InterruptedException {
        if (duration.isPositive()) Thread.sleep(duration);
    }

    @Override public void parkNanos(long nanos) {
        if (nanos > 0) LockSupport.parkNanos(nanos);
    }

    @Override public Thread unstarted(String name, Runnable task) {
        return Thread.ofVirtual().name(name).unstarted(task);
    }

    @Override public ExecutorService newThreadPerTaskExecutor(String name) {
        return Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name(name).factory());
    }

    @Override public Timer schedule(Duration delay, Runnable task) {
        // the timer thread only hands the task to a virtual thread, so a slow task delays no other timer
        var f = Timers.EXEC.schedule(() -> start("nvme-lm-timer-task", task), Math.max(0, delay.toNanos()), TimeUnit.NANOSECONDS);
        return () -> f.cancel(false);
    }

    @Override public boolean await(CountDownLatch latch, Duration timeout) throws InterruptedException {
        return latch.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override public <T> T get(Future<T> future, Duration timeout) throws InterruptedException, ExecutionException, TimeoutException {
        return future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override public boolean awaitUntil(Object monitor, BooleanSupplier done, Duration timeout, Duration recheck)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long recheckNanos = Math.max(1, recheck.toNanos());
        synchronized (monitor) {
            while (!done.getAsBoolean()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) return false;
                long wait = Math.min(left, recheckNanos);
                TimeUnit.NANOSECONDS.timedWait(monitor, wait);
            }
            return true;
        }
    }

    @Override public RandomGenerator random() {
        // production chance need not replay; each caller gets its own unshared stream
        return new SplittableRandom();
    }
}
