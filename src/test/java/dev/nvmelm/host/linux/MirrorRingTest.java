package dev.nvmelm.host.linux;

import dev.nvmelm.host.cdq.CdqListener;
import dev.nvmelm.host.cdq.CdqMarker;
import dev.nvmelm.host.cdq.CdqRingReader;
import dev.nvmelm.host.cdq.DirtyExtents;
import dev.nvmelm.host.cdq.LbaRange;
import dev.nvmelm.spec.LbaMigrationEntry;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The user-memory mirror of a kernel-owned CDQ, read by the real consumer-side reader of
 * host.cdq: entries arrive exactly once and in order over many ring passes, whatever phase tag
 * the kernel's copy carries, and head reports outside the occupied region are refused.
 */
class MirrorRingTest {

    private static MemorySegment entries(Arena a, List<LbaMigrationEntry> list) {
        MemorySegment m = a.allocate((long) Math.max(1, list.size()) * 32);
        for (int i = 0; i < list.size(); i++) list.get(i).encode(m, 32L * i);
        return m;
    }

    @Test
    void everyEntryIsConsumedOnceInOrderOverManyPassesWhateverPhaseTheKernelCopyCarries() {
        int n = 16;
        long total = 5_000;   // > 300 passes of the ring
        Random rnd = new Random(42);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ring = a.allocate(32L * n, 4096);
            MirrorRing mirror = new MirrorRing(ring, n);
            DirtyExtents ns = new DirtyExtents(1, total, 512);
            List<CdqMarker> markers = new ArrayList<>();
            CdqRingReader reader = new CdqRingReader(ring, n, List.of(ns), new CdqListener() {
                @Override
                public void onMarker(CdqMarker m) {
                    markers.add(m);
                }
            }, 64);
            long produced = 0, consumed = 0;
            for (int round = 0; consumed < total; round++) {
                assertThat(round).as("the consumer stopped making progress").isLessThan(100_000);
                int batch = (int) Math.min(total - produced, rnd.nextInt(mirror.freeSlots() + 1));
                List<LbaMigrationEntry> src = new ArrayList<>();
                // One LBA per entry, in order; the kernel's phase bit is random and must not matter
                for (int i = 0; i < batch; i++) src.add(LbaMigrationEntry.range(1, produced + i, 1, rnd.nextBoolean()));
                mirror.publish(entries(a, src), batch);
                produced += batch;
                int got = reader.drain(1 + rnd.nextInt(n));
                consumed += got;
                assertThat(reader.sequence()).isEqualTo(consumed);
                assertThat(consumed).isLessThanOrEqualTo(produced);
                assertThat(mirror.reportHead(reader.head())).isTrue();
                // Contiguous coverage so far: exactly [0, consumed)
                assertThat(ns.snapshot()).isEqualTo(consumed == 0 ? List.of() : List.of(new LbaRange(0, consumed)));
            }
            assertThat(mirror.published()).isEqualTo(total);
            assertThat(markers).isEmpty();
            assertThat(reader.drain(n)).as("nothing left").isZero();
        }
    }

    @Test
    void phaseIsOneOnTheFirstPassAndFlipsOnWrapWhileOtherAttributeBitsAreKept() {
        int n = 4;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ring = a.allocate(32L * n, 4096);
            MirrorRing mirror = new MirrorRing(ring, n);
            // A stopped marker (ESA 2, LBACI 2) copied with phase 0 by the kernel
            mirror.publish(entries(a, List.of(LbaMigrationEntry.marker(2, false), LbaMigrationEntry.range(1, 7, 1, false),
                    LbaMigrationEntry.range(1, 8, 1, true))), 3);
            int attrs = ring.get(ValueLayout.JAVA_BYTE, 31) & 0xff;
            assertThat(attrs & 1).isEqualTo(1);
            assertThat(attrs >>> 1 & 7).as("ESA").isEqualTo(2);
            assertThat(attrs >>> 6).as("LBACI").isEqualTo(2);
            assertThat(ring.get(ValueLayout.JAVA_BYTE, 63) & 1).isEqualTo(1);
            assertThat(ring.get(ValueLayout.JAVA_BYTE, 95) & 1).isEqualTo(1);
            assertThat(mirror.freeSlots()).as("usable capacity is N-1").isZero();
            assertThat(mirror.reportHead(3)).isTrue();
            mirror.publish(entries(a, List.of(LbaMigrationEntry.range(1, 9, 1, true), LbaMigrationEntry.range(1, 10, 1, true))), 2);
            assertThat(ring.get(ValueLayout.JAVA_BYTE, 127) & 1).as("slot 3, still pass 1").isEqualTo(1);
            assertThat(ring.get(ValueLayout.JAVA_BYTE, 31) & 1).as("slot 0, pass 2").isZero();
            assertThat(ring.get(ValueLayout.JAVA_BYTE, 0 + 8)).as("SLBA of slot 0 rewritten").isEqualTo((byte) 10);
            assertThat(mirror.tail()).isEqualTo(1);
        }
    }

    @Test
    void headReportsOutsideTheOccupiedRegionAreRefused() {
        int n = 8;
        try (Arena a = Arena.ofConfined()) {
            MirrorRing mirror = new MirrorRing(a.allocate(32L * n), n);
            List<LbaMigrationEntry> five = new ArrayList<>();
            for (int i = 0; i < 5; i++) five.add(LbaMigrationEntry.range(1, i, 1, true));
            mirror.publish(entries(a, five), 5);   // occupied: slots 0..4
            assertThat(mirror.reportHead(6)).as("past the tail").isFalse();
            assertThat(mirror.reportHead(8)).as("not a slot").isFalse();
            assertThat(mirror.reportHead(-1)).isFalse();
            assertThat(mirror.reportHead(0)).as("no progress is fine").isTrue();
            assertThat(mirror.reportHead(5)).as("everything consumed").isTrue();
            assertThat(mirror.reportHead(4)).as("backwards").isFalse();
            assertThat(mirror.head()).isEqualTo(5);
            assertThat(mirror.freeSlots()).isEqualTo(7);
        }
    }

    @Test
    void publishingMoreThanFitsIsRefused() {
        int n = 4;
        try (Arena a = Arena.ofConfined()) {
            MirrorRing mirror = new MirrorRing(a.allocate(32L * n), n);
            List<LbaMigrationEntry> four = new ArrayList<>();
            for (int i = 0; i < 4; i++) four.add(LbaMigrationEntry.range(1, i, 1, true));
            assertThatThrownBy(() -> mirror.publish(entries(a, four), 4)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("3 free slots");
            assertThat(mirror.published()).isZero();
            assertThatThrownBy(() -> new MirrorRing(a.allocate(32), 2)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new MirrorRing(a.allocate(32), 1)).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
