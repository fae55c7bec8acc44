package dev.nvmelm.host.cdq;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.spec.Disagreements;
import dev.nvmelm.spec.TailPointerTrigger;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * The host side of a User Data Migration Queue: consumes the ring in place into per-namespace
 * {@link DirtyExtents}, reports markers and anomalies to a {@link CdqListener}, and keeps the
 * controller informed of its head (docs/cdq.md).
 *
 * <p>Use it step-wise ({@link #pollOnce()}, {@link #awaitEntries}, {@link #drainUntil}) from
 * the migration engine or {@code lm cdq-watch}, or as a loop ({@link #start()} / {@link #close()}).
 *
 * <p>Waiting (docs/spec.md, "Tail Pointer Trigger"): with nothing new at the head, the consumer sends one Set Features that
 * reports the head and arms the Tail Pointer Trigger for the k-th entry past the head (slot
 * (head + k - 1) mod N on a controller that follows NVMe Base 2.1, Figure 426), waits for it to
 * complete, and then scans the ring again: an entry written before the trigger took effect
 * raises no event, so only after that re-scan may it sleep in
 * {@link CdqQueue#awaitNotification}, with a timed poll as a safety net.
 *
 * <p>The consumer owns neither the device nor the queue.
 */
public final class CdqConsumer implements AutoCloseable {

    /**
     * @param maxBatchEntries  entries consumed per {@link #pollOnce()}
     * @param triggerDistance  k: the trigger fires once k entries past the head are written
     * @param safetyPoll       longest sleep without a notification
     * @param commandTimeout   how long to wait for the arming Set Features before sleeping anyway
     * @param tailPointerTrigger when the controller fires an armed trigger: the TPT armed for
     *                         "k entries past the head" depends on it (NVMe Base 2.1, Figure 426)
     */
    public record Config(int maxBatchEntries, int triggerDistance, Duration safetyPoll, Duration commandTimeout,
                         TailPointerTrigger tailPointerTrigger) {
        public static final Config DEFAULT = new Config(4096, 1, Duration.ofMillis(50), Duration.ofSeconds(5));

        public Config {
            if (maxBatchEntries < 1) throw new IllegalArgumentException("maxBatchEntries must be >= 1");
            if (triggerDistance < 1) throw new IllegalArgumentException("triggerDistance must be >= 1");
            Objects.requireNonNull(safetyPoll);
            Objects.requireNonNull(commandTimeout);
            Objects.requireNonNull(tailPointerTrigger);
        }

        /** A controller that follows the spec's trigger rule ({@link Disagreements#TAIL_POINTER_TRIGGER}). */
        public Config(int maxBatchEntries, int triggerDistance, Duration safetyPoll, Duration commandTimeout) {
            this(maxBatchEntries, triggerDistance, safetyPoll, commandTimeout, Disagreements.TAIL_POINTER_TRIGGER);
        }

        /** The same settings for a controller whose trigger fires by {@code rule}. */
        public Config withTailPointerTrigger(TailPointerTrigger rule) {
            return new Config(maxBatchEntries, triggerDistance, safetyPoll, commandTimeout, rule);
        }
    }

    private final CdqQueue queue;
    private final CdqRingReader reader;
    private final HeadReporter reporter;
    private final Config config;
    private final Clock clock;
    private final Executor loopExecutor;
    private final ReentrantLock consumeLock = new ReentrantLock();
    private final CdqListener listener;

    private volatile CdqMarker lastMarker;
    private volatile boolean trackingBroken;
    private volatile long notifications, timedWakeups;
    private volatile boolean stopping;
    private volatile Thread loopThread;
    /**
     * Guards {@link #waiting}: close() interrupts the loop only while it waits, never while it
     * submits a command (an interrupt there would fail a head report or an arm on the MMC).
     */
    private final Object wakeLock = new Object();
    private boolean waiting;
    private volatile Throwable failure;
    private CountDownLatch loopDone;

    private CdqConsumer(Builder b) {
        this.queue = b.queue;
        this.config = b.config;
        this.clock = b.clock;
        this.loopExecutor = b.loopExecutor;
        this.listener = b.listener;
        int k = Math.min(config.triggerDistance(), queue.entryCount() - 1);
        CdqListener inner = new CdqListener() {
            @Override
            public void onMarker(CdqMarker m) {
                lastMarker = m;
                if (m.kind() == CdqMarker.Kind.QUEUE_FULL) trackingBroken = true;
                listener.onMarker(m);
            }

            @Override
            public void onAnomaly(CdqAnomaly a) {
                listener.onAnomaly(a);
            }
        };
        this.reader = new CdqRingReader(queue.ring(), queue.entryCount(), b.namespaces, inner, config.maxBatchEntries());
        this.reporter = new HeadReporter(b.device, queue, k, config.tailPointerTrigger(), b.completionExecutor, listener);
    }

    public static Builder builder(NvmeDevice device, CdqQueue queue) {
        return new Builder(device, queue);
    }

    /**
     * Consumes up to {@code maxBatchEntries} new entries (stopping right after a marker) and
     * reports the new head if it moved. Also retries a failed head report.
     *
     * @return entries consumed
     */
    public int pollOnce() {
        consumeLock.lock();
        try {
            int n = reader.drain(config.maxBatchEntries());
            if (n > 0) reporter.headMoved(reader.head(), reader.sequence());
            else reporter.kick();
            return n;
        } finally {
            consumeLock.unlock();
        }
    }

    /** True if the slot at the head holds a new entry. */
    public boolean entryAvailable() {
        consumeLock.lock();
        try {
            return reader.entryAvailable();
        } finally {
            consumeLock.unlock();
        }
    }

    /**
     * Waits until an entry may be available: arms the trigger, re-scans, then sleeps at most
     * {@code min(timeout, safetyPoll)}. Returns true if an entry is visible or a notification
     * arrived; false means a timed wakeup with nothing seen (callers poll anyway).
     */
    public boolean awaitEntries(Duration timeout) throws InterruptedException {
        if (entryAvailable()) return true;
        if (timeout.isNegative() || timeout.isZero()) return false;
        var armed = reporter.arm();
        enterWait();
        try {
            long waitMs = Math.max(1, Math.min(timeout.toMillis(), config.commandTimeout().toMillis()));
            armed.get(waitMs, TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // Not armed (yet): the timed poll below still finds new entries.
        } finally {
            leaveWait();
        }
        if (entryAvailable()) return true;   // written before the trigger took effect (the arming race)
        Duration sleep = timeout.compareTo(config.safetyPoll()) < 0 ? timeout : config.safetyPoll();
        boolean notified;
        enterWait();
        try {
            notified = queue.awaitNotification(sleep);
        } finally {
            leaveWait();
        }
        if (notified) {
            reporter.triggerFired();
            notifications++;
        } else {
            timedWakeups++;
        }
        return notified || entryAvailable();
    }

    /**
     * Consumes until a marker accepted by {@code until} is consumed, or the timeout passes
     * (measured on the injected clock). Markers before it are reported to the listener as usual.
     * Use it instead of the loop, not beside it: a marker the loop consumes is not seen here.
     */
    public Optional<CdqMarker> drainUntil(Predicate<CdqMarker> until, Duration timeout) throws InterruptedException {
        Instant deadline = clock.instant().plus(timeout);
        long seen = reader.sequence();
        while (true) {
            int n = pollOnce();
            CdqMarker m = lastMarker;
            // pollOnce stops right after a marker, so a marker consumed here is the last one seen.
            if (n > 0 && m != null && m.sequence() >= seen && until.test(m)) return Optional.of(m);
            if (n > 0) continue;
            Duration left = Duration.between(clock.instant(), deadline);
            if (left.isNegative() || left.isZero()) return Optional.empty();
            awaitEntries(left);
        }
    }

    /** Drains until the ESA 2 (logging stopped) marker. */
    public Optional<CdqMarker> drainUntilStopped(Duration timeout) throws InterruptedException {
        return drainUntil(m -> m.kind() == CdqMarker.Kind.STOPPED, timeout);
    }

    /** Drains until the ESA 3 (suspended) marker. */
    public Optional<CdqMarker> drainUntilSuspended(Duration timeout) throws InterruptedException {
        return drainUntil(m -> m.kind() == CdqMarker.Kind.SUSPENDED, timeout);
    }

    /** Runs the consume loop on the injected executor until {@link #close()}. */
    public synchronized void start() {
        if (loopDone != null) throw new IllegalStateException("already started");
        loopDone = new CountDownLatch(1);
        loopExecutor.execute(this::runLoop);
    }

    private void runLoop() {
        loopThread = Thread.currentThread();
        try {
            while (!stopping) {
                if (pollOnce() == 0 && !stopping) awaitEntries(config.safetyPoll());
            }
        } catch (InterruptedException e) {
            // close() interrupts a sleeping loop; any other interrupt ends it too, visibly
            if (!stopping) failure = e;
        } catch (RuntimeException | Error e) {
            failure = e;
        } finally {
            loopThread = null;
            loopDone.countDown();
        }
    }

    /** The loop thread is about to wait: from here close() may interrupt it (or it stops now). */
    private void enterWait() throws InterruptedException {
        if (Thread.currentThread() != loopThread) return;
        synchronized (wakeLock) {
            if (stopping) throw new InterruptedException("closing");
            waiting = true;
        }
    }

    /** The wait is over: an interrupt close() sent meanwhile is consumed here, {@link #stopping} ends the loop. */
    private void leaveWait() {
        if (Thread.currentThread() != loopThread) return;
        synchronized (wakeLock) {
            waiting = false;
            if (stopping) Thread.interrupted();
        }
    }

    /** Stops the loop (if started) and waits for it; does not close the queue or the device. */
    @Override
    public void close() {
        CountDownLatch done;
        synchronized (this) {
            done = loopDone;
        }
        synchronized (wakeLock) {
            stopping = true;
            Thread t = loopThread;
            if (t != null && waiting) t.interrupt();   // only a waiting loop: a busy one sees stopping next
        }
        if (done == null) return;
        try {
            if (!done.await(config.commandTimeout().toMillis() + config.safetyPoll().toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("CDQ " + queue.cdqid() + " consumer loop did not stop");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The exception that ended the loop, if any (e.g. from a listener). */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure);
    }

    /** True once an ESA 7 (queue full) entry was consumed: changes after it were lost. */
    public boolean trackingBroken() {
        return trackingBroken;
    }

    /** The head the consumer has reached (not necessarily reported yet). */
    public int head() {
        consumeLock.lock();
        try {
            return reader.head();
        } finally {
            consumeLock.unlock();
        }
    }

    /** The head the controller has acknowledged. */
    public int reportedHead() {
        return reporter.ackedHead();
    }

    /**
     * Entries consumed and acknowledged by the controller (a successful Set Features FID 21h
     * covered them), counted since the consumer started. A producer's backlog in the ring is
     * at most "entries logged" minus this, which lets a caller pace work so the ring never
     * fills.
     */
    public long acknowledgedEntries() {
        return reporter.ackedSequence();
    }

    public CdqCounters counters() {
        consumeLock.lock();
        try {
            CdqRingReader r = reader;
            return new CdqCounters(r.entries, r.changeEntries, r.namespaceWideEntries, r.dlbaEntries, r.markers, r.anomalies,
                    r.bytesDirtied, r.queueFullMarkers, r.ringPasses, reporter.sent(), reporter.failures(),
                    notifications, timedWakeups);
        } finally {
            consumeLock.unlock();
        }
    }

    public static final class Builder {
        private final NvmeDevice device;
        private final CdqQueue queue;
        private Collection<DirtyExtents> namespaces = List.of();
        private CdqListener listener = CdqListener.NONE;
        private Config config = Config.DEFAULT;
        private Clock clock = Clock.systemUTC();
        private Executor loopExecutor = r -> Thread.ofPlatform().name("cdq-consumer").daemon().start(r);
        // Not the completing thread: a resend from a driver's completion thread could block
        // on a full admin queue that only that thread can drain.
        private Executor completionExecutor = r -> Thread.ofVirtual().name("cdq-head-report").start(r);

        private Builder(NvmeDevice device, CdqQueue queue) {
            this.device = Objects.requireNonNull(device);
            this.queue = Objects.requireNonNull(queue);
        }

        /** The namespaces to track; entries naming any other NSID are anomalies. */
        public Builder namespaces(Collection<DirtyExtents> v) { namespaces = List.copyOf(v); return this; }

        public Builder listener(CdqListener v) { listener = Objects.requireNonNull(v); return this; }

        public Builder config(Config v) { config = Objects.requireNonNull(v); return this; }

        public Builder clock(Clock v) { clock = Objects.requireNonNull(v); return this; }

        /** Runs the loop started by {@link #start()}. */
        public Builder loopExecutor(Executor v) { loopExecutor = Objects.requireNonNull(v); return this; }

        /** Runs Set Features completion handling (and any resend); a virtual thread by default. */
        public Builder completionExecutor(Executor v) { completionExecutor = Objects.requireNonNull(v); return this; }

        public CdqConsumer build() {
            return new CdqConsumer(this);
        }
    }
}
