package dev.nvmelm.migrate;

import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.cdq.CdqMarker;
import dev.nvmelm.host.cdq.DirtyExtents;
import dev.nvmelm.host.cdq.LbaRange;
import dev.nvmelm.migrate.block.BlockDevice;
import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.migrate.state.ControllerStateMachine;
import dev.nvmelm.migrate.state.MigState;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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

    /** One side: the MMC to command, the MC's CNTLID and NSID, and the namespace data path. */
    public record Side(NvmeDevice mmc, int cntlid, int nsid, BlockDevice data) {}

    /**
     * The VMM's part: point the guest at the destination controller (which has its state and is
     * not yet resumed), or back at the source when a migration aborts after that.
     */
    public interface GuestHandover {
        void toDestination() throws Exception;

        void backToSource() throws Exception;
    }

    public enum OnStall { ABORT, FORCE, THROTTLE }

    public enum Phase { SETUP, BULK, DIRTY, STOP_AND_COPY, DONE, ABORTED }

    public record Options(Duration maxDowntime, int maxPasses, Duration maxTime, OnStall onStall, Copier.Config copy,
                          long cdqBytes, boolean destinationIsZero) {
        public static Options defaults() {
            return new Options(Duration.ofMillis(50), 30, Duration.ofMinutes(30), OnStall.ABORT, Copier.Config.defaults(), 1 << 20, false);
        }
    }

    /** What a progress display shows; the byte counters only grow. */
    public record Snapshot(Phase phase, long bytesTotal, long bytesCopied, long bytesZero, long backlogBytes, int pass,
                           double copyRateBps, double dirtyRateBps, String verdict, long elapsedMs) {}

    public interface Listener {
        void progress(Snapshot s);
    }

    private final Side src, dst;
    private final GuestHandover handover;
    private final Options options;
    private final LongSupplier clock;
    private final Listener listener;
    private final Copier.Progress progress = new Copier.Progress();
    private final Report report = new Report();
    private volatile Phase phase = Phase.SETUP;
    private volatile int pass;
    private volatile double copyRate, dirtyRate, passRate;
    private long adminRoundTripNs, lastFlushNs;
    private volatile String verdict = "starting";
    private volatile DirtyExtents dirty;
    private volatile boolean cancelled;
    private long t0;

    public MediaMigration(Side src, Side dst, GuestHandover handover, Options options, LongSupplier nanoClock, Listener listener) {
        if (src.data().sizeBytes() != dst.data().sizeBytes() || src.data().blockSizeBytes() != dst.data().blockSizeBytes()) {
            throw new IllegalArgumentException("source and destination namespaces differ: " + src.data().sizeBytes() + " vs "
                    + dst.data().sizeBytes() + " bytes, LBA " + src.data().blockSizeBytes() + " vs " + dst.data().blockSizeBytes());
        }
        this.src = src;
        this.dst = dst;
        this.handover = handover;
        this.options = options;
        this.clock = nanoClock;
        this.listener = listener;
    }

    /** Asks the migration to abort at its next step (Ctrl-C). */
    public void cancel() {
        cancelled = true;
    }

    private void checkCancelled() throws MigrationException {
        if (cancelled) throw new MigrationException("cancelled");
    }

    private long elapsedMs() {
        return (clock.getAsLong() - t0) / 1_000_000;
    }

    public Snapshot snapshot() {
        DirtyExtents d = dirty;
        return new Snapshot(phase, src.data().sizeBytes(), progress.bytesCopied.get(), progress.bytesZero.get(),
                d == null ? 0 : d.stats().dirtyBytes(), pass, copyRate, dirtyRate, verdict, elapsedMs());
    }

    /** Runs the migration. On success the destination controller is running the guest. */
    public Outcome run() throws MigrationException {
        t0 = clock.getAsLong();
        int lbaSize = src.data().blockSizeBytes();
        long lbaCount = src.data().sizeBytes() / lbaSize;
        dirty = new DirtyExtents(src.nsid(), lbaCount, lbaSize);
        DirtyExtents afterResume = new DirtyExtents(dst.nsid(), lbaCount, lbaSize);
        ControllerStateMachine srcState = new ControllerStateMachine(src.mmc(), src.cntlid(), MigState.RUNNING);
        ControllerStateMachine dstState = new ControllerStateMachine(dst.mmc(), dst.cntlid(), MigState.RUNNING);
        Tracking srcTrack = null, dstTrack = null;
        boolean guestMoved = false;
        Thread sampler = Thread.ofVirtual().name("migration-progress").start(this::sample);
        try {
            srcTrack = new Tracking(src.mmc(), src.cntlid(), List.of(dirty), options.cdqBytes());
            srcTrack.startLogging();
            // The destination MC tracks too, so verification can tell the guest's writes after
            // switchover from migration errors; it must be active to start, then suspended.
            dstTrack = new Tracking(dst.mmc(), dst.cntlid(), List.of(afterResume), options.cdqBytes());
            dstTrack.startLogging();
            dstState.transition(MigState.STOP);
            adminRoundTripNs = adminRoundTrip();   // a stop costs four of these, plus the copy
            srcState.transition(MigState.PRE_COPY);

            phase = Phase.BULK;
            Copier copier = new Copier(src.data(), dst.data(), options.copy().withDestinationIsZero(options.destinationIsZero()), progress, clock);
            long b0 = clock.getAsLong();
            copier.bulk();
            copyRate = rate(progress.bytesCopied.get() + progress.bytesZero.get(), clock.getAsLong() - b0);
            report.bytesBulk = progress.bytesCopied.get();

            phase = Phase.DIRTY;
            dirtyPasses(srcTrack, copier, lbaSize);

            phase = Phase.STOP_AND_COPY;
            long down0 = clock.getAsLong();
            StopTimer stop = new StopTimer(clock, down0);
            long suspendedBefore = srcTrack.markers(CdqMarker.Kind.SUSPENDED);
            srcState.transition(MigState.STOP_COPY);   // Suspend + Get Controller State
            stop.lap("suspend+get_state");
            srcTrack.awaitMarker(CdqMarker.Kind.SUSPENDED, suspendedBefore, Duration.ofSeconds(30));
            stop.lap("drain_to_esa3");
            if (srcTrack.broken()) dirty.markAll();
            long before = progress.bytesCopied.get() + progress.bytesZero.get();
            while (!dirty.isEmpty()) copier.copyRanges(toByteRanges(dirty.takeBatch(Long.MAX_VALUE), lbaSize));   // a batch need not hold everything
            report.bytesFinal = progress.bytesCopied.get() + progress.bytesZero.get() - before;
            stop.lap("final_copy");
            dst.data().flush();
            stop.lap("flush");
            dstState.transition(MigState.RESUMING);
            dstState.load(srcState.savedState());
            dstState.transition(MigState.STOP);   // Set Controller State
            stop.lap("set_state");
            handover.toDestination();
            guestMoved = true;
            stop.lap("handover");
            dstState.transition(MigState.RUNNING);   // Resume: the guest runs on the destination
            stop.lap("resume");
            report.downtimeMs = (clock.getAsLong() - down0) / 1e6;
            report.downtimeBreakdownMs.putAll(stop.laps);
            srcState.transition(MigState.STOP);   // the saved state is no longer needed
            report.cdqEntries = srcTrack.entries();
            report.anomalies = srcTrack.anomalies();
            srcTrack.close();
            srcTrack = null;
            phase = Phase.DONE;
            report.totalMs = elapsedMs();
            report.passes = pass;
            report.verdict = verdict;
            report.bytesCopied = progress.bytesCopied.get();
            report.bytesZero = progress.bytesZero.get();
            report.bytesDirty = report.bytesCopied - report.bytesBulk;
            return new Outcome(report, dstTrack, afterResume);
        } catch (Exception e) {
            phase = Phase.ABORTED;
            abort(srcState, dstState, guestMoved);
            closeQuietly(srcTrack);
            closeQuietly(dstTrack);
            if (e instanceof MigrationException me) throw me;
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            throw new MigrationException(e.getMessage() == null ? e.toString() : e.getMessage(), e);
        } finally {
            sampler.interrupt();
        }
    }

    /**
     * Dirty passes until the backlog fits the downtime budget at the measured copy rate; a pass
     * takes every dirty range (clear, then read: anything written meanwhile is queued again).
     */
    private void dirtyPasses(Tracking track, Copier copier, int lbaSize) throws Exception {
        long budgetNs = options.maxDowntime().toNanos();
        int stalled = 0;
        boolean throttled = false;
        double secondsPerRange = -1;   // measured: small random ranges cost per request, not per byte
        boolean flushedSinceLastPass = false;
        while (true) {
            checkCancelled();
            if (track.broken()) {   // ESA 7: changes may have been lost; restart and recopy everything
                report.trackingRestarts++;
                track.startLogging();
                dirty.markAll();
            }
            DirtyExtents.Stats st = dirty.stats();
            long backlog = st.dirtyBytes();
            // The stop: Suspend, Get State, Set State, Resume and friends, a flush, then the copy.
            double fixedNs = 4.0 * adminRoundTripNs + lastFlushNs;
            double predictedNs = fixedNs + Math.max(copyRate > 0 ? backlog / copyRate * 1e9 : Double.MAX_VALUE,
                    secondsPerRange > 0 ? st.extentCount() * secondsPerRange * 1e9 : 0);
            boolean measured = pass > 0 || backlog == 0;   // one pass measures what a stop would cost
            if (measured && predictedNs <= budgetNs) {
                if (!flushedSinceLastPass) {   // flush first: an fsync inside the stop would be downtime
                    long f0 = clock.getAsLong();
                    dst.data().flush();
                    long f1 = clock.getAsLong();
                    dst.data().flush();   // what a flush costs when little is dirty: the stop's flush
                    lastFlushNs = clock.getAsLong() - f1;
                    if (f1 - f0 < 0) lastFlushNs = 0;
                    flushedSinceLastPass = true;
                    continue;   // and look again: the guest kept writing meanwhile
                }
                verdict = String.format("converged: %s in %d ranges left, predicted stop %.1f ms", bytes(backlog), st.extentCount(), predictedNs / 1e6);
                return;
            }
            flushedSinceLastPass = false;
            boolean outOfTime = clock.getAsLong() - t0 > options.maxTime().toNanos();
            if (pass >= options.maxPasses() || outOfTime || stalled >= 3) {
                verdict = fixedNs > budgetNs
                        ? String.format("not converging: a stop costs %.1f ms before copying anything (4 admin round trips + a flush), above the %d ms budget; %s left",
                        fixedNs / 1e6, options.maxDowntime().toMillis(), bytes(backlog))
                        : String.format("not converging: guest dirties %s/s, a pass copies %s/s (%.0f us per range); %s left after %d passes",
                        bytes((long) dirtyRate), bytes((long) passRate), secondsPerRange * 1e6, bytes(backlog), pass);
                switch (options.onStall()) {
                    case ABORT -> throw new MigrationException(verdict + " (aborted: --on-stall abort)");
                    case FORCE -> {
                        verdict += "; forced switchover";
                        return;
                    }
                    case THROTTLE -> {
                        if (throttled) {
                            verdict += "; still not converging while throttled, forced switchover";
                            return;
                        }
                        double rangesPerSecond = secondsPerRange > 0 ? 1 / secondsPerRange : copyRate / lbaSize;
                        long iops = Math.max(50, (long) (rangesPerSecond / 4));   // a quarter of what a pass can copy
                        throttle(iops);
                        report.throttleIops = iops;
                        throttled = true;
                        stalled = 0;
                        verdict += "; throttling the guest to " + iops + " writes/s";
                    }
                }
            }
            pass++;
            long p0 = clock.getAsLong();
            long c0 = progress.bytesCopied.get() + progress.bytesZero.get();
            int ranges = 0;
            List<LbaRange> batch = dirty.takeBatch(Long.MAX_VALUE);
            if (batch.isEmpty()) {
                Thread.sleep(5);
            } else {
                ranges = batch.size();
                copier.copyRanges(toByteRanges(batch, lbaSize));
            }
            long dt = Math.max(1, clock.getAsLong() - p0);
            long copied = progress.bytesCopied.get() + progress.bytesZero.get() - c0;
            if (ranges >= 8) {
                double spr = dt / 1e9 / ranges;
                secondsPerRange = secondsPerRange < 0 ? spr : 0.5 * secondsPerRange + 0.5 * spr;
            }
            if (copied > (8 << 20)) copyRate = rate(copied, dt);
            passRate = rate(copied, dt);
            long after = dirty.stats().dirtyBytes();
            dirtyRate = rate(after, dt);
            stalled = ranges > 0 && after >= backlog * 0.9 ? stalled + 1 : 0;
        }
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
        src.mmc().admin(dev.nvmelm.spec.Sqe.of(dev.nvmelm.spec.Opcodes.SET_FEATURES).withCdw10(0xC0)
                .withCdw11(src.cntlid()).withCdw12((int) iops), null).orThrow("vendor write throttle");
    }

    private void abort(ControllerStateMachine srcState, ControllerStateMachine dstState, boolean guestMoved) {
        try {
            if (guestMoved) handover.backToSource();
        } catch (Exception ignored) {
            // the resume below is what matters for the source
        }
        try {
            MigState s = srcState.state();
            if (s == MigState.STOP || s == MigState.STOP_COPY) srcState.transition(MigState.RUNNING);
            else if (s == MigState.ERROR) {   // the failed arc may have suspended it: resume unconditionally
                src.mmc().admin(new dev.nvmelm.spec.MigrationSendCommand.Resume(src.cntlid(), 0).toSqe(), null);
            }
        } catch (NvmeException ignored) {
            // reported by the caller's message; nothing else can be done here
        }
        try {
            if (options.onStall() == OnStall.THROTTLE) throttle(0);
        } catch (NvmeException ignored) {
            // best effort
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
        public long bytesCopied, bytesZero, bytesBulk, bytesDirty, bytesFinal, cdqEntries, anomalies, throttleIops;
        public int passes, trackingRestarts;
        public double downtimeMs;
        public long totalMs;
        public final List<double[]> timeline = java.util.Collections.synchronizedList(new ArrayList<>());
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

        Outcome(Report report, Tracking dstTrack, DirtyExtents afterResume) {
            this.report = report;
            this.dstTrack = dstTrack;
            this.afterResume = afterResume;
        }

        public Report report() {
            return report;
        }

        /**
         * Compares source and destination except the exact LBAs the guest rewrote after
         * switchover. Stops tracking on the destination first and drains to the ESA 2 marker,
         * so every write the guest made there is known (call it once the guest is quiet).
         */
        public Verifier.Result verify(Verifier.Mode mode, long seed) throws IOException {
            try {
                dstTrack.stopLogging();
            } catch (NvmeException | InterruptedException e) {
                throw new IOException("cannot drain destination tracking before verifying: " + e.getMessage(), e);
            }
            java.util.TreeMap<Long, Long> rewritten = new java.util.TreeMap<>();   // slba -> end
            for (LbaRange r : afterResume.snapshot()) rewritten.put(r.slba(), r.end());
            int lba = src.data().blockSizeBytes();
            return Verifier.verify(src.data(), dst.data(), mode, seed, off -> {
                var e = rewritten.floorEntry(off / lba);
                return e != null && off / lba < e.getValue();
            });
        }

        /** Writes the guest made on the destination after switchover, as tracked by its CDQ. */
        public long bytesRewrittenAfterSwitchover() {
            return afterResume.stats().dirtyBytes();
        }

        @Override
        public void close() throws NvmeException {
            dstTrack.close();
        }
    }

}
