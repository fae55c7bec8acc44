package dev.nvmelm.migrate;

import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.cdq.CdqMarker;
import dev.nvmelm.host.cdq.DirtyExtents;
import dev.nvmelm.host.cdq.LbaRange;
import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.migrate.copy.WriteLedger;
import dev.nvmelm.migrate.state.ControllerStateMachine;
import dev.nvmelm.migrate.state.MigState;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongPredicate;
import java.util.function.LongSupplier;

/**
 * Live migration of one migratable controller and its namespace, in the order the CDQ makes
 * safe: tracking starts (ESA 1 seen) before the first byte is copied; a bulk copy; dirty passes of
 * the exact CDQ ranges until the backlog fits the downtime budget at the measured copy rate (or
 * an explicit not-converging verdict); stop-and-copy: Suspend, drain to the ESA 3 marker, copy
 * the rest, flush the destination, move the controller state (the VFIO-style state machines),
 * hand the guest over, Resume. Any failure before the destination resumes leaves the source
 * controller resumed and its data untouched.
 */
public final class MediaMigration {

    /**
     * One side: the MMC to command, the MC's CNTLID and NSID, and the namespace data path. A
     * destination with no controller ({@link #storageOnly}) receives only the data: an NBD export,
     * say, that a VMM will point the guest at.
     */
    public record Side(NvmeDevice mmc, int cntlid, int nsid, BlockDevice data) {
        public static Side storageOnly(BlockDevice data) {
            return new Side(null, 0, 0, data);
        }

        public boolean hasController() {
            return mmc != null;
        }
    }

    /**
     * The VMM's part: point the guest at the destination controller (which has its state and is
     * not yet resumed), or back at the source when a migration aborts after that.
     */
    public interface GuestHandover {
        /** Right before the source's Suspend: a VMM whose destination has no guest memory quiesces the guest here. */
        default void beforeSuspend() throws Exception {}

        void toDestination() throws Exception;

        void backToSource() throws Exception;
    }

    public enum OnStall { ABORT, FORCE, THROTTLE }

    public enum Phase { SETUP, BULK, DIRTY, STOP_AND_COPY, DONE, ABORTED }

    /**
     * @param maxDowntime  the downtime budget: switch over once the predicted stop fits it
     * @param maxPasses    dirty passes before the stall policy applies
     * @param maxTime      wall time before the stall policy applies
     * @param onStall      what to do when not converging
     * @param copy         the copier's shape (request size, in flight, rate limit)
     * @param cdqBytes     size of the User Data Migration Queue (32-byte entries)
     * @param destinationIsZero the destination reads as zeroes already: holes need no writes
     * @param stallPasses  consecutive passes in which the guest dirtied at least 95 % of what the
     *                     pass copied before the verdict is "not converging"
     * @param recordWrites keep the CRC32C ledger of every write for the read-back after the
     *                     switchover; off where nobody reads it back (no verify, a remote
     *                     destination that checks its own CRC32C and SHA-256)
     */
    public record Options(Duration maxDowntime, int maxPasses, Duration maxTime, OnStall onStall, Copier.Config copy,
                          long cdqBytes, boolean destinationIsZero, int stallPasses, boolean recordWrites) {
        public Options {
            if (maxDowntime.isNegative() || maxDowntime.isZero()) throw new IllegalArgumentException("the downtime budget must be positive");
            if (maxPasses < 1) throw new IllegalArgumentException("at least one dirty pass is needed, got maxPasses " + maxPasses);
            if (stallPasses < 1) throw new IllegalArgumentException("stallPasses must be >= 1, got " + stallPasses);
            if (cdqBytes < 4096) throw new IllegalArgumentException("the CDQ needs at least 4096 bytes, got " + cdqBytes);
        }

        public Options(Duration maxDowntime, int maxPasses, Duration maxTime, OnStall onStall, Copier.Config copy,
                       long cdqBytes, boolean destinationIsZero) {
            this(maxDowntime, maxPasses, maxTime, onStall, copy, cdqBytes, destinationIsZero, 3, true);
        }

        public static Options defaults() {
            return new Options(Duration.ofMillis(50), 30, Duration.ofMinutes(30), OnStall.ABORT, Copier.Config.defaults(), 1 << 20, false, 3, true);
        }

        public Options withOnStall(OnStall v) { return new Options(maxDowntime, maxPasses, maxTime, v, copy, cdqBytes, destinationIsZero, stallPasses, recordWrites); }

        public Options withCopy(Copier.Config v) { return new Options(maxDowntime, maxPasses, maxTime, onStall, v, cdqBytes, destinationIsZero, stallPasses, recordWrites); }

        public Options withCdqBytes(long v) { return new Options(maxDowntime, maxPasses, maxTime, onStall, copy, v, destinationIsZero, stallPasses, recordWrites); }

        public Options withStallPasses(int v) { return new Options(maxDowntime, maxPasses, maxTime, onStall, copy, cdqBytes, destinationIsZero, v, recordWrites); }

        public Options withMaxDowntime(Duration v) { return new Options(v, maxPasses, maxTime, onStall, copy, cdqBytes, destinationIsZero, stallPasses, recordWrites); }

        public Options withMaxPasses(int v) { return new Options(maxDowntime, v, maxTime, onStall, copy, cdqBytes, destinationIsZero, stallPasses, recordWrites); }

        public Options withRecordWrites(boolean v) { return new Options(maxDowntime, maxPasses, maxTime, onStall, copy, cdqBytes, destinationIsZero, stallPasses, v); }

        public Options withMaxTime(Duration v) { return new Options(maxDowntime, maxPasses, v, onStall, copy, cdqBytes, destinationIsZero, stallPasses, recordWrites); }
    }

    /**
     * The convergence verdict with the numbers behind it. Rates are bytes per second measured
     * over the last dirty pass: what the guest dirtied while the pass ran, and what the pass
     * copied. {@code predictedStopMs} is the stop the engine expects if it switched over now.
     */
    public record Verdict(boolean converged, String text, double dirtyRateBps, double copyRateBps, long backlogBytes,
                          long backlogRanges, double predictedStopMs, long budgetMs, int passes, long atMs) {}

    /** What a progress display shows; the byte counters only grow. */
    public record Snapshot(Phase phase, long bytesTotal, long bytesCopied, long bytesZero, long backlogBytes, int pass,
                           double copyRateBps, double dirtyRateBps, String verdict, long elapsedMs) {}

    public interface Listener {
        void progress(Snapshot s);
    }

    /** Throttle steps before giving up: each halves the guest's write rate. */
    static final int MAX_THROTTLE_STEPS = 4;
    static final long MIN_THROTTLE_IOPS = 10;
    /** A dirty pass copies about this long (at the last pass's rate), never less than MIN_PASS_BYTES. */
    static final double PASS_SECONDS = 1.0;
    static final long MIN_PASS_BYTES = 4 << 20;
    /** Dirty passes that aim at half the downtime budget before the whole budget is accepted. */
    static final int TIGHT_PASSES = 6;

    private final Side src, dst;
    private final GuestHandover handover;
    private final Options options;
    private final LongSupplier clock;
    private final Listener listener;
    private final Copier.Progress progress = new Copier.Progress();
    /** The destination as the copier writes it, with a CRC32C per extent for the read-back check. */
    private final WriteLedger ledger;   // null unless options.recordWrites()
    private final Report report = new Report();
    private volatile Phase phase = Phase.SETUP;
    private volatile int pass;
    private volatile double copyRate, dirtyRate, passRate;
    private long adminRoundTripNs, lastFlushNs;
    /** What the stop's controller commands take, warm (measured by {@link StopRehearsal}). */
    private long stopCommandsNs;
    private boolean rehearsed;
    private volatile String verdict = "starting";
    /** What the CDQ consumer feeds: every change range, in the order consumed. */
    private volatile DirtyExtents incoming;
    /** The backlog the engine copies: {@link #incoming} less what the bulk copy will read anyway. */
    private volatile DirtyExtents dirty;
    private volatile Copier copier;
    private volatile boolean bulkDone;
    private volatile boolean cancelled;
    private volatile Exception asyncFailure;
    private final Object absorbLock = new Object(), trackLock = new Object();
    private long fullMarkersHandled;
    private long throttleIops;
    /** The distinct LBAs the CDQ reported in the current one-second window (see {@link #judgeWindow}). */
    private DirtyExtents window;
    private long windowStartNs, windowMoved0;
    /** Windows in a row in which the guest dirtied distinct bytes at >= 95 % of what copying moves (absorber thread). */
    private volatile int windowsLosing;
    private volatile double windowDirtyRate, windowCopyRate;
    /** The bulk's copy rate in the window before (absorber thread). */
    private double previousCopyRate;
    /** What a dirty pass copies per second when the backlog outlasts it (0 until such a pass ran). */
    private volatile double passCapacity;
    private long t0;
    private StopGate gate = StopGate.OPEN;

    public MediaMigration(Side src, Side dst, GuestHandover handover, Options options, LongSupplier nanoClock, Listener listener) {
        if (src.data().sizeBytes() != dst.data().sizeBytes() || src.data().blockSizeBytes() != dst.data().blockSizeBytes()) {
            throw new IllegalArgumentException("source and destination namespaces differ: " + src.data().sizeBytes() + " vs "
                    + dst.data().sizeBytes() + " bytes, LBA " + src.data().blockSizeBytes() + " vs " + dst.data().blockSizeBytes());
        }
        this.src = src;
        this.dst = dst;
        this.ledger = options.recordWrites() ? new WriteLedger(dst.data()) : null;
        this.handover = handover;
        this.options = options;
        this.clock = nanoClock;
        this.listener = listener;
    }

    /** What the stop waits for once the passes have converged (default: nothing). Set before {@link #run}. */
    public MediaMigration withStopGate(StopGate g) {
        this.gate = g;
        return this;
    }

    /** Asks the migration to abort at its next step (Ctrl-C); a bulk copy stops issuing requests. */
    public void cancel() {
        cancelled = true;
        Copier c = copier;
        if (c != null) c.cancel();
    }

    private void checkCancelled() throws MigrationException {
        if (cancelled) throw new MigrationException("cancelled", null, report);
    }

    private void checkAsync() throws Exception {
        Exception e = asyncFailure;
        if (e != null) throw e;
    }

    private long elapsedMs() {
        return (clock.getAsLong() - t0) / 1_000_000;
    }

    public Phase phase() {
        return phase;
    }

    public Snapshot snapshot() {
        DirtyExtents d = dirty, in = incoming;
        long backlog = (d == null ? 0 : d.stats().dirtyBytes()) + (in == null ? 0 : in.stats().dirtyBytes());
        return new Snapshot(phase, src.data().sizeBytes(), progress.bytesCopied.get(), progress.bytesZero.get(),
                backlog, pass, copyRate, dirtyRate, verdict, elapsedMs());
    }

    /** Runs the migration. On success the destination controller is running the guest. */
    public Outcome run() throws MigrationException {
        t0 = clock.getAsLong();
        int lbaSize = src.data().blockSizeBytes();
        long lbaCount = src.data().sizeBytes() / lbaSize;
        incoming = new DirtyExtents(src.nsid(), lbaCount, lbaSize);
        dirty = new DirtyExtents(src.nsid(), lbaCount, lbaSize);
        window = new DirtyExtents(src.nsid(), lbaCount, lbaSize);
        DirtyExtents afterResume = new DirtyExtents(Math.max(1, dst.nsid()), lbaCount, lbaSize);
        ControllerStateMachine srcState = new ControllerStateMachine(src.mmc(), src.cntlid(), MigState.RUNNING);
        ControllerStateMachine dstState = dst.hasController() ? new ControllerStateMachine(dst.mmc(), dst.cntlid(), MigState.RUNNING) : null;
        report.sourceStates = srcState;
        report.destinationStates = dstState;
        Tracking srcTrack = null, dstTrack = null;
        boolean guestMoved = false, committed = false;
        Thread sampler = Thread.ofVirtual().name("migration-progress").start(this::sample);
        Thread absorber = null;
        try {
            srcTrack = new Tracking(src.mmc(), src.cntlid(), List.of(incoming), options.cdqBytes());
            srcTrack.startLogging();
            Tracking track = srcTrack;
            absorber = Thread.ofVirtual().name("migration-absorb").start(() -> absorbLoop(track));
            // The destination MC tracks too, so verification can tell the guest's writes after
            // switchover from migration errors; it must be active to start, then suspended.
            if (dst.hasController()) {
                dstTrack = new Tracking(dst.mmc(), dst.cntlid(), List.of(afterResume), options.cdqBytes());
                dstTrack.startLogging();
                dstState.transition(MigState.STOP);
            }
            adminRoundTripNs = adminRoundTrip();
            StopRehearsal.Cost rehearsal = StopRehearsal.run(src, dst, clock);
            rehearsed = rehearsal.failure() == null;
            if (!rehearsed) report.warnings.add("stop rehearsal: " + rehearsal.failure() + " (the stop's commands run cold)");
            // the stop's commands, warm; the rehearsal has a few more than the stop, which covers the handover
            stopCommandsNs = rehearsed ? rehearsal.totalNs() + adminRoundTripNs : 4 * adminRoundTripNs;
            report.stopCommandsPredictedMs = stopCommandsNs / 1e6;
            srcState.transition(MigState.PRE_COPY);

            checkCancelled();
            phase = Phase.BULK;
            copier = new Copier(src.data(), ledger != null ? ledger : dst.data(), options.copy().withDestinationIsZero(options.destinationIsZero()), progress, clock);
            if (cancelled) copier.cancel();
            long b0 = clock.getAsLong();
            try {
                copier.bulk();
            } catch (IOException e) {
                checkAsync();
                checkCancelled();
                throw e;
            }
            bulkDone = true;
            copyRate = rate(progress.bytesCopied.get() + progress.bytesZero.get(), clock.getAsLong() - b0);
            report.bytesBulk = progress.bytesCopied.get();
            report.bulkMs = (clock.getAsLong() - b0) / 1_000_000;
            checkAsync();

            phase = Phase.DIRTY;
            dirtyPasses(srcTrack, copier, lbaSize);
            report.passCopies.addAll(progress.rangeCopies);

            checkCancelled();
            phase = Phase.STOP_AND_COPY;
            long down0 = clock.getAsLong();
            StopTimer stop = new StopTimer(clock, down0);
            long suspendedBefore = srcTrack.markers(CdqMarker.Kind.SUSPENDED);
            handover.beforeSuspend();
            stop.lap("quiesce");
            srcState.transition(MigState.STOP_COPY);   // Suspend + Get Controller State
            stop.lap("suspend+get_state");
            srcTrack.awaitMarker(CdqMarker.Kind.SUSPENDED, suspendedBefore, Duration.ofSeconds(30));
            stop.lap("drain_to_esa3");
            absorb();
            if (srcTrack.markers(CdqMarker.Kind.QUEUE_FULL) > fullMarkersHandled) {
                // Changes were lost and logging cannot restart on a suspended controller: the
                // guest is stopped, so copying everything is correct (and long).
                dirty.markAll();
                report.fullRecopyInStop = true;
                report.trackingRestarts++;
            }
            long before = progress.bytesCopied.get() + progress.bytesZero.get();
            while (!dirty.isEmpty()) copier.copyRanges(toByteRanges(dirty.takeBatch(Long.MAX_VALUE), lbaSize));   // a batch need not hold everything
            report.bytesFinal = progress.bytesCopied.get() + progress.bytesZero.get() - before;
            stop.lap("final_copy");
            dst.data().flush();
            stop.lap("flush");
            checkCancelled();
            if (!dst.hasController()) {
                // Storage only: the data is complete and durable at the destination. The source
                // stays suspended; the guest continues wherever its VMM points it at that storage.
                committed = true;
                Tracking t = srcTrack;
                srcTrack = null;
                Outcome o = new Outcome(report, null, afterResume, ledger);
                o.sourceState = srcState.savedState();   // for whoever applies it at the destination (an agent)
                return commit(srcState, t, down0, stop, o);
            }
            dstState.transition(MigState.RESUMING);
            dstState.load(srcState.savedState());
            dstState.transition(MigState.STOP);   // Set Controller State
            stop.lap("set_state");
            checkCancelled();
            guestMoved = true;   // set first: a handover that fails half way is undone by abort
            handover.toDestination();
            stop.lap("handover");
            dstState.transition(MigState.RUNNING);   // Resume: the guest runs on the destination
            committed = true;
            stop.lap("resume");
            gate.committed();
            // From here on the destination owns the guest: nothing may resume the source.
            Tracking t = srcTrack;
            srcTrack = null;
            return commit(srcState, t, down0, stop, new Outcome(report, dstTrack, afterResume, ledger));
        } catch (Exception e) {
            if (committed) {   // cannot happen with the code above; kept so a future edit cannot resume both sides
                report.warnings.add("after switchover: " + e);
                phase = Phase.DONE;
                finishReport();
                return new Outcome(report, dstTrack, afterResume, ledger);
            }
            if (phase == Phase.DIRTY) report.passCopies.addAll(progress.rangeCopies);
            phase = Phase.ABORTED;
            if (copier != null) copier.cancel();
            stopThread(absorber);
            abort(srcState, guestMoved);
            if (srcTrack != null) {
                report.cdqEntries = srcTrack.entries();
                report.cdqBytesDirtied = srcTrack.counters().bytesDirtied();
            }
            closeQuietly(srcTrack);
            closeQuietly(dstTrack);
            finishReport();
            if (e instanceof MigrationException me) throw me;
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            String why = cancelled ? "cancelled" : e.getMessage() == null ? e.toString() : e.getMessage();
            throw new MigrationException(why, e, report);
        } finally {
            stopThread(absorber);
            sampler.interrupt();
        }
    }

    private void finishReport() {
        report.totalMs = elapsedMs();
        report.passes = pass;
        report.verdict = verdict;
        report.bytesCopied = progress.bytesCopied.get();
        report.bytesZero = progress.bytesZero.get();
        report.bytesDirty = Math.max(0, report.bytesCopied - report.bytesBulk);
        report.throttleIops = throttleIops;
    }

    /** Books the downtime and the source's counters once the switchover is final, and closes the source's tracking. */
    private Outcome commit(ControllerStateMachine srcState, Tracking srcTrack, long down0, StopTimer stop, Outcome outcome) {
        report.downtimeMs = (clock.getAsLong() - down0) / 1e6;
        report.downtimeBreakdownMs.putAll(stop.laps);
        afterCommit(srcState, srcTrack);
        report.cdqEntries = srcTrack.entries();
        report.anomalies = srcTrack.anomalies();
        report.cdqBytesDirtied = srcTrack.counters().bytesDirtied();
        closeQuietly(srcTrack);
        phase = Phase.DONE;
        finishReport();
        return outcome;
    }

    /** The source after the destination resumed: stopped for good, its tracking closed, unthrottled. */
    private void afterCommit(ControllerStateMachine srcState, Tracking srcTrack) {
        try {
            srcState.transition(MigState.STOP);   // the saved state is no longer needed
        } catch (NvmeException | RuntimeException e) {
            report.warnings.add("source: " + e.getMessage());
        }
        if (throttleIops > 0) {
            try {
                throttle(0);
            } catch (NvmeException e) {
                report.warnings.add("source: cannot lift the write throttle: " + e.getMessage());
            }
        }
    }

    private static void stopThread(Thread t) {
        if (t == null) return;
        t.interrupt();
        try {
            t.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Moves what the CDQ reported into the backlog, less what the bulk copy will read anyway: a
     * range is dropped where it lies at or above the bulk frontier read after taking it (its
     * change had landed before it was consumed, and nothing at or above the frontier has been
     * read yet). Anything behind the frontier or in flight is kept. Clear, then read: the take
     * removes the ranges, so a change reported again later is queued again.
     */
    private void absorb() {
        synchronized (absorbLock) {
            List<LbaRange> got = incoming.takeBatch(Long.MAX_VALUE);
            if (got.isEmpty()) return;
            int lba = src.data().blockSizeBytes();
            long frontierLba = bulkDone ? Long.MAX_VALUE : ceilDiv(copier == null ? 0 : copier.bulkFrontier(), lba);
            long ignored = 0;
            for (LbaRange r : got) {
                window.add(r.slba(), r.count());
                long keepEnd = Math.min(r.end(), frontierLba);
                if (keepEnd > r.slba()) dirty.add(r.slba(), keepEnd - r.slba());
                ignored += r.end() - Math.max(r.slba(), Math.min(r.end(), frontierLba));
            }
            report.bytesIgnoredAhead += ignored * lba;
        }
    }

    /**
     * A writer that dirties distinct blocks at least as fast as the copy moves them can never be
     * caught by passes of about a second (the same 95 % test the passes apply), and a pass's own
     * "dirtied meanwhile" undercounts it while the backlog is large (writes into blocks already
     * dirty add nothing), so the pass test alone takes long to see it. So every
     * {@link #PASS_SECONDS} window compares the distinct bytes the CDQ reported (anywhere: a
     * block ahead of the bulk will be behind it soon) with what copying moves: in the bulk, what
     * it moved in that window; in the passes, what a pass copies when the backlog outlasts it
     * (its capacity for ranges of this shape). Windows are no longer than a pass and the distinct
     * rate only grows in shorter ones, so a losing window means no shorter pass wins either.
     * During the bulk, {@code stallPasses} losing windows in a row end an {@code --on-stall abort}
     * migration there; in the passes they count as a stall for every policy.
     */
    private void judgeWindow() throws MigrationException {
        long now = clock.getAsLong();
        long moved = progress.bytesCopied.get() + progress.bytesZero.get();
        if (windowStartNs == 0) {
            windowStartNs = now;
            windowMoved0 = moved;
            return;
        }
        long dt = now - windowStartNs;
        if (dt < PASS_SECONDS * 1e9) return;
        boolean inBulk = !bulkDone;
        long distinct;
        synchronized (absorbLock) {
            distinct = window.stats().dirtyBytes();
            window.takeBatch(Long.MAX_VALUE);
        }
        double d = rate(distinct, dt), c = inBulk ? rate(moved - windowMoved0, dt) : passCapacity;
        windowStartNs = now;
        windowMoved0 = moved;
        windowDirtyRate = d;
        windowCopyRate = c;
        // A copy still speeding up (JIT warm-up, the first seconds of a fresh process) is not yet
        // what the copy can do: such a window neither counts as lost nor clears the count.
        boolean speedingUp = inBulk && (previousCopyRate <= 0 || c > 1.25 * previousCopyRate);
        if (inBulk) previousCopyRate = c;
        if (!speedingUp) windowsLosing = c > 0 && d >= 0.95 * c ? windowsLosing + 1 : 0;
        if (!inBulk || windowsLosing < options.stallPasses() || options.onStall() != OnStall.ABORT) return;
        dirtyRate = d;
        copyRate = c;
        String text = String.format("not converging: the guest dirties %s/s of distinct blocks, the copy moves %s/s; %d windows of %.0f s in a row"
                        + " during the bulk copy (%s of %s done), so no dirty pass could catch up; aborted (--on-stall abort)",
                bytes((long) d), bytes((long) c), windowsLosing, PASS_SECONDS, bytes(moved), bytes(src.data().sizeBytes()));
        long backlog = src.data().sizeBytes() - moved + distinct;   // what a stop now would still have to copy
        decide(false, text, backlog, 0, backlog / c * 1e9);
        report.verdictDuringBulk = true;
        throw new MigrationException(text, null, report);
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /** During the bulk copy: keep the backlog current and recover a broken CDQ without waiting for the bulk to end. */
    private void absorbLoop(Tracking track) {
        try {
            while (!Thread.currentThread().isInterrupted()) {
                absorb();
                if (!bulkDone && phase == Phase.BULK) recoverTracking(track);
                if (phase == Phase.BULK || phase == Phase.DIRTY) judgeWindow();
                Thread.sleep(5);
            }
        } catch (InterruptedException done) {
            // the engine stopped us
        } catch (Exception e) {
            asyncFailure = e;
            Copier c = copier;
            if (c != null) c.cancel();
        }
    }

    /**
     * CDQ Full (ESA 7): changes after it were not logged. Restart logging (once the consumer has
     * made room), then mark dirty everything the bulk copy may already have passed (all of it
     * after the bulk): a change that was lost either lies there, or ahead of the frontier, where
     * the bulk copy still reads it after the restart. Never silently continue.
     */
    private void recoverTracking(Tracking track) throws NvmeException, InterruptedException {
        synchronized (trackLock) {
            long full = track.markers(CdqMarker.Kind.QUEUE_FULL);
            if (full <= fullMarkersHandled) return;
            track.restartLogging(Duration.ofSeconds(30));
            fullMarkersHandled = full;
            report.trackingRestarts++;
            int lba = src.data().blockSizeBytes();
            long upTo = bulkDone ? dirty.lbaCount() : Math.min(dirty.lbaCount(), ceilDiv(copier == null ? 0 : copier.bulkFrontier(), lba));
            if (upTo == dirty.lbaCount()) dirty.markAll();
            else if (upTo > 0) dirty.add(0, upTo);
            report.bytesRecopiedAfterCdqFull += upTo * lba;
        }
    }

    /**
     * Dirty passes until the backlog fits the downtime budget at the measured copy rate; a pass
     * takes every dirty range (clear, then read: anything written meanwhile is queued again).
     */
    private void dirtyPasses(Tracking track, Copier copier, int lbaSize) throws Exception {
        long budgetNs = options.maxDowntime().toNanos();
        int stalled = 0, passBase = 0, throttleSteps = 0;
        double secondsPerRange = -1;   // measured: small random ranges cost per request, not per byte
        double guestWritesPerSecond = 0;
        boolean flushedSinceLastPass = false;
        boolean improving = true;   // the last pass left less than half of what it started from
        while (true) {
            checkCancelled();
            checkAsync();
            recoverTracking(track);
            absorb();
            DirtyExtents.Stats st = dirty.stats();
            long backlog = st.dirtyBytes();
            // The stop: Suspend, Get State, Set State, Resume and friends, a flush, then the copy.
            if (rehearsed && pass > 0 && stopCommandsNs + lastFlushNs > budgetNs) {
                // measured at setup, while the JIT compiled and the bulk started, it can be far
                // above what the commands cost now: look again before calling the stop too dear
                StopRehearsal.Cost again = StopRehearsal.run(src, dst, clock);
                if (again.failure() == null) stopCommandsNs = Math.min(stopCommandsNs, again.totalNs() + adminRoundTripNs);
                report.stopCommandsPredictedMs = stopCommandsNs / 1e6;
            }
            double fixedNs = stopCommandsNs + lastFlushNs;
            double copyNs = backlog == 0 ? 0 : copyRate > 0 ? backlog / copyRate * 1e9 : Double.MAX_VALUE;
            double predictedNs = fixedNs + Math.max(copyNs, secondsPerRange > 0 ? st.extentCount() * secondsPerRange * 1e9 : 0);
            boolean measured = pass > 0 || backlog == 0;   // one pass measures what a stop would cost
            // Within budget, but another pass still halves what the stop must copy: take it
            // (the downtime is the guest's cost; a short pass is not).
            boolean worthAnotherPass = improving && backlog > 0 && pass - passBase < options.maxPasses()
                    && clock.getAsLong() - t0 < options.maxTime().toNanos();
            boolean outOfTime = clock.getAsLong() - t0 > options.maxTime().toNanos();
            boolean tooManyPasses = pass - passBase >= options.maxPasses();
            int losing = windowsLosing;
            boolean windowsStalled = losing >= options.stallPasses();
            boolean givingUp = tooManyPasses || outOfTime || stalled >= options.stallPasses() || windowsStalled;
            // The first passes aim at half the budget: the prediction is off by up to 2x on a
            // loaded machine (docs/migration.md, "The stop"). Later, or rather than give up,
            // whatever fits the budget is taken.
            double targetNs = pass - passBase < TIGHT_PASSES ? budgetNs / 2.0 : budgetNs;
            if (measured && (predictedNs <= targetNs && !worthAnotherPass || predictedNs <= budgetNs && givingUp)) {
                if (!flushedSinceLastPass) {   // flush first: an fsync inside the stop would be downtime
                    long f0 = clock.getAsLong();
                    dst.data().flush();
                    long f1 = clock.getAsLong();
                    dst.data().flush();   // what a flush costs when little is dirty: the stop's flush
                    lastFlushNs = clock.getAsLong() - f1;
                    if (f1 - f0 < 0) lastFlushNs = 0;
                    flushedSinceLastPass = true;
                    // The guest kept writing meanwhile (the first flush after the bulk can take
                    // a while): if that more than doubled the backlog, passes pay off again.
                    absorb();
                    improving = dirty.stats().dirtyBytes() > 2 * backlog + lbaSize;
                    continue;
                }
                String text = String.format("converged: %s in %d ranges left, predicted stop %.1f ms (budget %d ms)",
                        bytes(backlog), st.extentCount(), predictedNs / 1e6, options.maxDowntime().toMillis());
                if (throttleIops > 0) text += String.format("; guest throttled to %d writes/s (it wrote %.0f/s before)", throttleIops, report.guestWriteIopsBeforeThrottle);
                decide(true, text, backlog, st.extentCount(), predictedNs);
                if (gate != StopGate.OPEN) passUntilGateOpens(track, copier, lbaSize, t0 + options.maxTime().toNanos());
                return;
            }
            flushedSinceLastPass = false;
            if (tooManyPasses || outOfTime || stalled >= options.stallPasses() || windowsStalled) {
                if (windowsStalled && stalled < options.stallPasses() && !outOfTime && !tooManyPasses) {
                    dirtyRate = windowDirtyRate;   // the numbers behind this verdict: the windows'
                    passRate = windowCopyRate;
                }
                String why = outOfTime ? "out of time (" + options.maxTime().toSeconds() + " s)"
                        : tooManyPasses ? (pass - passBase) + " passes"
                        : stalled >= options.stallPasses() ? stalled + " passes without progress"
                        : losing + " one-second windows in a row dirtying distinct blocks at least as fast as a full pass copies";
                String text = fixedNs > budgetNs
                        ? String.format("not converging: a stop costs %.1f ms before copying anything (its controller commands %.1f ms + a destination flush %.1f ms), above the %d ms budget; %s left (%s)",
                        fixedNs / 1e6, stopCommandsNs / 1e6, lastFlushNs / 1e6, options.maxDowntime().toMillis(), bytes(backlog), why)
                        : String.format("not converging: the guest dirties %s/s, a pass copies %s/s (%.0f us per range); %s in %d ranges left after %d passes, a stop now would take %.0f ms, budget %d ms (%s)",
                        bytes((long) dirtyRate), bytes((long) passRate), Math.max(0, secondsPerRange) * 1e6, bytes(backlog), st.extentCount(), pass,
                        predictedNs / 1e6, options.maxDowntime().toMillis(), why);
                if (throttleIops > 0) text += String.format(" with the guest throttled to %d writes/s", throttleIops);
                switch (options.onStall()) {
                    case ABORT -> {
                        decide(false, text + "; aborted (--on-stall abort)", backlog, st.extentCount(), predictedNs);
                        throw new MigrationException(verdict, null, report);
                    }
                    case FORCE -> {
                        decide(false, text + "; forced switchover (--on-stall force): expect a stop of about " + Math.round(predictedNs / 1e6) + " ms",
                                backlog, st.extentCount(), predictedNs);
                        report.forced = true;
                        // a forced stop still waits for the gate (a VM's RAM pre-copy must reach its
                        // pause first); out of time already, it gets one more --max-time for that
                        if (gate != StopGate.OPEN) {
                            passUntilGateOpens(track, copier, lbaSize, (outOfTime ? clock.getAsLong() : t0) + options.maxTime().toNanos());
                        }
                        return;
                    }
                    case THROTTLE -> {
                        boolean floor = throttleIops > 0 && throttleIops <= MIN_THROTTLE_IOPS;
                        if (outOfTime || throttleSteps >= MAX_THROTTLE_STEPS || floor || fixedNs > budgetNs) {
                            decide(false, text + "; throttling cannot make it converge, aborted (--on-stall throttle)", backlog, st.extentCount(), predictedNs);
                            throw new MigrationException(verdict, null, report);
                        }
                        long iops;
                        if (throttleIops == 0) {   // start at a quarter of what a pass copies, in guest-sized writes
                            double rangesPerSecond = secondsPerRange > 0 ? 1 / secondsPerRange : copyRate / lbaSize;
                            iops = Math.max(MIN_THROTTLE_IOPS, (long) (rangesPerSecond / 4));
                            if (guestWritesPerSecond > 0) iops = Math.min(iops, Math.max(MIN_THROTTLE_IOPS, (long) (guestWritesPerSecond / 2)));
                            report.guestWriteIopsBeforeThrottle = guestWritesPerSecond;
                        } else {
                            iops = Math.max(MIN_THROTTLE_IOPS, throttleIops / 2);
                        }
                        throttle(iops);
                        throttleIops = iops;
                        throttleSteps++;
                        passBase = pass;
                        stalled = 0;
                        windowsLosing = 0;
                        passCapacity = 0;   // measured again at the new guest rate
                        verdict = text + "; throttling the guest to " + iops + " writes/s (vendor feature C0h)";
                    }
                }
            }
            pass++;
            long p0 = clock.getAsLong();
            long c0 = progress.bytesCopied.get() + progress.bytesZero.get();
            long e0 = track.counters().changeEntries();
            // A pass takes about a second of copying at the rate the last one achieved, so the
            // verdict is revisited every second however large the backlog; what it leaves stays
            // dirty and the next pass continues after it (a sweep, wrapping at the end).
            double rateForBound = passRate > 0 ? passRate : copyRate;
            long maxBytes = Math.max(MIN_PASS_BYTES, (long) Math.min(Long.MAX_VALUE / 2.0, rateForBound * PASS_SECONDS));
            long before = dirty.stats().dirtyBytes();
            List<LbaRange> batch = dirty.takeBatch(maxBytes);
            boolean full = !dirty.isEmpty();   // the backlog outlasts this pass: its rate is what passes can do
            long taken = 0;
            for (LbaRange r : batch) taken += r.count() * lbaSize;
            int ranges = batch.size();
            if (batch.isEmpty()) Thread.sleep(5);
            else copier.copyRanges(toByteRanges(batch, lbaSize));
            absorb();
            long dt = Math.max(1, clock.getAsLong() - p0);
            long copied = progress.bytesCopied.get() + progress.bytesZero.get() - c0;
            if (ranges >= 8) {
                double spr = dt / 1e9 / ranges;
                secondsPerRange = secondsPerRange < 0 ? spr : 0.5 * secondsPerRange + 0.5 * spr;
            }
            if (copied > (8 << 20)) copyRate = rate(copied, dt);
            passRate = rate(copied, dt);
            if (full && ranges > 0) passCapacity = passRate;
            long after = dirty.stats().dirtyBytes();
            long newlyDirty = Math.max(0, after - Math.max(0, before - taken));   // dirtied (anew) while the pass ran
            dirtyRate = rate(newlyDirty, dt);
            guestWritesPerSecond = (track.counters().changeEntries() - e0) * 1e9 / dt;
            if (throttleIops > 0) report.guestWriteIopsThrottled = guestWritesPerSecond;
            // not draining: the guest dirtied at least 95 % of what the pass copied
            boolean draining = dirtyRate < passRate * 0.95;
            improving = ranges > 0 && after < before / 2;
            stalled = ranges > 0 && !draining ? stalled + 1 : 0;
            if (report.verdictDetail == null || !report.verdictDetail.converged()) {
                verdict = String.format("%s: pass %d copied %s in %d ranges, %s dirtied meanwhile (%s/s vs %s/s), %s left",
                        draining ? "converging" : "not converging yet", pass, bytes(copied), ranges, bytes(newlyDirty),
                        bytes((long) dirtyRate), bytes((long) passRate), bytes(after));
            }
        }
    }

    /**
     * Converged, but the stop must wait for the gate (a VM's RAM pre-copy): keep the backlog small
     * with passes that judge nothing, so the stop copies what was dirtied since the last of them.
     */
    private void passUntilGateOpens(Tracking track, Copier copier, int lbaSize, long deadlineNanos) throws Exception {
        gate.converged();
        while (true) {
            checkCancelled();
            checkAsync();
            recoverTracking(track);
            absorb();
            if (clock.getAsLong() - deadlineNanos > 0) {
                throw new MigrationException("out of time (" + options.maxTime().toSeconds() + " s) waiting for the stop gate", null, report);
            }
            List<LbaRange> batch = dirty.takeBatch(MIN_PASS_BYTES);
            if (!batch.isEmpty()) copier.copyRanges(toByteRanges(batch, lbaSize));
            if (gate.awaitReady(batch.isEmpty() ? 5_000_000L : 0)) return;
        }
    }

    private void decide(boolean converged, String text, long backlog, long ranges, double predictedNs) {
        verdict = text;
        report.verdictDetail = new Verdict(converged, text, dirtyRate, passRate > 0 ? passRate : copyRate, backlog, ranges,
                predictedNs / 1e6, options.maxDowntime().toMillis(), pass, elapsedMs());
        report.verdict = text;
    }

    /** The fastest of a few admin round trips (Get Features, Number of Queues) to the source MMC. */
    private long adminRoundTrip() throws NvmeException {
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            long a = clock.getAsLong();
            src.mmc().admin(dev.nvmelm.spec.AdminCommands.getFeatures(dev.nvmelm.spec.AdminCommands.FID_NUMBER_OF_QUEUES, 0), null);
            best = Math.min(best, clock.getAsLong() - a);
        }
        return best;
    }

    /** Vendor-specific feature C0h of the software controller: cap the MC's write rate. */
    private void throttle(long iops) throws NvmeException {
        src.mmc().admin(dev.nvmelm.spec.WriteThrottleFeature.set(src.cntlid(), iops), null).orThrow("vendor write throttle");
    }

    /**
     * Undoes a migration that did not commit: the guest back on the source if it had moved, the
     * source MC resumed (from whatever state the failure left it in) and unthrottled. The
     * destination MC stays suspended without state: incomplete.
     */
    private void abort(ControllerStateMachine srcState, boolean guestMoved) {
        try {
            if (guestMoved) handover.backToSource();
        } catch (Exception e) {
            report.warnings.add("abort: guest handover back to the source failed: " + e.getMessage());
        }
        try {
            MigState s = srcState.state();
            if (s == MigState.ERROR) {   // the failed arc may have suspended it: resume unconditionally
                var c = src.mmc().admin(new dev.nvmelm.spec.MigrationSendCommand.Resume(src.cntlid(), 0).toSqe(), null);
                if (!c.ok() && !c.status().is(dev.nvmelm.spec.StatusCodes.CTRL_NOT_SUSPENDED)) {
                    report.warnings.add("abort: Resume of the source controller failed: " + c.status());
                }
            } else if (s != MigState.RUNNING) {
                srcState.transition(MigState.RUNNING);
            }
        } catch (NvmeException | RuntimeException e) {
            report.warnings.add("abort: cannot resume the source controller: " + e.getMessage());
        }
        try {
            if (throttleIops > 0) throttle(0);
        } catch (NvmeException e) {
            report.warnings.add("abort: cannot lift the write throttle: " + e.getMessage());
        }
    }

    private static void closeQuietly(Tracking t) {
        if (t == null) return;
        try {
            t.close();
        } catch (NvmeException ignored) {
            // the controller may be gone
        }
    }

    static List<Copier.Range> toByteRanges(List<LbaRange> ranges, int lbaSize) {
        List<Copier.Range> out = new ArrayList<>(ranges.size());
        for (LbaRange r : ranges) out.add(new Copier.Range(r.slba() * lbaSize, r.count() * lbaSize));
        return out;
    }

    private static double rate(long bytes, long nanos) {
        return nanos <= 0 ? 0 : bytes * 1e9 / nanos;
    }

    static String bytes(long b) {
        if (b < 1024) return b + " B";
        if (b < 1 << 20) return String.format("%.1f KiB", b / 1024.0);
        if (b < 1 << 30) return String.format("%.1f MiB", b / 1048576.0);
        return String.format("%.2f GiB", b / 1073741824.0);
    }

    private void sample() {
        try {
            while (true) {
                Snapshot s = snapshot();
                report.timeline.add(new double[]{s.elapsedMs(), s.backlogBytes(), s.bytesCopied() + s.bytesZero()});
                if (listener != null) listener.progress(s);
                Thread.sleep(100);
            }
        } catch (InterruptedException done) {
            if (listener != null) listener.progress(snapshot());
        }
    }

    /** Numbers for the report; filled as the migration runs. */
    public static final class Report {
        public volatile String verdict = "";
        /** The final verdict and its numbers (null before the dirty passes decided). */
        public volatile Verdict verdictDetail;
        public long bytesCopied, bytesZero, bytesBulk, bytesDirty, bytesFinal, cdqEntries, anomalies, throttleIops;
        /** Bytes of CDQ ranges left out because the bulk copy had not read them yet. */
        public volatile long bytesIgnoredAhead;
        /** Bytes the guest dirtied on the source while tracked (every change, rewrites counted again). */
        public long cdqBytesDirtied;
        /** Bytes marked dirty again because a CDQ Full lost changes. */
        public volatile long bytesRecopiedAfterCdqFull;
        public volatile int passes, trackingRestarts;
        public boolean forced, fullRecopyInStop;
        /** The not-converging verdict came from the bulk copy's windows, before any dirty pass. */
        public volatile boolean verdictDuringBulk;
        /** The guest's write rate (CDQ change entries per second) in the pass before throttling, and throttled. */
        public double guestWriteIopsBeforeThrottle, guestWriteIopsThrottled;
        public long bulkMs;
        public double downtimeMs;
        /** The stop's controller commands as the rehearsal measured them (the fixed part of the prediction). */
        public double stopCommandsPredictedMs;
        public long totalMs;
        public ControllerStateMachine sourceStates, destinationStates;
        public final List<String> warnings = java.util.Collections.synchronizedList(new ArrayList<>());
        public final List<double[]> timeline = java.util.Collections.synchronizedList(new ArrayList<>());
        /** What the dirty passes' copies took, one {ranges, bytes, nanoseconds} per pass that copied. */
        public final List<long[]> passCopies = java.util.Collections.synchronizedList(new ArrayList<>());
        /** Where the downtime went, in order. */
        public final java.util.Map<String, Double> downtimeBreakdownMs = new java.util.LinkedHashMap<>();
    }

    /** Laps of the stop-and-copy, for the report. */
    private static final class StopTimer {
        final LongSupplier clock;
        long last;
        final java.util.Map<String, Double> laps = new java.util.LinkedHashMap<>();

        StopTimer(LongSupplier clock, long start) {
            this.clock = clock;
            this.last = start;
        }

        void lap(String name) {
            long now = clock.getAsLong();
            laps.put(name, Math.round((now - last) / 1e4) / 100.0);
            last = now;
        }
    }

    /**
     * A finished migration: the destination runs the guest and still tracks its writes, so
     * {@link #verify} can compare exactly what the guest did not rewrite after switchover.
     */
    public final class Outcome implements AutoCloseable {
        private final Report report;
        private final Tracking dstTrack;
        private final DirtyExtents afterResume;
        private final WriteLedger ledger;
        private volatile WriteLedger.Check writeCheck = WriteLedger.Check.NONE;
        private byte[] sourceState;

        /** The source controller's state (Get Controller State) after a storage-only switchover, else null. */
        public byte[] sourceControllerState() {
            return sourceState == null ? null : sourceState.clone();
        }

        Outcome(Report report, Tracking dstTrack, DirtyExtents afterResume, WriteLedger ledger) {
            this.ledger = ledger;
            this.report = report;
            this.dstTrack = dstTrack;
            this.afterResume = afterResume;
        }

        public Report report() {
            return report;
        }

        /**
         * Compares source and destination except the exact LBAs the guest rewrote after
         * switchover. The guest may keep running: destination tracking stays on while comparing,
         * and a differing block is excused only if the destination's CDQ logged a write to it —
         * that write completed before the compare read it, so its entry is already in the ring
         * (logged on completion, NVM Command Set, section 5.6) and one more poll finds it. Tracking stops afterwards.
         */
        public Verifier.Result verify(Verifier.Mode mode, long seed) throws IOException {
            int lba = src.data().blockSizeBytes();
            java.util.TreeMap<Long, Long> rewritten = new java.util.TreeMap<>();   // slba -> end
            // [first, end) blocks overlaps something the destination's CDQ logged after switchover
            java.util.function.BiPredicate<Long, Long> logged = (first, end) -> {
                var e = rewritten.lowerEntry(end);
                return e != null && e.getValue() > first;
            };
            WriteLedger.Rewritten rewrittenIn = (off, len) -> {
                long first = off / lba, end = (off + len + lba - 1) / lba;
                if (logged.test(first, end)) return true;
                if (dstTrack == null) return false;   // storage only: nobody writes the destination
                // The controller writes the data, then logs the range as the command completes:
                // a write seen half way through is logged within moments, so look a few times.
                long deadline = System.nanoTime() + 200_000_000L;
                while (true) {
                    dstTrack.pollNow();
                    rewritten.clear();
                    for (LbaRange r : afterResume.snapshot()) rewritten.put(r.slba(), r.end());
                    if (logged.test(first, end)) return true;
                    if (System.nanoTime() > deadline) return false;
                    try {
                        Thread.sleep(2);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return false;
                    }
                }
            };
            LongPredicate rewrittenAt = off -> rewrittenIn.any(off, lba);
            Verifier.Result result = Verifier.verify(src.data(), dst.data(), mode, seed, rewrittenAt);
            writeCheck = ledger == null ? WriteLedger.Check.NONE : ledger.check(mode, rewrittenIn);
            if (!writeCheck.ok()) {
                result = new Verifier.Result(mode, false, result.bytesCompared(), result.bytesSkipped(),
                        result.ok() ? writeCheck.firstMismatch() : result.firstMismatch());
            }
            try {
                if (dstTrack != null) dstTrack.stopLogging();
            } catch (NvmeException | InterruptedException e) {
                throw new IOException("cannot drain destination tracking after verifying: " + e.getMessage(), e);
            }
            return result;
        }

        /** The CRC32C read-back of every extent the copier wrote (after {@link #verify}). */
        public WriteLedger.Check writeCheck() {
            return writeCheck;
        }

        /** Writes the guest made on the destination after switchover, as tracked by its CDQ. */
        public long bytesRewrittenAfterSwitchover() {
            return afterResume.stats().dirtyBytes();
        }

        @Override
        public void close() throws NvmeException {
            if (dstTrack != null) dstTrack.close();
        }
    }

}
