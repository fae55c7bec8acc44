package dev.nvmelm.util;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.random.RandomGenerator;

/**
 * Time, threads, timers and chance for everything above the device: the one place the migration
 * engine, the agents, the NBD code and the CDQ consumer get them from. Production uses
 * {@link #live()}: the JDK's clocks and virtual threads. The simulator (docs/testing.md "The
 * simulator") passes one that runs every thread on a deterministic scheduler over simulated time,
 * so one seed replays a whole schedule bit for bit. Code under a runtime must therefore never
 * reach past it: no {@code System.nanoTime}, {@code Thread.sleep}, {@code new Thread},
 * {@code Executors}, unseeded {@code Random}, or JDK waits with a timeout (those park on the
 * JDK's own real-time timer, which a simulation cannot drive); {@code RuntimeUseTest} holds it.
 * Untimed waits (monitors, locks, latches, futures) are fine: they only park and unpark.
 */
public interface LmRuntime {

    /** Monotonic time in nanoseconds, as {@link System#nanoTime()}. */
    long nanoTime();

    /** Wall-clock time, for reports and file names only; never for intervals. */
    Instant now();

    /** Pauses the calling thread; interruptible. */
    void sleep(Duration duration) throws InterruptedException;

    /** Pauses the calling thread for up to {@code nanos}; returns early on interrupt (as LockSupport.parkNanos). */
    void parkNanos(long nanos);

    /** A new thread (virtual in production), not yet started. */
    Thread unstarted(String name, Runnable task);

    /** A new thread (virtual in production), started. */
    default Thread start(String name, Runnable task) {
        Thread t = unstarted(name, task);
        t.start();
        return t;
    }

    /** An executor that runs each task on a new thread of this runtime; close it to wait for them. */
    ExecutorService newThreadPerTaskExecutor(String name);

    /** Runs {@code task} once after {@code delay} on a thread of this runtime, unless cancelled first. */
    Timer schedule(Duration delay, Runnable task);

    /** A latch wait with a timeout: true if it reached zero. */
    boolean await(CountDownLatch latch, Duration timeout) throws InterruptedException;

    /** A future's result with a timeout. */
    <T> T get(Future<T> future, Duration timeout) throws InterruptedException, ExecutionException, TimeoutException;

    /**
     * Waits until {@code done} is true or {@code timeout} passes, re-checking whenever
     * {@code monitor} is notified (the caller's code does {@code monitor.notifyAll()} when it
     * changes what {@code done} reads) and at least every {@code recheck}. True if done.
     */
    boolean awaitUntil(Object monitor, BooleanSupplier done, Duration timeout, Duration recheck) throws InterruptedException;

    /** This runtime's source of chance: seeded in a simulation, so a schedule replays. */
    RandomGenerator random();

    /** A pending {@link #schedule} task. */
    interface Timer {
        /** Cancels it if it has not started; harmless afterwards. */
        void cancel();
    }

    /** Real time and virtual threads. */
    static LmRuntime live() {
        return LiveRuntime.INSTANCE;
    }
}
