package dev.nvmelm.host.cdq;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DirtyExtentsTest {
    private static final long TIB_4K_LBAS = (1L << 40) / 4096;

    @Test
    void adjacentAndOverlappingRangesMerge() {
        var d = new DirtyExtents(1, 1000, 512);
        d.add(10, 5);   // 10..14
        d.add(15, 5);   // adjacent: 10..19
        d.add(30, 10);  // 30..39
        d.add(35, 20);  // overlapping: 30..54
        d.add(40, 2);   // contained
        d.add(0, 1);
        assertThat(d.snapshot()).containsExactly(new LbaRange(0, 1), new LbaRange(10, 10), new LbaRange(30, 25));
        var st = d.stats();
        assertThat(st.mode()).isEqualTo(DirtyExtents.Mode.EXTENTS);
        assertThat(st.extentCount()).isEqualTo(3);
        assertThat(st.dirtyLbas()).isEqualTo(36);
        assertThat(st.dirtyBytes()).isEqualTo(36 * 512);
    }

    @Test
    void rangesOutsideTheNamespaceAreRejected() {
        var d = new DirtyExtents(7, 100, 4096);
        assertThatThrownBy(() -> d.add(99, 2)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NSID 7");
        assertThatThrownBy(() -> d.add(-1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> d.add(Long.MAX_VALUE, 2)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> d.add(0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> d.addAll(new long[]{0, 50}, new long[]{10, 101}, 0, 2)).isInstanceOf(IllegalArgumentException.class);
        assertThat(d.isEmpty()).as("a rejected batch applies nothing").isTrue();
    }

    @Test
    void aBitmapTooLargeForAnArrayIsRefusedUpFront() {
        // 2^62 LBAs of 4 KiB at 64 KiB granules: 2^58 granules, 2^52 words.
        assertThatThrownBy(() -> new DirtyExtents(3, 1L << 62, 4096))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NSID 3").hasMessageContaining("coarser granularity");
        // A coarse enough granularity makes it acceptable (2^62 LBAs / 2^50 per granule = 2^12 granules).
        var d = new DirtyExtents(3, 1L << 62, 4096, new DirtyExtents.Config(4, 1L << 62, 16));
        d.add((1L << 62) - 1, 1);
        assertThat(d.snapshot()).containsExactly(new LbaRange((1L << 62) - 1, 1));
    }

    @Test
    void takeSplitsAtTheByteLimitAndContinuesFromTheCursor() {
        var d = new DirtyExtents(1, 1_000, 512);
        d.add(100, 10);
        d.add(500, 10);
        assertThat(d.takeBatch(4 * 512)).containsExactly(new LbaRange(100, 4));
        d.add(0, 3);   // behind the cursor: served after the cursor wraps
        assertThat(d.takeBatch(10 * 512)).containsExactly(new LbaRange(104, 6), new LbaRange(500, 4));
        assertThat(d.takeBatch(100 * 512)).containsExactly(new LbaRange(504, 6), new LbaRange(0, 3));
        assertThat(d.isEmpty()).isTrue();
        assertThat(d.poll(512)).isNull();
    }

    @Test
    void aRangeDirtiedAgainAfterBeingTakenIsQueuedAgain() {
        var d = new DirtyExtents(1, 1_000, 512);
        d.add(0, 8);
        List<LbaRange> copying = d.takeBatch(1 << 20);
        assertThat(copying).containsExactly(new LbaRange(0, 8));
        d.add(2, 2);   // written while its copy runs
        assertThat(d.takeBatch(1 << 20)).containsExactly(new LbaRange(2, 2));
    }

    @Test
    void aCopierTakingConcurrentlyWithTheConsumerLosesNothing() throws Exception {
        long seed = new SplittableRandom().nextLong();
        var rnd = new SplittableRandom(seed);
        final int lbas = 1 << 20;
        // A small budget so the structure degrades and returns to exact mode along the way.
        var d = new DirtyExtents(1, lbas, 4096, new DirtyExtents.Config(2048, 64 << 10, 64));
        java.util.BitSet added = new java.util.BitSet(), taken = new java.util.BitSet();
        for (int i = 0; i < 4096; i++) {   // more disjoint extents than the budget: bitmap mode to begin with
            d.add(i * 200L, 1);
            added.set(i * 200);
        }
        assertThat(d.stats().mode()).isEqualTo(DirtyExtents.Mode.BITMAP);
        var done = new java.util.concurrent.atomic.AtomicBoolean();
        Thread producer = Thread.ofPlatform().start(() -> {
            long[] s = new long[256], e = new long[256];
            for (int batch = 0; batch < 400; batch++) {
                for (int i = 0; i < s.length; i++) {
                    int count = 1 + rnd.nextInt(16);
                    s[i] = rnd.nextInt(lbas - count);
                    e[i] = s[i] + count;
                    added.set((int) s[i], (int) e[i]);
                }
                d.addAll(s, e, 0, s.length);
            }
            done.set(true);
        });
        var copierRnd = new SplittableRandom(seed + 1);
        while (!done.get() || !d.isEmpty()) {
            for (LbaRange r : d.takeBatch((1 + copierRnd.nextInt(256)) * 4096L)) taken.set((int) r.slba(), (int) r.end());
        }
        producer.join();
        added.andNot(taken);
        assertThat(added.toString()).as("seed %d: added, never taken", seed).isEqualTo("{}");
        assertThat(d.mode()).as("drained: exact again").isEqualTo(DirtyExtents.Mode.EXTENTS);
    }

    @Test
    void markAllCoversTheNamespaceAndDropsTheBitmap() {
        var d = new DirtyExtents(1, 1 << 20, 512, new DirtyExtents.Config(4, 4096, 16));
        for (int i = 0; i < 100; i++) d.add(i * 100L, 1);
        assertThat(d.stats().mode()).isEqualTo(DirtyExtents.Mode.BITMAP);
        d.markAll();
        assertThat(d.snapshot()).containsExactly(new LbaRange(0, 1 << 20));
        assertThat(d.mode()).isEqualTo(DirtyExtents.Mode.EXTENTS);
    }

    @Test
    void degradesToGranulesAndReturnsToExactModeWhenDrained() {
        // 64 KiB granules of 512-byte LBAs = 128 LBAs.
        var d = new DirtyExtents(1, 10_000, 512, new DirtyExtents.Config(3, 64 << 10, 16));
        d.add(5, 1);
        d.add(300, 1);
        d.add(1000, 1);
        assertThat(d.stats().mode()).isEqualTo(DirtyExtents.Mode.EXTENTS);
        d.add(9999, 1);
        var st = d.stats();
        assertThat(st.mode()).isEqualTo(DirtyExtents.Mode.BITMAP);
        assertThat(st.degradations()).isEqualTo(1);
        // Rounded outward to granules; the last granule is clipped at the namespace end.
        assertThat(d.snapshot()).containsExactly(new LbaRange(0, 128), new LbaRange(256, 128), new LbaRange(896, 128), new LbaRange(9984, 16));
        assertThat(st.dirtyLbas()).isEqualTo(128 * 3 + 16);
        // A batch smaller than a granule splits it and keeps the rest.
        assertThat(d.takeBatch(100 * 512)).containsExactly(new LbaRange(0, 100));
        assertThat(d.takeBatch(1 << 20)).containsExactly(new LbaRange(100, 28), new LbaRange(256, 128), new LbaRange(896, 128), new LbaRange(9984, 16));
        assertThat(d.mode()).isEqualTo(DirtyExtents.Mode.EXTENTS);
        d.add(7, 2);
        assertThat(d.snapshot()).containsExactly(new LbaRange(7, 2));
    }

    @Test
    void oneTebibyteUnderRandom4kWritesStaysUnder32MiB() {
        long seed = 20260517L;
        var rnd = new SplittableRandom(seed);
        var d = new DirtyExtents(1, TIB_4K_LBAS, 4096);
        long[] sample = new long[1000];
        for (int i = 0; i < 1_000_000; i++) {
            long lba = rnd.nextLong(TIB_4K_LBAS);
            d.add(lba, 1);
            if (i % 1000 == 0) sample[i / 1000] = lba;
        }
        var st = d.stats();
        assertThat(st.mode()).as("seed %d", seed).isEqualTo(DirtyExtents.Mode.BITMAP);
        assertThat(st.peakMemoryBytes()).as("seed %d", seed).isLessThanOrEqualTo(32L << 20);
        assertThat(st.memoryBytes()).isLessThanOrEqualTo(3L << 20);   // 2 MiB bitmap at 64 KiB granules
        List<LbaRange> snap = d.snapshot();
        for (long lba : sample) {
            int k = java.util.Collections.binarySearch(snap, new LbaRange(lba, Long.MAX_VALUE - lba));
            int idx = k >= 0 ? k : -k - 2;
            assertThat(idx).as("LBA %d (seed %d)", lba, seed).isGreaterThanOrEqualTo(0);
            assertThat(snap.get(idx).end()).as("LBA %d (seed %d)", lba, seed).isGreaterThan(lba);
        }
    }

    @Test
    void sequentialStreamsCoalesceWithoutGrowing() {
        var d = new DirtyExtents(1, TIB_4K_LBAS, 4096);
        for (long lba = 0; lba < 1_000_000; lba += 8) {
            d.add(lba, 8);                        // stream A
            d.add(TIB_4K_LBAS / 2 + lba, 8);      // stream B, interleaved
        }
        var st = d.stats();
        assertThat(st.extentCount()).isEqualTo(2);
        assertThat(st.dirtyLbas()).isEqualTo(2_000_000);
        assertThat(st.peakMemoryBytes()).isLessThan(64 << 10);
    }

    @Test
    void aWindowedSnapshotHoldsExactlyTheDirtyLbasOfTheWindowInBothModes() {
        long seed = new SplittableRandom().nextLong();
        var rnd = new SplittableRandom(seed);
        for (int budget : new int[] {1 << 20, 64}) {   // exact extents, then degraded to the bitmap
            var d = new DirtyExtents(1, 100_000, 512, new DirtyExtents.Config(budget, 64 << 10, 16));
            for (int i = 0; i < 300; i++) {
                int count = 1 + rnd.nextInt(40);
                d.add(rnd.nextInt(100_000 - count), count);
            }
            d.takeBatch(3 * 512L);   // a small take may split a granule: the remainder must show too
            List<LbaRange> all = d.snapshot();
            for (int i = 0; i < 200; i++) {
                long from = rnd.nextInt(100_000), to = from + 1 + rnd.nextInt(5_000);
                List<LbaRange> expected = all.stream().filter(r -> r.slba() < to && r.end() > from)
                        .map(r -> new LbaRange(Math.max(r.slba(), from), Math.min(r.end(), to) - Math.max(r.slba(), from))).toList();
                assertThat(d.snapshot(from, to)).as("seed %d, budget %d, [%d, %d)", seed, budget, from, to).isEqualTo(expected);
            }
        }
    }
}
