package dev.nvmelm.host.cdq;

import dev.nvmelm.Await;
import dev.nvmelm.spec.TailPointerTrigger;

import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The consumer against a ring filled by a correct producer (docs/spec.md, "Controller Data Queue") ({@link TestCdq}) and a
 * scripted device. Hostile rings here cannot come from a correct controller, which is why a
 * scripted device is acceptable for these tests.
 */
class CdqConsumerTest {
    /** The Tail Pointer Trigger rule of the simulated controller; the consumer is set for the same. */
    TailPointerTrigger rule() {
        return TailPointerTrigger.SLOT_POSTED;
    }

    private static final int CDQID = 3;
    private final List<AutoCloseable> closeMe = new ArrayList<>();

    final List<Object> events = Collections.synchronizedList(new ArrayList<>());
    final CdqListener recorder = new CdqListener() {
        @Override public void onMarker(CdqMarker m) { events.add(m); }
        @Override public void onAnomaly(CdqAnomaly a) { events.add(a); }
        @Override public void onHeadReportFailed(int head, Throwable cause) { events.add("failed head " + head); }
    };

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closeMe.reversed()) c.close();
    }

    private TestCdq ring(int entries) {
        var q = new TestCdq(entries, CDQID, rule());
        closeMe.add(q);
        return q;
    }

    private ScriptedDevice device(TestCdq q) {
        var d = new ScriptedDevice(q);
        closeMe.add(d);
        return d;
    }

    private CdqConsumer consumer(ScriptedDevice dev, TestCdq q, CdqConsumer.Config cfg, DirtyExtents... ns) {
        var c = CdqConsumer.builder(dev, q).namespaces(List.of(ns)).listener(recorder).config(cfg.withTailPointerTrigger(rule()))
                .completionExecutor(Runnable::run).build();
        closeMe.add(c);
        q.watchConsumer(c::head);
        return c;
    }

    private static CdqConsumer.Config cfg(int batch, int k) {
        return new CdqConsumer.Config(batch, k, Duration.ofMillis(20), Duration.ofSeconds(5));
    }

    @Test
    void consumesChangesIntoTheirNamespacesAndReportsTheHead() {
        var q = ring(64);
        var dev = device(q);
        var ns1 = new DirtyExtents(1, 1000, 512);
        var ns2 = new DirtyExtents(2, 1 << 20, 4096);
        var c = consumer(dev, q, cfg(4096, 1), ns1, ns2);
        q.post(TestCdq.change(1, 10, 8));
        q.post(TestCdq.change(1, 18, 2));    // adjacent: one extent
        q.post(TestCdq.change(2, 5000, 1));
        q.post(TestCdq.change(1, 999, 1));   // the last LBA
        assertThat(c.pollOnce()).isEqualTo(4);
        assertThat(c.pollOnce()).isZero();
        assertThat(ns1.snapshot()).containsExactly(new LbaRange(10, 10), new LbaRange(999, 1));
        assertThat(ns2.snapshot()).containsExactly(new LbaRange(5000, 1));
        assertThat(dev.log()).containsExactly(new ScriptedDevice.SetCdq(CDQID, 4, false, 0));
        assertThat(q.controllerHead()).isEqualTo(4);
        var k = c.counters();
        assertThat(k.entries()).isEqualTo(4);
        assertThat(k.changeEntries()).isEqualTo(4);
        assertThat(k.bytesDirtied()).isEqualTo(11 * 512 + 4096);
        assertThat(k.anomalies()).isZero();
        assertThat(q.violations()).isEmpty();
    }

    @Test
    void wrapsOverThousandsOfPassesWithoutLosingOrRepeatingAnEntry() {
        long seed = new SplittableRandom().nextLong();
        var rnd = new SplittableRandom(seed);
        var q = ring(7);   // odd size: the head and the tail wrap at every offset
        var dev = device(q);
        var ns = new DirtyExtents(1, 1L << 40, 512);
        var c = consumer(dev, q, cfg(1 + rnd.nextInt(5), 1), ns);
        BitSet expected = new BitSet();
        List<Long> markerSeqs = new ArrayList<>();
        long seq = 0, lba = 0;
        while (c.counters().ringPasses() < 3000) {
            // Never take the last free slot: the entry that fills the queue is ESA 7 (NVM Command Set, Figure 177).
            int burst = rnd.nextInt(Math.max(0, q.free() - 1) + 1);
            for (int i = 0; i < burst; i++) {
                if (rnd.nextInt(50) == 0) {
                    assertThat(q.postMarker(1)).isTrue();
                    markerSeqs.add(seq++);
                } else {
                    assertThat(q.post(TestCdq.change(1, lba, 1))).isTrue();
                    expected.set((int) (lba / 2));   // every other LBA: no coalescing, exact count
                    lba += 2;
                    seq++;
                }
            }
            c.pollOnce();
        }
        while (c.pollOnce() > 0) { }
        String why = "seed " + seed;
        assertThat(q.dropped()).as(why).isZero();
        assertThat(q.violations()).as(why).isEmpty();
        assertThat(c.counters().entries()).as(why).isEqualTo(seq);
        assertThat(c.counters().markers()).as(why).isEqualTo(markerSeqs.size());
        assertThat(events).as(why).allMatch(e -> e instanceof CdqMarker m && m.kind() == CdqMarker.Kind.FIRST);
        assertThat(events.stream().map(e -> ((CdqMarker) e).sequence()).toList()).as(why).isEqualTo(markerSeqs);
        BitSet got = new BitSet();
        for (LbaRange r : ns.snapshot()) {
            assertThat(r.count()).as(why).isEqualTo(1);
            got.set((int) (r.slba() / 2));
        }
        assertThat(got).as(why).isEqualTo(expected);
        assertThat(q.controllerHead()).as(why).isEqualTo(c.head());
    }

    @Test
    void entriesWrittenBeforeTheTriggerTookEffectAreStillConsumed() throws Exception {
        var q = ring(16);
        var dev = device(q);
        var ns = new DirtyExtents(1, 1 << 20, 512);
        // A safety poll of an hour: only the re-scan after arming can find these entries.
        var c = consumer(dev, q, new CdqConsumer.Config(64, 1, Duration.ofHours(1), Duration.ofSeconds(5)), ns);
        q.post(TestCdq.change(1, 0, 1));
        assertThat(c.pollOnce()).isEqualTo(1);
        // Between the head report and the trigger taking effect, the tail runs past the armed slot.
        dev.beforeApply(cmd -> {
            if (cmd.etpt()) {
                for (int i = 1; i <= 3; i++) q.post(TestCdq.change(1, 100L * i, 1));
            }
        });
        assertThat(c.awaitEntries(Duration.ofHours(1))).isTrue();
        dev.beforeApply(cmd -> {});
        assertThat(q.tptEvents()).as("the trigger was armed too late to fire").isZero();
        assertThat(q.triggerArmed()).isTrue();
        assertThat(c.pollOnce()).isEqualTo(3);
        assertThat(ns.snapshot()).containsExactly(new LbaRange(0, 1), new LbaRange(100, 1), new LbaRange(200, 1), new LbaRange(300, 1));
        assertThat(dev.log()).contains(new ScriptedDevice.SetCdq(CDQID, 1, true, rule().armFor(1, 1, 16)));
        assertThat(q.violations()).isEmpty();
    }

    @Test
    void anArmedTriggerWakesTheConsumer() throws Exception {
        var q = ring(16);
        var dev = device(q);
        var ns = new DirtyExtents(1, 1 << 20, 512);
        var c = consumer(dev, q, new CdqConsumer.Config(64, 2, Duration.ofHours(1), Duration.ofSeconds(5)), ns);
        Thread producer = Thread.ofPlatform().start(() -> {
            try {
                while (!q.triggerArmed()) Thread.onSpinWait();
                q.post(TestCdq.change(1, 1, 1));
                q.post(TestCdq.change(1, 3, 1));   // the second entry past head 0: notification
            } catch (Throwable t) {
                events.add(t);
            }
        });
        assertThat(c.awaitEntries(Duration.ofHours(1))).isTrue();
        producer.join();
        assertThat(c.pollOnce()).isEqualTo(2);
        assertThat(q.tptEvents()).isEqualTo(1);
        assertThat(dev.log().getFirst()).isEqualTo(new ScriptedDevice.SetCdq(CDQID, 0, true, rule().armFor(0, 2, 16)));
        assertThat(q.violations()).isEmpty();
        assertThat(events).isEmpty();
    }

    @Test
    void atMostOneSetFeaturesIsInFlightAndTheLatestHeadIsResent() {
        var q = ring(64);
        var dev = device(q);
        var ns = new DirtyExtents(1, 1 << 20, 512);
        var c = consumer(dev, q, cfg(4096, 1), ns);
        dev.hold(true);
        for (int i = 0; i < 5; i++) q.post(TestCdq.change(1, i * 10L, 1));
        c.pollOnce();
        for (int i = 0; i < 5; i++) q.post(TestCdq.change(1, 100 + i * 10L, 1));
        c.pollOnce();
        q.post(TestCdq.change(1, 500, 1));
        c.pollOnce();
        c.pollOnce();
        assertThat(dev.log()).containsExactly(new ScriptedDevice.SetCdq(CDQID, 5, false, 0));
        assertThat(dev.releaseOne()).isTrue();   // completion: the head moved to 11 meanwhile
        assertThat(dev.log()).containsExactly(new ScriptedDevice.SetCdq(CDQID, 5, false, 0), new ScriptedDevice.SetCdq(CDQID, 11, false, 0));
        assertThat(dev.releaseOne()).isTrue();
        assertThat(dev.releaseOne()).isFalse();   // nothing new to say
        c.pollOnce();
        assertThat(dev.log()).hasSize(2);
        assertThat(dev.maxOutstanding()).isEqualTo(1);
        assertThat(c.reportedHead()).isEqualTo(11);
        assertThat(q.controllerHead()).isEqualTo(11);
    }

    @Test
    void aFullQueueReportsTrackingBrokenAndDropsLaterChanges() {
        var q = ring(8);
        var dev = device(q);
        var ns = new DirtyExtents(1, 1 << 20, 512);
        var c = consumer(dev, q, cfg(4096, 1), ns);
        int accepted = 0;
        for (int i = 0; i < 10; i++) if (q.post(TestCdq.change(1, i * 10L, 1))) accepted++;
        assertThat(accepted).isEqualTo(7);   // N - 1 usable slots
        assertThat(q.dropped()).isEqualTo(3);
        assertThat(q.fullEvents()).isEqualTo(1);
        assertThat(c.pollOnce()).isEqualTo(7);
        assertThat(c.trackingBroken()).isTrue();
        assertThat(events).containsExactly(new CdqMarker(CdqMarker.Kind.QUEUE_FULL, 6, 6));
        var k = c.counters();
        assertThat(k.queueFullMarkers()).isEqualTo(1);
        assertThat(k.changeEntries()).as("the ESA 7 entry's own range is still applied").isEqualTo(7);
        assertThat(ns.stats().extentCount()).isEqualTo(7);
        // The caller decides: here, mark everything dirty.
        ns.markAll();
        assertThat(ns.snapshot()).containsExactly(new LbaRange(0, 1 << 20));
        assertThat(q.controllerHead()).isEqualTo(7);
    }

    @Test
    void hostileEntriesAreCountedReportedAndNeverUsedAsRanges() {
        var q = ring(64);
        var dev = device(q);
        var ns1 = new DirtyExtents(1, 1000, 512);
        var ns2 = new DirtyExtents(2, 1000, 512);
        var c = consumer(dev, q, cfg(4096, 1), ns1, ns2);
        q.post(TestCdq.change(1, 5, 1));                                   // 0 good
        q.post(TestCdq.change(0xdeadbeef, 5, 1));                          // 1 unknown NSID
        q.post(TestCdq.change(2, 999, 2));                                 // 2 one past the end
        q.post(TestCdq.entry(2, 0, Long.MIN_VALUE + 5, 0, 0, false));      // 3 SLBA >= 2^63
        q.post(TestCdq.entry(2, 0xffffffffL, 0, 0, 0, false));             // 4 NLB 2^32
        byte[] reserved = TestCdq.change(1, 7, 1);
        reserved[20] = 1;
        q.post(reserved);                                                  // 5 reserved byte
        byte[] bit4 = TestCdq.change(1, 7, 1);
        bit4[31] |= 0x10;
        q.post(bit4);                                                      // 6 reserved attribute bit
        q.post(TestCdq.entry(0, 0, 0, 5, 2, false));                       // 7 ESA 5 (marker-shaped)
        q.post(TestCdq.entry(0x77, 0, 0, 0, 3, false));                    // 8 LBACI 3, unknown NSID
        q.post(TestCdq.entry(0x77, 0, 0, 0, 1, false));                    // 9 LBACI 1, unknown NSID
        q.post(TestCdq.change(1, 9, 1));                                   // 10 good: nothing skipped
        assertThat(c.pollOnce()).isEqualTo(11);
        var anomalies = events.stream().map(e -> (CdqAnomaly) e).toList();
        assertThat(anomalies).extracting(CdqAnomaly::sequence).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);
        assertThat(anomalies).extracting(CdqAnomaly::kinds).containsExactly(
                java.util.Set.of(CdqAnomaly.Kind.UNKNOWN_NSID),
                java.util.Set.of(CdqAnomaly.Kind.RANGE_OUT_OF_BOUNDS),
                java.util.Set.of(CdqAnomaly.Kind.RANGE_OUT_OF_BOUNDS),
                java.util.Set.of(CdqAnomaly.Kind.RANGE_OUT_OF_BOUNDS),
                java.util.Set.of(CdqAnomaly.Kind.RESERVED_BITS),
                java.util.Set.of(CdqAnomaly.Kind.RESERVED_BITS),
                java.util.Set.of(CdqAnomaly.Kind.RESERVED_ESA),
                java.util.Set.of(CdqAnomaly.Kind.RESERVED_LBACI),
                java.util.Set.of(CdqAnomaly.Kind.UNKNOWN_NSID));
        // Refused entries naming a tracked namespace made it wholly dirty; others marked nothing.
        assertThat(anomalies).extracting(CdqAnomaly::markedDirty).containsExactly(
                List.of(), List.of(2), List.of(2), List.of(2), List.of(1), List.of(1), List.of(), List.of(), List.of());
        assertThat(ns1.snapshot()).containsExactly(new LbaRange(0, 1000));
        assertThat(ns2.snapshot()).containsExactly(new LbaRange(0, 1000));
        var k = c.counters();
        assertThat(k.entries()).isEqualTo(11);
        assertThat(k.anomalies()).isEqualTo(9);
        assertThat(k.changeEntries()).isEqualTo(2);
        assertThat(k.markers()).isZero();
        assertThat(q.controllerHead()).isEqualTo(11);
    }

    @Test
    void dlbaRangesAreDirtyAndContradictoryEntriesAreAnomalies() {
        var q = ring(64);
        var dev = device(q);
        var ns1 = new DirtyExtents(1, 1000, 512);
        var ns2 = new DirtyExtents(2, 1000, 512);
        var c = consumer(dev, q, cfg(4096, 1), ns1, ns2);
        q.post(TestCdq.entry(1, 3, 40, 0, 0, true));     // 0 DLBA range: deallocated LBAs 40..43 are dirty
        q.post(TestCdq.entry(0, 0, 0, 0, 2, false));     // 1 "no change" that is no marker
        q.post(TestCdq.entry(1, 0, 0, 1, 2, false));     // 2 ESA 1 naming NSID 1: anomaly, still a marker
        assertThat(c.pollOnce()).as("the batch ends at the marker").isEqualTo(3);
        q.post(TestCdq.entry(2, 0, 0, 0, 1, true));      // 3 DLBA on a namespace-wide change
        q.post(TestCdq.entry(0, 0, 0, 7, 2, false));     // 4 a marker-shaped entry filled the queue: ESA 7, LBACI 2
        assertThat(c.pollOnce()).isEqualTo(2);
        q.post(TestCdq.change(1, 500, 1));
        q.post(TestCdq.entry(1, 0, 77, 2, 0, false));    // 6 ESA 2 claiming a range: namespace 1 wholly dirty
        assertThat(c.pollOnce()).isEqualTo(2);
        assertThat(events).hasSize(7);
        var a1 = (CdqAnomaly) events.get(0);
        assertThat(a1.sequence()).isEqualTo(1);
        assertThat(a1.kinds()).containsExactly(CdqAnomaly.Kind.IMPOSSIBLE_COMBINATION);
        assertThat(a1.markedDirty()).isEmpty();
        var a2 = (CdqAnomaly) events.get(1);
        assertThat(a2.sequence()).isEqualTo(2);
        assertThat(a2.kinds()).containsExactly(CdqAnomaly.Kind.IMPOSSIBLE_COMBINATION);
        assertThat(a2.markedDirty()).as("LBACI 2 claims no change").isEmpty();
        assertThat(events.get(2)).isEqualTo(new CdqMarker(CdqMarker.Kind.FIRST, 2, 2));
        var a3 = (CdqAnomaly) events.get(3);
        assertThat(a3.kinds()).containsExactly(CdqAnomaly.Kind.IMPOSSIBLE_COMBINATION);
        assertThat(a3.markedDirty()).containsExactly(2);
        assertThat(events.get(4)).isEqualTo(new CdqMarker(CdqMarker.Kind.QUEUE_FULL, 4, 4));
        var a6 = (CdqAnomaly) events.get(5);
        assertThat(a6.sequence()).isEqualTo(6);
        assertThat(a6.markedDirty()).containsExactly(1);
        assertThat(events.get(6)).isEqualTo(new CdqMarker(CdqMarker.Kind.STOPPED, 6, 6));
        assertThat(ns1.snapshot()).containsExactly(new LbaRange(0, 1000));
        assertThat(ns2.snapshot()).containsExactly(new LbaRange(0, 1000));
        var k = c.counters();
        assertThat(k.dlbaEntries()).isEqualTo(1);
        assertThat(k.anomalies()).isEqualTo(4);
        assertThat(k.markers()).isEqualTo(3);
        assertThat(c.trackingBroken()).isTrue();
    }

    @Test
    void aDlbaRangeIsExact() {
        var q = ring(16);
        var dev = device(q);
        var ns = new DirtyExtents(1, 1000, 512);
        var c = consumer(dev, q, cfg(4096, 1), ns);
        q.post(TestCdq.entry(1, 3, 40, 0, 0, true));
        assertThat(c.pollOnce()).isEqualTo(1);
        assertThat(ns.snapshot()).containsExactly(new LbaRange(40, 4));
        assertThat(events).isEmpty();
    }

    @Test
    void hostileBytesPokedIntoTheRingAreRefused() {
        // A ring rewritten behind the producer's back: phase set on a slot it never wrote.
        var q = ring(8);
        var dev = device(q);
        var ns = new DirtyExtents(1, 1000, 512);
        var c = consumer(dev, q, cfg(4096, 1), ns);
        for (int off = 0; off < 31; off++) q.poke(0, off, (byte) 0xff);
        q.poke(0, 31, (byte) 0xff);    // phase 1, ESA 7, reserved bit 4, DLBA, LBACI 3
        assertThat(c.pollOnce()).isEqualTo(1);
        var a = (CdqAnomaly) events.getFirst();
        assertThat(a.kinds()).containsExactlyInAnyOrder(CdqAnomaly.Kind.RESERVED_BITS, CdqAnomaly.Kind.RESERVED_LBACI,
                CdqAnomaly.Kind.IMPOSSIBLE_COMBINATION);   // DLBA with LBACI 3
        assertThat(a.nsid()).isEqualTo(CdqRingReader.BROADCAST_NSID);
        // NSID FFFFFFFFh names every namespace: all are marked dirty, none is indexed.
        assertThat(a.markedDirty()).containsExactly(1);
        assertThat(ns.snapshot()).containsExactly(new LbaRange(0, 1000));
        assertThat(events.get(1)).isEqualTo(new CdqMarker(CdqMarker.Kind.QUEUE_FULL, 0, 0));
        assertThat(c.trackingBroken()).isTrue();
    }

    @Test
    void namespaceWideChangesMarkEverything() {
        var q = ring(16);
        var dev = device(q);
        var ns1 = new DirtyExtents(1, 1000, 512);
        var ns2 = new DirtyExtents(2, 2000, 512);
        var c = consumer(dev, q, cfg(4096, 1), ns1, ns2);
        q.post(TestCdq.entry(2, 0, 0, 0, 1, false));
        c.pollOnce();
        assertThat(ns1.isEmpty()).isTrue();
        assertThat(ns2.snapshot()).containsExactly(new LbaRange(0, 2000));
        q.post(TestCdq.entry(CdqRingReader.BROADCAST_NSID, 0, 0, 0, 1, false));
        c.pollOnce();
        assertThat(ns1.snapshot()).containsExactly(new LbaRange(0, 1000));
        assertThat(c.counters().namespaceWideEntries()).isEqualTo(2);
        assertThat(c.counters().anomalies()).isZero();
    }

    @Test
    void drainUntilStopsAtTheMarkerWithEveryEarlierRangeApplied() throws Exception {
        var q = ring(32);
        var dev = device(q);
        var ns = new DirtyExtents(1, 1 << 20, 512);
        var c = consumer(dev, q, cfg(4096, 1), ns);
        List<Boolean> appliedAtMarker = new ArrayList<>();
        var c2 = CdqConsumer.builder(dev, q).namespaces(List.of(ns)).config(cfg(4096, 1)).completionExecutor(Runnable::run).listener(new CdqListener() {
            @Override public void onMarker(CdqMarker m) {
                events.add(m);
                appliedAtMarker.add(ns.snapshot().contains(new LbaRange(40, 1)));
            }
        }).build();
        c.close();
        q.watchConsumer(c2::head);
        q.postMarker(1);
        for (int i = 0; i < 5; i++) q.post(TestCdq.change(1, i * 10L, 1));
        q.postMarker(2);
        q.post(TestCdq.change(1, 777, 1));    // after the stop marker: not consumed by this drain
        var m = c2.drainUntilStopped(Duration.ofSeconds(30));
        assertThat(m).contains(new CdqMarker(CdqMarker.Kind.STOPPED, 6, 6));
        assertThat(events).containsExactly(new CdqMarker(CdqMarker.Kind.FIRST, 0, 0), new CdqMarker(CdqMarker.Kind.STOPPED, 6, 6));
        assertThat(appliedAtMarker).containsExactly(false, true);
        assertThat(c2.head()).isEqualTo(7);
        assertThat(c2.drainUntilSuspended(Duration.ofMillis(30))).isEmpty();
        assertThat(c2.head()).isEqualTo(8);
        assertThat(q.violations()).isEmpty();
    }

    @Test
    void aFailedHeadReportIsRetriedAtThePollPaceNotInALoop() {
        var q = ring(16);
        var dev = device(q);
        var ns = new DirtyExtents(1, 1000, 512);
        var c = consumer(dev, q, cfg(4096, 1), ns);
        dev.failWith(Status.dnr(StatusCodes.INVALID_CDQ));
        q.post(TestCdq.change(1, 1, 1));
        c.pollOnce();
        assertThat(dev.log()).hasSize(1);
        assertThat(events).containsExactly("failed head 1");
        c.pollOnce();
        assertThat(dev.log()).hasSize(2);
        dev.failWith(null);
        c.pollOnce();
        assertThat(dev.log()).hasSize(3);
        c.pollOnce();
        assertThat(dev.log()).hasSize(3);
        assertThat(c.reportedHead()).isEqualTo(1);
        assertThat(c.counters().headReportFailures()).isEqualTo(2);
    }

    @Test
    void theLoopConsumesAConcurrentProducerUntilClosed() throws Exception {
        long seed = new SplittableRandom().nextLong();
        var rnd = new SplittableRandom(seed);
        var q = ring(32);
        var dev = device(q);
        var ns = new DirtyExtents(1, 1L << 30, 512);
        var c = consumer(dev, q, new CdqConsumer.Config(8, 1 + rnd.nextInt(4), Duration.ofMillis(5), Duration.ofSeconds(5)), ns);
        c.start();
        BitSet expected = new BitSet();
        int lba = 0;
        for (int i = 0; i < 20_000; i++) {
            while (q.free() == 0) Thread.onSpinWait();
            q.post(TestCdq.change(1, lba, 1));
            expected.set(lba / 3);
            lba += 3;
            if (rnd.nextInt(100) == 0) Thread.yield();
        }
        Await.until("the consumer took all 20000 entries", Duration.ofSeconds(60), () -> c.counters().entries() >= 20_000);
        c.close();
        String why = "seed " + seed;
        assertThat(c.failure()).as(why).isEmpty();
        assertThat(c.counters().entries()).as(why).isEqualTo(20_000);
        BitSet got = new BitSet();
        for (LbaRange r : ns.snapshot()) got.set((int) (r.slba() / 3));
        assertThat(got).as(why).isEqualTo(expected);
        assertThat(q.dropped()).as(why).isZero();
        assertThat(q.violations()).as(why).isEmpty();
    }
}
