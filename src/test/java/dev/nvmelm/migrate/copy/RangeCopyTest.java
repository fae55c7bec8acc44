package dev.nvmelm.migrate.copy;

import dev.nvmelm.block.BlockDevice;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RangeCopyTest {
    static final int BLOCK = 4096;

    private static Copier.Range r(long block, long blocks) {
        return new Copier.Range(block * BLOCK, blocks * BLOCK);
    }

    @Test
    void neighboursWithinTheGapShareOneReadAndKeepTheirOwnWrites() {
        List<RangeCopy.Span> s = RangeCopy.spans(List.of(r(0, 1), r(2, 1), r(4, 2), r(100, 1)), 4 * BLOCK, 128 << 10, 1 << 20, 16);
        assertThat(s).hasSize(2);
        assertThat(s.get(0)).isEqualTo(new RangeCopy.Span(0, 6 * BLOCK,
                List.of(new RangeCopy.Piece(0, BLOCK), new RangeCopy.Piece(2 * BLOCK, BLOCK), new RangeCopy.Piece(4 * BLOCK, 2 * BLOCK))));
        assertThat(s.get(1)).isEqualTo(new RangeCopy.Span(100 * BLOCK, BLOCK, List.of(new RangeCopy.Piece(100 * BLOCK, BLOCK))));
    }

    @Test
    void spansStopAtTheGapTheSpanSizeThePieceCountAndADescendingStep() {
        // gap of 5 blocks > 4
        assertThat(RangeCopy.spans(List.of(r(0, 1), r(6, 1)), 4 * BLOCK, 128 << 10, 1 << 20, 16)).hasSize(2);
        // a wrap (the sweep starting again at the front) never joins
        assertThat(RangeCopy.spans(List.of(r(10, 1), r(9, 1)), 4 * BLOCK, 128 << 10, 1 << 20, 16)).hasSize(2);
        // 128 KiB spans: 40 single blocks every other block need 3 reads (79 blocks long in all)
        List<Copier.Range> every = new ArrayList<>();
        for (int i = 0; i < 40; i++) every.add(r(2L * i, 1));
        List<RangeCopy.Span> bySize = RangeCopy.spans(every, 4 * BLOCK, 128 << 10, 1 << 20, 100);
        assertThat(bySize).allSatisfy(sp -> assertThat(sp.length()).isLessThanOrEqualTo(128 << 10));
        assertThat(bySize.stream().mapToInt(sp -> sp.pieces().size()).sum()).isEqualTo(40);
        assertThat(RangeCopy.spans(every, 4 * BLOCK, 1 << 20, 1 << 20, 16)).allSatisfy(sp -> assertThat(sp.pieces()).hasSizeLessThanOrEqualTo(16));
        // a long range is split at the large request size, each piece its own read
        List<RangeCopy.Span> big = RangeCopy.spans(List.of(r(0, 600)), 4 * BLOCK, 128 << 10, 1 << 20, 16);
        assertThat(big).extracting(RangeCopy.Span::length).containsExactly(1L << 20, 1L << 20, 600L * BLOCK - (2L << 20));
    }

    /** Memory as a block device whose asynchronous calls complete later on other threads, counting what is in flight. */
    static final class SlowMemory implements BlockDevice {
        final MemorySegment data;
        final ExecutorService completer = Executors.newFixedThreadPool(4);
        final AtomicInteger inFlight = new AtomicInteger(), maxInFlight = new AtomicInteger();
        final AtomicLong zeroed = new AtomicLong(), writes = new AtomicLong();
        final Random random = new Random(5);
        volatile long failWriteAt = -1;

        SlowMemory(long size) {
            data = Arena.ofAuto().allocate(size, BLOCK);
        }

        @Override public String name() { return "memory"; }

        @Override public long sizeBytes() { return data.byteSize(); }

        @Override public int blockSizeBytes() { return BLOCK; }

        @Override public MemorySegment allocateBuffer(long sizeBytes) { return Arena.ofAuto().allocate(sizeBytes, BLOCK); }

        @Override public void read(long offset, MemorySegment dst) { MemorySegment.copy(data, offset, dst, 0, dst.byteSize()); }

        @Override
        public void write(long offset, MemorySegment src) throws IOException {
            if (failWriteAt >= offset && failWriteAt < offset + src.byteSize()) throw new IOException("write at " + offset + " failed");
            writes.incrementAndGet();
            MemorySegment.copy(src, 0, data, offset, src.byteSize());
        }

        @Override
        public void writeZeroes(long offset, long length, boolean deallocate) {
            zeroed.addAndGet(length);
            data.asSlice(offset, length).fill((byte) 0);
        }

        private CompletableFuture<Void> later(dev.nvmelm.block.BlockDevices.Call call) {
            int n = inFlight.incrementAndGet();
            maxInFlight.accumulateAndGet(n, Math::max);
            CompletableFuture<Void> f = new CompletableFuture<>();
            int spins = random.nextInt(2000);
            completer.execute(() -> {
                for (int i = 0; i < spins; i++) Thread.onSpinWait();   // completions out of order
                IOException failed = null;
                try {
                    call.run();
                } catch (IOException e) {
                    failed = e;
                }
                inFlight.decrementAndGet();
                if (failed == null) f.complete(null);
                else f.completeExceptionally(failed);
            });
            return f;
        }

        @Override public CompletableFuture<Void> readAsync(long offset, MemorySegment dst) { return later(() -> read(offset, dst)); }

        @Override public CompletableFuture<Void> writeAsync(long offset, MemorySegment src) { return later(() -> write(offset, src)); }

        @Override public CompletableFuture<Void> writeZeroesAsync(long offset, long length, boolean d) { return later(() -> writeZeroes(offset, length, d)); }

        @Override public void flush() {}

        @Override public List<Extent> allocated(long offset, long length) { return List.of(new Extent(offset, length)); }

        @Override public void close() { completer.shutdownNow(); }
    }

    private static RangeCopy copier(SlowMemory src, SlowMemory dst, int commands, AtomicLong copied) {
        ArrayBlockingQueue<MemorySegment> small = new ArrayBlockingQueue<>(8), large = new ArrayBlockingQueue<>(2);
        for (int i = 0; i < 8; i++) small.add(src.allocateBuffer(128 << 10));
        for (int i = 0; i < 2; i++) large.add(src.allocateBuffer(1 << 20));
        return new RangeCopy(src, dst, small, large, commands, false, new RangeCopy.Counters() {
            @Override public void copied(long bytes) { copied.addAndGet(bytes); }

            @Override public void zeroed(long bytes) {}

            @Override public void request() {}
        }, () -> false, null);
    }

    @Test
    void exactlyTheRangesArriveTheGapsStayAndInFlightStaysBounded() throws Exception {
        long size = 64L << 20;
        try (SlowMemory src = new SlowMemory(size); SlowMemory dst = new SlowMemory(size)) {
            new Random(1).ints(size / 4).forEach(new java.util.function.IntConsumer() {
                long at = 0;

                @Override public void accept(int v) { src.data.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, at, v | 1); at += 4; }
            });
            dst.data.fill((byte) 0x5a);
            TreeSet<Long> blocks = new TreeSet<>();
            Random rnd = new Random(2);
            while (blocks.size() < 3000) blocks.add((long) rnd.nextInt((int) (size / BLOCK) - 400));
            List<Copier.Range> ranges = new ArrayList<>();
            for (long b : blocks) ranges.add(r(b, 1));
            ranges.add(r(size / BLOCK - 300, 300));   // and one long range
            AtomicLong copied = new AtomicLong();
            copier(src, dst, 16, copied).run(RangeCopy.spans(ranges, 4 * BLOCK, 128 << 10, 1 << 20, 16));
            assertThat(src.maxInFlight.get()).isLessThanOrEqualTo(16);
            assertThat(dst.maxInFlight.get()).isLessThanOrEqualTo(16);
            assertThat(src.inFlight.get() + dst.inFlight.get()).isZero();
            assertThat(copied.get()).isEqualTo(3300L * BLOCK);
            for (long b = 0; b < size / BLOCK; b++) {
                boolean dirty = blocks.contains(b) || b >= size / BLOCK - 300;
                long mismatch = MemorySegment.mismatch(src.data, b * BLOCK, (b + 1) * BLOCK, dst.data, b * BLOCK, (b + 1) * BLOCK);
                if (dirty) assertThat(mismatch).as("block %d copied", b).isEqualTo(-1);
                else assertThat(dst.data.get(java.lang.foreign.ValueLayout.JAVA_BYTE, b * BLOCK)).as("block %d untouched", b).isEqualTo((byte) 0x5a);
            }
        }
    }

    @Test
    void zeroesAreWrittenAsZeroesAndAFailedWriteIsThrownAfterEverythingStartedCompleted() throws Exception {
        try (SlowMemory src = new SlowMemory(8 << 20); SlowMemory dst = new SlowMemory(8 << 20)) {
            src.data.asSlice(0, 4 << 20).fill((byte) 7);   // the upper half reads as zeroes
            dst.data.fill((byte) 1);
            List<Copier.Range> ranges = new ArrayList<>();
            for (long b = 0; b < 2048; b += 3) ranges.add(r(b, 1));
            copier(src, dst, 32, new AtomicLong()).run(RangeCopy.spans(ranges, 4 * BLOCK, 128 << 10, 1 << 20, 16));
            long zeroRanges = ranges.stream().filter(x -> x.offset() >= 4 << 20).count();
            assertThat(dst.zeroed.get()).isEqualTo(zeroRanges * BLOCK);
            long firstZero = ranges.stream().filter(x -> x.offset() >= 4 << 20).findFirst().orElseThrow().offset();
            assertThat(dst.data.get(java.lang.foreign.ValueLayout.JAVA_BYTE, firstZero)).isZero();
            assertThat(dst.data.get(java.lang.foreign.ValueLayout.JAVA_BYTE, firstZero + BLOCK)).isEqualTo((byte) 1);   // not in the list

            dst.failWriteAt = 999L * BLOCK;   // block 999 is in the list (999 = 3 * 333)
            RangeCopy c = copier(src, dst, 32, new AtomicLong());
            assertThatThrownBy(() -> c.run(RangeCopy.spans(ranges, 0, 128 << 10, 1 << 20, 16)))
                    .isInstanceOf(IOException.class).hasMessageContaining("write at " + 999L * BLOCK);
            assertThat(src.inFlight.get() + dst.inFlight.get()).as("nothing left in flight").isZero();
            dst.completer.shutdown();
            assertThat(dst.completer.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }
    }
}
