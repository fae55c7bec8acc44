package dev.nvmelm.host.cdq;

import dev.nvmelm.Await;
import dev.nvmelm.host.AsyncEventInfo;
import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.cdq.ControllerRig.Change;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.TailPointerTrigger;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.AdminOpcode;
import dev.nvmelm.spec.Sqe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The consumer against the software controller (device.Subsystem) through the in-process
 * queue driver: real Track Send, Suspend/Resume, I/O on several queues of MC 1, the
 * controller's own CDQ producer, Tail Pointer Trigger and CDQ Full events.
 *
 * <p>Writers are paced with {@link CdqConsumer#acknowledgedEntries()} so that the ring can fill
 * only where a test wants it to: a lost entry is then the consumer's fault, never the
 * workload's. Seeds are random and printed in every assertion message.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CdqConsumerOnControllerTest {
    /** The controller's Tail Pointer Trigger rule; the host is configured for the same one. */
    TailPointerTrigger rule() {
        return TailPointerTrigger.SLOT_POSTED;
    }

    @TempDir
    Path dir;

    /** Records markers and anomalies in ring order; waits for markers. */
    static final class Recorder implements CdqListener {
        final List<CdqMarker> markers = new CopyOnWriteArrayList<>();
        final List<CdqAnomaly> anomalies = new CopyOnWriteArrayList<>();
        final List<String> headReportFailures = new CopyOnWriteArrayList<>();

        @Override
        public synchronized void onMarker(CdqMarker m) {
            markers.add(m);
            notifyAll();
        }

        @Override
        public void onAnomaly(CdqAnomaly a) {
            anomalies.add(a);
        }

        @Override
        public void onHeadReportFailed(int head, Throwable cause) {
            headReportFailures.add(head + ": " + cause);
        }

        synchronized void awaitCount(CdqMarker.Kind kind, long count, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (markers.stream().filter(m -> m.kind() == kind).count() < count) {
                long left = deadline - System.nanoTime();
                if (left <= 0) throw new AssertionError("no " + kind + " marker #" + count + " within " + timeout + "; markers " + markers);
                wait(Math.max(1, left / 1_000_000));
            }
        }
    }

    /**
     * Keeps (entries the controller may have logged) - (entries acknowledged) at most
     * {@code limit}, so the ring never holds more than that. Each reservation is the exact
     * number of entries the command logs, so the totals also predict the consumer's count.
     */
    static final class RingPacer {
        private final CdqConsumer consumer;
        private final int limit;
        private long reserved;

        RingPacer(CdqConsumer consumer, int limit) {
            this.consumer = consumer;
            this.limit = limit;
        }

        synchronized void reserve(int entries) throws InterruptedException {
            while (reserved + entries - consumer.acknowledgedEntries() > limit) wait(0, 200_000);
            reserved += entries;
        }

        synchronized long reserved() {
            return reserved;
        }
    }

    /** Entries a DSM deallocate logs: one per run of its ranges, adjacent ranges joined (docs/spec.md, "User Data Migration Queue entry"). */
    static int runs(List<IoCommands.DsmRange> ranges) {
        var sorted = new ArrayList<>(ranges);
        sorted.sort(Comparator.comparingLong(IoCommands.DsmRange::slba));
        int runs = 0;
        long end = -1;
        for (var r : sorted) {
            if (r.slba() > end) runs++;
            end = Math.max(end, r.slba() + r.blockCount());
        }
        return runs;
    }

    static Change randomChange(SplittableRandom rnd, int namespaces, long lbaCount) {
        int nsid = 1 + rnd.nextInt(namespaces);
        int kind = rnd.nextInt(10);
        if (kind < 7) {
            int count = 1 + rnd.nextInt(rnd.nextBoolean() ? 2 : 32);
            return new ControllerRig.Write(nsid, rnd.nextLong(lbaCount - count + 1), count);
        }
        if (kind < 9) {
            int count = 1 + rnd.nextInt(64);
            return new ControllerRig.Zeroes(nsid, rnd.nextLong(lbaCount - count + 1), count, rnd.nextBoolean());
        }
        List<IoCommands.DsmRange> ranges = new ArrayList<>();
        for (int i = 1 + rnd.nextInt(4); i > 0; i--) {
            int count = 1 + rnd.nextInt(16);
            ranges.add(new IoCommands.DsmRange(rnd.nextLong(lbaCount - count + 1), count));
        }
        return new ControllerRig.Deallocate(nsid, ranges);
    }

    static int entriesOf(Change c) {
        return c instanceof ControllerRig.Deallocate d ? runs(d.ranges()) : 1;
    }

    static BitSet toBits(List<LbaRange> ranges) {
        BitSet b = new BitSet();
        for (LbaRange r : ranges) b.set((int) r.slba(), (int) r.end());
        return b;
    }

    /**
     * Several writers on several I/O queues of MC 1 while the consumer loop runs, with two
     * Suspend/Resume cycles in the middle. Every LBA changed while tracking was on is in the
     * extents (exactly those: nothing degrades here), every entry is consumed once, markers
     * arrive in order, and a correct controller produces no anomaly.
     */
    @ParameterizedTest(name = "contiguous={0} entries={1} k={2} batch={3}")
    @CsvSource({"true, 64, 1, 16", "false, 256, 4, 64", "true, 32, 1, 1"})
    void concurrentChangesOnSeveralQueuesAreAllCovered(boolean contiguous, int ringEntries, int k, int batch) throws Exception {
        long seed = new SplittableRandom().nextLong();
        String why = "seed " + seed;
        try (var rig = new ControllerRig(rule(), dir, 16 << 20, 2, 4)) {
            CdqQueue cdq = rig.mmc.createCdq(1, ringEntries * 32L, contiguous);
            List<DirtyExtents> extents = rig.extents(DirtyExtents.Config.DEFAULT);
            var rec = new Recorder();
            // With k = 1 the safety poll is an hour: only the trigger and the re-scan wake the
            // consumer, so a missed arming race (docs/spec.md, "Tail Pointer Trigger") would stall the test into its timeout.
            Duration safety = k == 1 ? Duration.ofHours(1) : Duration.ofMillis(20);
            var dev = new WatchedMmc(rig.mmc, rule(), k, ringEntries);
            var consumer = CdqConsumer.builder(dev, cdq).namespaces(extents).listener(rec)
                    .config(new CdqConsumer.Config(batch, k, safety, Duration.ofSeconds(10)).withTailPointerTrigger(rule())).build();
            var pacer = new RingPacer(consumer, ringEntries - 3);   // a marker always finds 2 free slots
            consumer.start();

            pacer.reserve(1);
            rig.trackStart(cdq.cdqid());
            rec.awaitCount(CdqMarker.Kind.FIRST, 1, Duration.ofSeconds(30));

            BitSet[] oracle = {new BitSet(), new BitSet()};
            List<Throwable> errors = new CopyOnWriteArrayList<>();
            int writers = 3, perWriter = 700;
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                var rnd = new SplittableRandom(seed + w);
                threads.add(Thread.ofPlatform().name("writer-" + w).start(() -> {
                    Semaphore inFlight = new Semaphore(4);
                    try {
                        for (int i = 0; i < perWriter; i++) {
                            Change ch = randomChange(rnd, 2, rig.lbaCount);
                            inFlight.acquire();
                            pacer.reserve(entriesOf(ch));
                            rig.submit(ch).whenComplete((c, t) -> {
                                if (t != null || !c.ok()) errors.add(t != null ? t : new AssertionError(ch + ": " + c.status()));
                                else synchronized (oracle) {
                                    ch.markInto(oracle[ch.nsid() - 1]);
                                }
                                inFlight.release();
                            });
                        }
                        inFlight.acquire(4);
                    } catch (Throwable t) {
                        errors.add(t);
                    }
                }));
            }
            // The migration side suspends and resumes MC 1 twice while the writers run.
            var rnd = new SplittableRandom(seed ^ 0x5eed);
            for (int cycle = 0; cycle < 2; cycle++) {
                // random real-time pauses: where in the writers' stream the suspensions land is the variable under test
                Thread.sleep(1 + rnd.nextInt(20));
                pacer.reserve(1);
                rig.suspend();
                Thread.sleep(rnd.nextInt(5));   // how long the MC stays suspended, likewise
                pacer.reserve(1);
                rig.resume();
            }
            for (Thread t : threads) t.join();
            assertThat(errors).as(why).isEmpty();

            pacer.reserve(1);
            rig.trackStop(cdq.cdqid());
            rec.awaitCount(CdqMarker.Kind.STOPPED, 1, Duration.ofSeconds(30));
            consumer.close();

            assertThat(consumer.failure()).as(why).isEmpty();
            assertThat(rec.anomalies).as(why).isEmpty();
            assertThat(rec.headReportFailures).as(why).isEmpty();
            assertThat(consumer.trackingBroken()).as(why).isFalse();
            assertThat(dev.maxInFlight).as(why + ": Set Features FID 21h in flight").isEqualTo(1);
            assertThat(dev.violations).as(why).isEmpty();
            assertThat(dev.arms).as(why).isPositive();
            assertThat(rec.markers).extracting(CdqMarker::kind).as(why).containsExactly(
                    CdqMarker.Kind.FIRST, CdqMarker.Kind.SUSPENDED, CdqMarker.Kind.FIRST,
                    CdqMarker.Kind.SUSPENDED, CdqMarker.Kind.FIRST, CdqMarker.Kind.STOPPED);
            assertThat(rec.markers).extracting(CdqMarker::sequence).as(why).isSorted().doesNotHaveDuplicates();
            var counters = consumer.counters();
            assertThat(counters.entries()).as(why + ": every logged entry consumed once").isEqualTo(pacer.reserved());
            assertThat(counters.ringPasses()).as(why).isGreaterThanOrEqualTo(pacer.reserved() / ringEntries);
            for (int n = 0; n < 2; n++) {
                BitSet got = toBits(extents.get(n).snapshot());
                BitSet missing = (BitSet) oracle[n].clone();
                missing.andNot(got);
                assertThat(missing.toString()).as(why + ": NSID " + (n + 1) + " LBAs changed but not reported").isEqualTo("{}");
                assertThat(got).as(why + ": NSID " + (n + 1) + " reports exactly what changed").isEqualTo(oracle[n]);
            }
            cdq.close();
        }
    }

    /** A ring of 8 slots, around more than three thousand times, against a steady writer. */
    @Test
    void aSmallRingWrapsThousandsOfTimes() throws Exception {
        long seed = new SplittableRandom().nextLong();
        String why = "seed " + seed;
        var rnd = new SplittableRandom(seed);
        final int ringEntries = 8, passes = 3_000;
        try (var rig = new ControllerRig(rule(), dir, 16 << 20, 2, 2)) {
            CdqQueue cdq = rig.mmc.createCdq(1, ringEntries * 32L);
            List<DirtyExtents> extents = rig.extents(DirtyExtents.Config.DEFAULT);
            var rec = new Recorder();
            var dev = new WatchedMmc(rig.mmc, rule(), 1, ringEntries);
            var consumer = CdqConsumer.builder(dev, cdq).namespaces(extents).listener(rec)
                    .config(new CdqConsumer.Config(3, 1, Duration.ofHours(1), Duration.ofSeconds(10)).withTailPointerTrigger(rule())).build();
            var pacer = new RingPacer(consumer, ringEntries - 3);
            consumer.start();
            pacer.reserve(1);
            rig.trackStart(cdq.cdqid());
            BitSet[] oracle = {new BitSet(), new BitSet()};
            Semaphore inFlight = new Semaphore(4);
            List<Throwable> errors = new CopyOnWriteArrayList<>();
            long total = (long) ringEntries * passes;
            for (long i = 1; i < total && errors.isEmpty(); i++) {
                int nsid = 1 + rnd.nextInt(2);
                int count = 1 + rnd.nextInt(4);
                var ch = new ControllerRig.Write(nsid, rnd.nextLong(rig.lbaCount - count + 1), count);
                inFlight.acquire();
                pacer.reserve(1);
                rig.submit(ch).whenComplete((c, t) -> {
                    if (t != null || !c.ok()) errors.add(t != null ? t : new AssertionError(ch + ": " + c.status()));
                    else synchronized (oracle) {
                        ch.markInto(oracle[nsid - 1]);
                    }
                    inFlight.release();
                });
            }
            inFlight.acquire(4);
            pacer.reserve(1);
            rig.trackStop(cdq.cdqid());
            rec.awaitCount(CdqMarker.Kind.STOPPED, 1, Duration.ofSeconds(30));
            consumer.close();
            assertThat(errors).as(why).isEmpty();
            assertThat(consumer.failure()).as(why).isEmpty();
            var k = consumer.counters();
            assertThat(k.ringPasses()).as(why).isGreaterThanOrEqualTo(passes);
            assertThat(k.notifications()).as(why + ": the trigger woke the consumer").isPositive();
            assertThat(dev.maxInFlight).as(why).isEqualTo(1);
            assertThat(dev.violations).as(why).isEmpty();
            assertThat(k.entries()).as(why).isEqualTo(pacer.reserved());
            assertThat(rec.anomalies).as(why).isEmpty();
            assertThat(rec.markers).extracting(CdqMarker::kind).as(why).containsExactly(CdqMarker.Kind.FIRST, CdqMarker.Kind.STOPPED);
            for (int n = 0; n < 2; n++) assertThat(toBits(extents.get(n).snapshot())).as(why).isEqualTo(oracle[n]);
            cdq.close();
        }
    }

    /**
     * Forwards to the MMC and watches the consumer's Set Features FID 21h: at most one in flight,
     * and an armed trigger always at (HP + k) mod N. It can also run a hook just before a
     * command that arms the trigger reaches the controller: changes written in that window move
     * the tail past the TPT before it is armed (docs/spec.md, "Tail Pointer Trigger").
     */
    static final class WatchedMmc implements NvmeDevice {
        private final NvmeDevice mmc;
        private final int k, entries;
        private final TailPointerTrigger rule;
        volatile Runnable beforeArm = () -> {};
        volatile int arms;
        private final java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();
        volatile int maxInFlight;
        final List<String> violations = new CopyOnWriteArrayList<>();

        WatchedMmc(NvmeDevice mmc, TailPointerTrigger rule, int k, int entries) {
            this.mmc = mmc;
            this.rule = rule;
            this.k = k;
            this.entries = entries;
        }

        @Override
        public CompletableFuture<Completion> submitAdmin(Sqe sqe, MemorySegment data) {
            if (sqe.opcode() != AdminOpcode.SET_FEATURES.value() || (sqe.cdw10() & 0xff) != CdqFeature.FID) return mmc.submitAdmin(sqe, data);
            var cmd = CdqFeature.SetCdq.decode(sqe);
            int now = inFlight.incrementAndGet();
            maxInFlight = Math.max(maxInFlight, now);
            if (cmd.etpt()) {
                arms++;
                if (cmd.tailPointerTrigger() != rule.armFor(cmd.headPointer(), k, entries)) violations.add("TPT " + cmd);
                beforeArm.run();
            }
            return mmc.submitAdmin(sqe, data).whenComplete((c, t) -> inFlight.decrementAndGet());
        }

        @Override public String name() { return mmc.name(); }

        @Override public CompletableFuture<Completion> submitIo(Sqe sqe, MemorySegment data) { return mmc.submitIo(sqe, data); }

        @Override public MemorySegment allocateBuffer(long sizeBytes) { return mmc.allocateBuffer(sizeBytes); }

        @Override public CdqQueue createCdq(int cntlid, long sizeBytes) throws NvmeException { return mmc.createCdq(cntlid, sizeBytes); }

        @Override public void onAsyncEvent(Consumer<AsyncEventInfo> listener) { mmc.onAsyncEvent(listener); }

        @Override public Duration timeout() { return mmc.timeout(); }

        @Override public void close() {}
    }

    @Test
    void changesLandingBetweenTheHeadReportAndTheTriggerAreFoundByTheRescan() throws Exception {
        try (var rig = new ControllerRig(rule(), dir, 16 << 20, 1, 2)) {
            CdqQueue cdq = rig.mmc.createCdq(1, 64 * 32L);
            var dev = new WatchedMmc(rig.mmc, rule(), 1, 64);
            var ns = rig.extents(DirtyExtents.Config.DEFAULT).getFirst();
            var rec = new Recorder();
            // No safety poll worth the name: a consumer that sleeps here sleeps for an hour.
            var consumer = CdqConsumer.builder(dev, cdq).namespaces(List.of(ns)).listener(rec)
                    .config(new CdqConsumer.Config(64, 1, Duration.ofHours(1), Duration.ofSeconds(10)).withTailPointerTrigger(rule())).build();
            rig.trackStart(cdq.cdqid());
            assertThat(consumer.pollOnce()).isEqualTo(1);                        // ESA 1 at slot 0
            assertThat(rec.markers).containsExactly(new CdqMarker(CdqMarker.Kind.FIRST, 0, 0));
            awaitAcknowledged(consumer, 1);

            dev.beforeArm = () -> {
                dev.beforeArm = () -> {};
                try {
                    for (int i = 0; i < 3; i++) rig.write(1, 100L * i, 2);       // slots 1, 2, 3: past the armed slot
                } catch (NvmeException e) {
                    throw new RuntimeException(e);
                }
            };
            // Found by the re-scan after arming, not by sleeping out the wait.
            assertThat(consumer.awaitEntries(Duration.ofSeconds(5))).isTrue();
            assertThat(consumer.counters().timedWakeups()).as("slept although entries were waiting").isZero();
            assertThat(consumer.counters().notifications()).isZero();
            assertThat(dev.arms).isEqualTo(1);
            // The controller holds ETPT with a TPT the tail already passed: no event came.
            MemorySegment fid = rig.mmc.allocateBuffer(CdqFeature.CdqFeatureData.SIZE);
            Completion got = rig.mmc.admin(new CdqFeature.GetCdq(cdq.cdqid()).toSqe(), fid).orThrow("Get Features 21h");
            assertThat(got.dw0() >>> 31).as("ETPT still set").isEqualTo(1);
            assertThat(CdqFeature.CdqFeatureData.decode(fid, 0)).isEqualTo(new CdqFeature.CdqFeatureData(1, rule().armFor(1, 1, 64)));
            assertThat(cdq.awaitNotification(Duration.ofMillis(50))).as("no Tail Pointer event").isFalse();

            assertThat(consumer.pollOnce()).isEqualTo(3);
            assertThat(ns.snapshot()).containsExactly(new LbaRange(0, 2), new LbaRange(100, 2), new LbaRange(200, 2));
            awaitAcknowledged(consumer, 4);
            // The plain head report that followed the batch disarmed the stale trigger.
            got = rig.mmc.admin(new CdqFeature.GetCdq(cdq.cdqid()).toSqe(), fid).orThrow("Get Features 21h");
            assertThat(got.dw0() >>> 31).isZero();
            assertThat(CdqFeature.CdqFeatureData.decode(fid, 0).headPointer()).isEqualTo(4);

            // A trigger armed in time fires: once the controller holds ETPT, a write wakes the consumer.
            Thread writer = Thread.ofPlatform().start(() -> {
                try {
                    MemorySegment buf = rig.mmc.allocateBuffer(CdqFeature.CdqFeatureData.SIZE);
                    Await.until("the controller holds ETPT", Duration.ofSeconds(30),
                            () -> dev.arms >= 2 && rig.mmc.admin(new CdqFeature.GetCdq(cdq.cdqid()).toSqe(), buf).dw0() >>> 31 != 0);
                    rig.write(1, 500, 1);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            assertThat(consumer.awaitEntries(Duration.ofHours(1))).isTrue();
            writer.join();
            assertThat(consumer.pollOnce()).isEqualTo(1);
            // Woken by the event, or (if the write beat the re-scan) the event is still pending.
            long delivered = consumer.counters().notifications() + (cdq.awaitNotification(Duration.ofMillis(200)) ? 1 : 0);
            assertThat(delivered).as("one Tail Pointer event").isEqualTo(1);
            assertThat(rec.anomalies).isEmpty();
            consumer.close();
            cdq.close();
        }
    }

    /**
     * NVMe Base 2.1, Figures 154 and 426: the entry posted into slot TPT raises the CDQ Tail
     * Pointer event. After the host drained to its head and armed for the next entry, a lone
     * final marker (ESA 3 after Suspend, ESA 2 after Track Send stop) lands in slot head: it must
     * raise the event, or the host would sleep out its fallback poll inside the downtime.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"suspend", "track-stop"})
    void aLoneFinalMarkerRaisesTheTailPointerEvent(String how) throws Exception {
        try (var rig = new ControllerRig(rule(), dir, 16 << 20, 1, 2)) {
            CdqQueue cdq = rig.mmc.createCdq(1, 64 * 32L);
            var dev = new WatchedMmc(rig.mmc, rule(), 1, 64);
            var consumer = CdqConsumer.builder(dev, cdq).namespaces(rig.extents(DirtyExtents.Config.DEFAULT)).listener(new Recorder())
                    .config(new CdqConsumer.Config(64, 1, Duration.ofHours(1), Duration.ofSeconds(10)).withTailPointerTrigger(rule())).build();
            rig.trackStart(cdq.cdqid());
            rig.write(1, 7, 1);
            assertThat(consumer.pollOnce()).isEqualTo(1);                        // ESA 1 at slot 0
            assertThat(consumer.pollOnce()).isEqualTo(1);                        // the write at slot 1
            awaitAcknowledged(consumer, 2);
            Thread mover = Thread.ofPlatform().start(() -> {
                try {
                    MemorySegment buf = rig.mmc.allocateBuffer(CdqFeature.CdqFeatureData.SIZE);
                    while (rig.mmc.admin(new CdqFeature.GetCdq(cdq.cdqid()).toSqe(), buf).dw0() >>> 31 == 0) Thread.onSpinWait();
                    if (how.equals("suspend")) rig.suspend();
                    else rig.trackStop(cdq.cdqid());
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            assertThat(consumer.awaitEntries(Duration.ofSeconds(30))).isTrue();
            mover.join();
            assertThat(consumer.counters().timedWakeups()).as("slept out the fallback poll").isZero();
            // Woken by the event, or (if the marker beat the re-scan) the event is pending.
            long delivered = consumer.counters().notifications() + (cdq.awaitNotification(Duration.ofSeconds(10)) ? 1 : 0);
            assertThat(delivered).as("the marker in slot 2 raised the Tail Pointer event").isEqualTo(1);
            assertThat(dev.violations).isEmpty();
            var m = consumer.drainUntil(x -> true, Duration.ofSeconds(10));
            assertThat(m).map(CdqMarker::kind).contains(how.equals("suspend") ? CdqMarker.Kind.SUSPENDED : CdqMarker.Kind.STOPPED);
            assertThat(m.get().slot()).isEqualTo(2);
            consumer.close();
            cdq.close();
        }
    }

    /**
     * The ring fills: the entry that fills it carries ESA 7, a CDQ Full event arrives, and
     * changes after it are lost by the controller. The consumer reports tracking broken; the
     * caller deletes the CDQ, creates a new one, restarts tracking, waits for its ESA 1 and
     * only then marks the namespace wholly dirty, so nothing written at any point is missed.
     */
    @Test
    void aFullRingBreaksTrackingAndRecreatingTheQueueRecovers() throws Exception {
        try (var rig = new ControllerRig(rule(), dir, 16 << 20, 1, 2)) {
            final int n = 8;
            CdqQueue cdq = rig.mmc.createCdq(1, n * 32L);
            var ns = rig.extents(DirtyExtents.Config.DEFAULT).getFirst();
            var rec = new Recorder();
            var consumer = CdqConsumer.builder(rig.mmc, cdq).namespaces(List.of(ns)).listener(rec)
                    .config(new CdqConsumer.Config(64, 1, Duration.ofMillis(20), Duration.ofSeconds(10)).withTailPointerTrigger(rule())).build();
            rig.trackStart(cdq.cdqid());                                   // slot 0: ESA 1
            BitSet written = new BitSet();
            for (int i = 0; i < 10; i++) {                                  // slots 1-6; the 6th fills the ring
                rig.write(1, 10L * i, 1);
                written.set(10 * i);
            }
            assertThat(cdq.awaitNotification(Duration.ofSeconds(10))).as("CDQ Full event").isTrue();
            assertThat(LbaMigrationEntry.decode(cdq.ring(), 6 * 32L).esa()).isEqualTo(LbaMigrationEntry.ESA_QUEUE_FULL);

            assertThat(consumer.pollOnce()).isEqualTo(1);                  // the ESA 1 marker ends a batch
            assertThat(consumer.pollOnce()).isEqualTo(6);
            assertThat(consumer.trackingBroken()).isTrue();
            assertThat(rec.markers).containsExactly(new CdqMarker(CdqMarker.Kind.FIRST, 0, 0), new CdqMarker(CdqMarker.Kind.QUEUE_FULL, 6, 6));
            assertThat(consumer.counters().queueFullMarkers()).isEqualTo(1);
            BitSet got = toBits(ns.snapshot());
            assertThat(got).as("the ESA 7 entry's own range counts").isEqualTo(bits(0, 10, 20, 30, 40, 50));
            BitSet lost = (BitSet) written.clone();
            lost.andNot(got);
            assertThat(lost).as("what the controller dropped after ESA 7").isEqualTo(bits(60, 70, 80, 90));
            awaitAcknowledged(consumer, 7);
            rig.write(1, 300, 1);                                           // still broken: not logged
            assertThat(consumer.pollOnce()).isZero();
            written.set(300);

            // Recovery: delete, recreate, restart, then mark everything dirty.
            consumer.close();
            cdq.close();
            CdqQueue cdq2 = rig.mmc.createCdq(1, 64 * 32L);
            var rec2 = new Recorder();
            var consumer2 = CdqConsumer.builder(rig.mmc, cdq2).namespaces(List.of(ns)).listener(rec2)
                    .config(new CdqConsumer.Config(64, 1, Duration.ofHours(1), Duration.ofSeconds(10)).withTailPointerTrigger(rule())).build();
            consumer2.start();
            rig.trackStart(cdq2.cdqid());
            rec2.awaitCount(CdqMarker.Kind.FIRST, 1, Duration.ofSeconds(30));
            ns.markAll();
            List<LbaRange> copied = ns.takeBatch(Long.MAX_VALUE);          // the copier recopies it all
            assertThat(copied).containsExactly(new LbaRange(0, rig.lbaCount));
            for (int i = 0; i < 5; i++) rig.write(1, 1000L + 7 * i, 3);       // tracked again
            rig.trackStop(cdq2.cdqid());
            rec2.awaitCount(CdqMarker.Kind.STOPPED, 1, Duration.ofSeconds(30));
            consumer2.close();
            assertThat(consumer2.trackingBroken()).isFalse();
            assertThat(ns.snapshot()).containsExactly(new LbaRange(1000, 3), new LbaRange(1007, 3), new LbaRange(1014, 3),
                    new LbaRange(1021, 3), new LbaRange(1028, 3));
            cdq2.close();
        }
    }

    static BitSet bits(int... lbas) {
        BitSet b = new BitSet();
        for (int l : lbas) b.set(l);
        return b;
    }

    static void awaitAcknowledged(CdqConsumer c, long entries) throws Exception {
        Await.until("the head report of " + entries + " entries was acknowledged", Duration.ofSeconds(30), () -> {
            if (c.acknowledgedEntries() >= entries) return true;
            c.pollOnce();   // retries a failed report at the caller's pace
            return false;
        });
    }
}
