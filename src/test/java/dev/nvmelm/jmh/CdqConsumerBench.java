package dev.nvmelm.jmh;

import dev.nvmelm.host.cdq.CdqListener;
import dev.nvmelm.host.cdq.CdqRingReader;
import dev.nvmelm.host.cdq.DirtyExtents;
import dev.nvmelm.spec.LbaMigrationEntry;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Consumer throughput on one core: the ring read in place (phase test with acquire, then the
 * rest of the entry), decoding with {@link LbaMigrationEntry}, the checks, and the insert into
 * {@link DirtyExtents}. The ring is a 2 MiB CDQ (65536 entries) in native memory; every
 * invocation consumes one full pass. Between invocations (not timed) the producer's side is
 * replayed: new LBAs are written and every phase tag flips, as the controller's phase does on
 * each wrap, so each pass is new to the consumer.
 *
 * <p>Workloads on a 1 TiB namespace of 4 KiB LBAs:
 * <ul>
 *   <li>{@code random}: random 4 KiB writes over the whole namespace, one DirtyExtents for the
 *       whole run: exact extents until the default budget (262144) is exceeded, then the bitmap;</li>
 *   <li>{@code randomCopied}: the same writes, but between passes (not timed) the copier takes
 *       everything, as a migration's dirty passes do: exact mode, 65536 new extents per pass
 *       (the merge-heavy steady state);</li>
 *   <li>{@code randomFresh}: the same into a new DirtyExtents each pass, so the timed part
 *       also grows its arrays from nothing;</li>
 *   <li>{@code hot}: random 4 KiB writes in a 64 MiB hot set (rewrites, exact mode);</li>
 *   <li>{@code sequential}: a stream of 32 KiB writes (coalescing).</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@OperationsPerInvocation(CdqConsumerBench.ENTRIES)
public class CdqConsumerBench {
    static final int ENTRIES = 1 << 16;
    static final long LBAS = (1L << 40) / 4096;
    static final long HOT_LBAS = (64L << 20) / 4096;

    @Param({"random", "randomCopied", "randomFresh", "hot", "sequential"})
    public String workload;

    private Arena arena;
    private MemorySegment ring;
    private DirtyExtents extents;
    private CdqRingReader reader;
    private SplittableRandom rnd;
    private boolean phase;
    private long nextLba;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        ring = arena.allocate((long) ENTRIES * LbaMigrationEntry.SIZE, 4096);
        rnd = new SplittableRandom(42);
        phase = false;   // flipped to 1 for the first pass, as a fresh controller writes
        newReader();
    }

    private void newReader() {
        extents = new DirtyExtents(1, LBAS, 4096);
        reader = new CdqRingReader(ring, ENTRIES, List.of(extents), CdqListener.NONE, 4096);
    }

    /** The controller's next pass: new entries with the flipped phase. */
    @Setup(Level.Invocation)
    public void produce() {
        if (workload.equals("randomFresh")) {
            // A fresh structure and reader each pass; a new reader expects phase 1 first.
            newReader();
            phase = true;
        } else {
            if (workload.equals("randomCopied")) {
                while (!extents.isEmpty()) extents.takeBatch(Long.MAX_VALUE);
            }
            phase = !phase;
        }
        for (int i = 0; i < ENTRIES; i++) {
            long slba, count;
            switch (workload) {
                case "random", "randomCopied", "randomFresh" -> { slba = rnd.nextLong(LBAS); count = 1; }
                case "hot" -> { slba = rnd.nextLong(HOT_LBAS); count = 1; }
                case "sequential" -> {
                    if (nextLba + 8 > LBAS) nextLba = 0;
                    slba = nextLba;
                    count = 8;
                    nextLba += 8;
                }
                default -> throw new IllegalArgumentException(workload);
            }
            LbaMigrationEntry.range(1, slba, count, phase).encode(ring, (long) i * LbaMigrationEntry.SIZE);
        }
    }

    /**
     * The consuming thread's CPU time beside the wall-clock score: on a machine shared with
     * other work, entries / CPU time is what one core does. JMH sums EVENTS over iterations,
     * so the ratio of the two sums is the overall rate.
     */
    @AuxCounters(AuxCounters.Type.EVENTS)
    @State(Scope.Thread)
    public static class Cpu {
        public long cpuNanos, entries;

        @Setup(Level.Iteration)
        public void reset() {
            cpuNanos = entries = 0;
        }
    }

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    @Benchmark
    public int consumePass(Cpu cpu) {
        long t0 = THREADS.getCurrentThreadCpuTime();
        int n = reader.drain(ENTRIES);
        cpu.cpuNanos += THREADS.getCurrentThreadCpuTime() - t0;
        cpu.entries += n;
        if (n != ENTRIES) throw new IllegalStateException("consumed " + n + " of " + ENTRIES);
        return n;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    /** Keeps the byte layout in the ring honest: every slot's phase tag is the current phase. */
    @TearDown(Level.Iteration)
    public void check() {
        int want = phase ? 1 : 0;
        for (int i = 0; i < ENTRIES; i += 997) {
            if ((ring.get(ValueLayout.JAVA_BYTE, (long) i * 32 + 31) & 1) != want) throw new IllegalStateException("phase");
        }
    }
}
