package dev.nvmelm.host.cdq;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.util.BitSet;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * DirtyExtents against a BitSet model. "mustBeDirty" holds every LBA added and not taken since;
 * the structure may hold more only after it degraded to the bitmap (rounding outward).
 */
class DirtyExtentsPropertiesTest {

    sealed interface Op permits Add, Take, MarkAll, Stats {}
    record Add(double at, int count) implements Op {}
    record Take(int maxLbas) implements Op {}
    record MarkAll() implements Op {}
    record Stats() implements Op {}

    record Scenario(int lbaCount, int budget, int lbaSize, List<Op> ops) {}

    @Provide
    Arbitrary<Scenario> scenarios() {
        Arbitrary<Op> add = Combinators.combine(Arbitraries.doubles().between(0, 1), Arbitraries.integers().between(1, 80)).as(Add::new);
        Arbitrary<Op> take = Arbitraries.integers().between(1, 300).map(Take::new);
        Arbitrary<Op> op = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(12, add), net.jqwik.api.Tuple.of(4, take),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(new MarkAll())), net.jqwik.api.Tuple.of(1, Arbitraries.just(new Stats())));
        return Combinators.combine(
                Arbitraries.integers().between(1, 3000),
                Arbitraries.integers().between(1, 40),
                Arbitraries.of(512, 4096),
                op.list().ofMaxSize(400)).as(Scenario::new);
    }

    @Property(tries = 400)
    void takenPlusRemainingCoverEveryAddedLba(@ForAll("scenarios") Scenario sc) {
        // 4 KiB granules: 8 LBAs of 512 B, or 1 LBA of 4 KiB.
        var d = new DirtyExtents(1, sc.lbaCount(), sc.lbaSize(), new DirtyExtents.Config(sc.budget(), 4096, 16));
        BitSet must = new BitSet();      // added and not taken since
        BitSet ever = new BitSet();      // added at some point (bounds what rounding may produce)
        boolean degraded = false;
        for (Op op : sc.ops()) {
            switch (op) {
                case Add a -> {
                    long slba = (long) (a.at() * (sc.lbaCount() - 1));
                    int count = (int) Math.min(a.count(), sc.lbaCount() - slba);
                    d.add(slba, count);
                    must.set((int) slba, (int) slba + count);
                    ever.set((int) slba, (int) slba + count);
                }
                case Take t -> {
                    long maxBytes = (long) t.maxLbas() * sc.lbaSize();
                    List<LbaRange> got = d.takeBatch(maxBytes);
                    long total = 0;
                    BitSet inBatch = new BitSet();
                    for (LbaRange r : got) {
                        assertThat(r.end()).isLessThanOrEqualTo(sc.lbaCount());
                        BitSet rb = new BitSet();
                        rb.set((int) r.slba(), (int) r.end());
                        assertThat(rb.intersects(inBatch)).as("ranges of one batch overlap: %s", got).isFalse();
                        inBatch.or(rb);
                        if (!degraded) {
                            BitSet extra = (BitSet) rb.clone();
                            extra.andNot(must);
                            assertThat(extra.toString()).as("extent mode took LBAs never added: %s", r).isEqualTo("{}");
                        }
                        total += r.count();
                    }
                    assertThat(total).isLessThanOrEqualTo(t.maxLbas());
                    if (!d.isEmpty() || !must.isEmpty()) {
                        // Progress: something dirty means something is returned.
                        if (!must.isEmpty()) assertThat(got).isNotEmpty();
                    }
                    must.andNot(inBatch);
                }
                case MarkAll ignored -> {
                    d.markAll();
                    must.set(0, sc.lbaCount());
                    ever.set(0, sc.lbaCount());
                }
                case Stats ignored -> {
                    var st = d.stats();
                    degraded |= st.degradations() > 0;
                    if (st.mode() == DirtyExtents.Mode.EXTENTS && !degraded) {
                        assertThat(st.dirtyLbas()).isEqualTo(must.cardinality());
                        assertThat(st.extentCount()).isEqualTo(runs(must));
                        assertThat(st.extentCount()).isLessThanOrEqualTo(sc.budget());
                    } else {
                        assertThat(st.dirtyLbas()).isGreaterThanOrEqualTo(must.cardinality());
                    }
                }
            }
            degraded |= d.stats().degradations() > 0;
            BitSet remaining = toBits(d.snapshot());
            BitSet missing = (BitSet) must.clone();
            missing.andNot(remaining);
            assertThat(missing.toString()).as("lost LBAs after %s", op).isEqualTo("{}");
            if (!degraded) {
                assertThat(remaining).as("extent mode is exact after %s", op).isEqualTo(must);
            } else {
                // Rounding outward stays within the granules of LBAs that were added.
                long g = d.granuleLbas();
                BitSet allowed = new BitSet();
                ever.stream().forEach(x -> allowed.set((int) (x / g * g), (int) Math.min(sc.lbaCount(), (x / g + 1) * g)));
                BitSet extra = (BitSet) remaining.clone();
                extra.andNot(allowed);
                assertThat(extra.toString()).isEqualTo("{}");
            }
        }
        // Draining returns exactly what remains, then the structure is empty and exact again.
        BitSet drained = new BitSet();
        for (int guard = 0; !d.isEmpty(); guard++) {
            assertThat(guard).isLessThan(100_000);
            for (LbaRange r : d.takeBatch(64L * sc.lbaSize())) drained.set((int) r.slba(), (int) r.end());
        }
        BitSet missing = (BitSet) must.clone();
        missing.andNot(drained);
        assertThat(missing.toString()).isEqualTo("{}");
        assertThat(d.mode()).isEqualTo(DirtyExtents.Mode.EXTENTS);
        assertThat(d.snapshot()).isEmpty();
    }

    @Property(tries = 300)
    void extentModeCoalescesExactly(@ForAll("scenarios") Scenario sc) {
        var d = new DirtyExtents(1, sc.lbaCount(), 512, new DirtyExtents.Config(Integer.MAX_VALUE, 4096, 16));
        BitSet must = new BitSet();
        for (Op op : sc.ops()) {
            if (op instanceof Add a) {
                long slba = (long) (a.at() * (sc.lbaCount() - 1));
                int count = (int) Math.min(a.count(), sc.lbaCount() - slba);
                d.add(slba, count);
                must.set((int) slba, (int) slba + count);
            }
        }
        List<LbaRange> snap = d.snapshot();
        assertThat(toBits(snap)).isEqualTo(must);
        // Coalesced: sorted, and neither overlapping nor adjacent.
        for (int i = 1; i < snap.size(); i++) assertThat(snap.get(i).slba()).isGreaterThan(snap.get(i - 1).end());
        assertThat(d.stats().extentCount()).isEqualTo(runs(must));
        assertThat(d.mode()).isEqualTo(DirtyExtents.Mode.EXTENTS);
    }

    /** A copier's view: adds (the consumer) interleaved with takes (clear, then read and copy). */
    record Workload(int lbaCount, int lbaSize, long granularityBytes, List<Op> ops) {}

    @Provide
    Arbitrary<Workload> workloads() {
        Arbitrary<Op> add = Combinators.combine(Arbitraries.doubles().between(0, 1), Arbitraries.integers().between(1, 40)).as(Add::new);
        Arbitrary<Op> take = Arbitraries.integers().between(1, 200).map(Take::new);
        Arbitrary<Op> op = Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(8, add), net.jqwik.api.Tuple.of(3, take),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(new Stats())));
        return Combinators.combine(
                Arbitraries.integers().between(64, 5000),
                Arbitraries.of(512, 4096),
                Arbitraries.of(4096L, 8192L, 65536L),
                op.list().ofMinSize(20).ofMaxSize(500)).as(Workload::new);
    }

    /**
     * The union of the ranges taken after an LBA was added contains it, for every LBA added;
     * LBAs still pending at the end are taken by a final drain. Exact mode only: never a
     * degradation, and nothing taken that was not pending.
     */
    @Property(tries = 300)
    void takenExtentsCoverEveryAddedLbaWithoutDegradation(@ForAll("workloads") Workload w) {
        var d = new DirtyExtents(1, w.lbaCount(), w.lbaSize(), new DirtyExtents.Config(Integer.MAX_VALUE, w.granularityBytes(), 16));
        BitSet pending = run(w, d, true);
        assertThat(pending.toString()).as("added, never taken afterwards").isEqualTo("{}");
        assertThat(d.stats().degradations()).isZero();
    }

    /** The same with an extent budget of 1 to 8: the structure degrades and may over-approximate, never lose. */
    @Property(tries = 300)
    void takenExtentsCoverEveryAddedLbaWhenDegraded(@ForAll("workloads") Workload w, @ForAll @net.jqwik.api.constraints.IntRange(min = 1, max = 8) int budget) {
        var d = new DirtyExtents(1, w.lbaCount(), w.lbaSize(), new DirtyExtents.Config(budget, w.granularityBytes(), 16));
        // Force the degradation up front: budget + 1 disjoint extents.
        BitSet pending = new BitSet();
        long stride = Math.max(2, w.lbaCount() / (budget + 2));
        for (int i = 0; i <= budget && (i * stride) < w.lbaCount(); i++) {
            d.add(i * stride, 1);
            pending.set((int) (i * stride));
        }
        assertThat(d.stats().degradations()).isEqualTo(budget + 1 <= (w.lbaCount() - 1) / stride + 1 ? 1 : 0);
        BitSet rest = run(w, d, false, pending);
        assertThat(rest.toString()).as("added, never taken afterwards").isEqualTo("{}");
    }

    private static BitSet run(Workload w, DirtyExtents d, boolean exact) {
        return run(w, d, exact, new BitSet());
    }

    /** Applies the workload, then drains; returns the LBAs added and never taken afterwards. */
    private static BitSet run(Workload w, DirtyExtents d, boolean exact, BitSet pending) {
        for (Op op : w.ops()) {
            switch (op) {
                case Add a -> {
                    long slba = (long) (a.at() * (w.lbaCount() - 1));
                    int count = (int) Math.min(a.count(), w.lbaCount() - slba);
                    // Both entry points: add() probes the staged ranges, addAll() copies in bulk.
                    if (count % 2 == 0) d.add(slba, count);
                    else d.addAll(new long[]{-1, slba}, new long[]{-1, slba + count}, 1, 1);
                    pending.set((int) slba, (int) slba + count);
                }
                case Take t -> take(d, t.maxLbas(), w, pending, exact);
                case Stats ignored -> {
                    var st = d.stats();
                    if (exact) assertThat(st.dirtyLbas()).isEqualTo(pending.cardinality());
                    else assertThat(st.dirtyLbas()).isGreaterThanOrEqualTo(pending.cardinality());
                }
                default -> throw new IllegalStateException();
            }
        }
        for (int guard = 0; !d.isEmpty(); guard++) {
            assertThat(guard).isLessThan(100_000);
            take(d, 1 + guard % 97, w, pending, exact);
        }
        return pending;
    }

    private static void take(DirtyExtents d, int maxLbas, Workload w, BitSet pending, boolean exact) {
        List<LbaRange> got = d.takeBatch((long) maxLbas * w.lbaSize());
        long total = 0;
        for (LbaRange r : got) {
            assertThat(r.end()).isLessThanOrEqualTo(w.lbaCount());
            BitSet rb = new BitSet();
            rb.set((int) r.slba(), (int) r.end());
            if (exact) {
                rb.andNot(pending);
                assertThat(rb.toString()).as("took LBAs that were not pending: %s", r).isEqualTo("{}");
            }
            pending.clear((int) r.slba(), (int) r.end());
            total += r.count();
        }
        assertThat(total).isLessThanOrEqualTo(maxLbas);
    }

    static BitSet toBits(List<LbaRange> ranges) {
        BitSet b = new BitSet();
        for (LbaRange r : ranges) b.set((int) r.slba(), (int) r.end());
        return b;
    }

    static long runs(BitSet b) {
        long runs = 0;
        for (int i = b.nextSetBit(0); i >= 0; i = b.nextSetBit(b.nextClearBit(i))) runs++;
        return runs;
    }
}
