package dev.nvmelm.jmh;

import dev.nvmelm.host.cdq.DirtyExtents;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Memory of {@link DirtyExtents} for a 1 TiB namespace of 4 KiB LBAs after {@code entries}
 * random 4 KiB writes, added in batches of 4096 as the CDQ consumer adds them. One invocation
 * builds a fresh structure; the secondary results are, per iteration:
 * <ul>
 *   <li>{@code estimateBytes}: {@link DirtyExtents#memoryBytes()}, the deterministic estimate
 *       (array capacities x element size + array headers + a fixed object allowance);</li>
 *   <li>{@code peakEstimateBytes}: the largest estimate seen while adding, i.e. while extent
 *       arrays, staging, sort scratch and, at the switch, the new bitmap coexist;</li>
 *   <li>{@code heapRetainedBytes}: measured: heap used after a full GC while a field holds
 *       the structure, minus heap used after a full GC once the field is cleared (Serial GC,
 *       whose System.gc() is a full compacting collection, so "used" is the live data);</li>
 *   <li>{@code extents}, {@code bitmapMode}: how it ended up.</li>
 * </ul>
 * The primary score (time for the whole insert plus two pairs of full GCs) is incidental.
 * JMH sums EVENTS counters over iterations: run it with {@code -i 1} to read them as they are.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseSerialGC", "-Xmx2g"})
public class DirtyExtentsMemoryBench {
    static final long LBAS = (1L << 40) / 4096;
    static final int BATCH = 4096;

    @Param({"100000", "1000000", "10000000"})
    public int entries;

    private long seed = 1;

    @AuxCounters(AuxCounters.Type.EVENTS)
    @State(Scope.Thread)
    public static class Memory {
        public long estimateBytes, peakEstimateBytes, heapRetainedBytes, extents, bitmapMode;


        @Setup(Level.Iteration)
        public void reset() {
            estimateBytes = peakEstimateBytes = heapRetainedBytes = extents = bitmapMode = 0;
        }
    }

    /** Holds the structure during the measurement: a field is reachable beyond doubt. */
    private DirtyExtents held;

    @Benchmark
    public long randomWrites(Memory out) {
        long dirtyLbas = build(out);
        // No local of this frame refers to the structure: only the field keeps it alive.
        long with = usedAfterGc();
        held = null;
        long without = usedAfterGc();
        out.heapRetainedBytes = with - without;
        return dirtyLbas;
    }

    private long build(Memory out) {
        var rnd = new SplittableRandom(seed++);
        var d = new DirtyExtents(1, LBAS, 4096);
        long[] starts = new long[BATCH], ends = new long[BATCH];
        for (int done = 0; done < entries; ) {
            int n = Math.min(BATCH, entries - done);
            for (int i = 0; i < n; i++) {
                long lba = rnd.nextLong(LBAS);
                starts[i] = lba;
                ends[i] = lba + 1;
            }
            d.addAll(starts, ends, 0, n);
            done += n;
        }
        var st = d.stats();   // merges whatever is staged
        out.estimateBytes = d.memoryBytes();
        out.peakEstimateBytes = st.peakMemoryBytes();
        out.extents = st.extentCount();
        out.bitmapMode = st.mode() == DirtyExtents.Mode.BITMAP ? 1 : 0;
        held = d;
        return st.dirtyLbas();
    }

    private static long usedAfterGc() {
        var mem = ManagementFactory.getMemoryMXBean();
        System.gc();
        System.gc();
        return mem.getHeapMemoryUsage().getUsed();
    }
}
