package dev.nvmelm.migrate.workload;

import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.spec.IoCommands;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * A guest: writes self-describing blocks through a migratable controller's I/O queues, paced to
 * a rate, and remembers the last version of every block it wrote (the oracle). Each block
 * records its index and version and is filled from them, so the final destination can be checked
 * against what the guest wrote, independently of the source. No two commands in flight touch
 * the same block, so "last completed" is "last written".
 */
public final class Workload implements AutoCloseable {
    private static final long MAGIC = 0x314b4c424d4c564eL;   // "NVMLBLK1"
    private static final long ZEROED = -1, NEVER = 0;

    private final NvmeDevice guest;
    private final int nsid;
    private final int lbaSize;
    private final long blocks;
    private final WorkloadSpec spec;
    private final LongSupplier clock;
    private final AtomicLongArray versions;
    private final ConcurrentHashMap<Long, Boolean> inFlight = new ConcurrentHashMap<>();
    private final AtomicLong nextVersion = new AtomicLong(1);
    private final AtomicLong issued = new AtomicLong();
    private final AtomicLong seqCursor = new AtomicLong();
    public final AtomicLong writes = new AtomicLong(), zeroes = new AtomicLong(), trims = new AtomicLong(),
            reads = new AtomicLong(), readMismatches = new AtomicLong(), errors = new AtomicLong();
    private final ExecutorService exec = Executors.newVirtualThreadPerTaskExecutor();
    private volatile boolean stop;
    private long startNanos;

    public Workload(NvmeDevice guest, int nsid, long namespaceBytes, int lbaSize, WorkloadSpec spec, LongSupplier nanoClock) {
        if (spec.blockBytes() % lbaSize != 0) throw new IllegalArgumentException("workload bs " + spec.blockBytes() + " is not a multiple of the LBA size " + lbaSize);
        this.guest = guest;
        this.nsid = nsid;
        this.lbaSize = lbaSize;
        this.blocks = namespaceBytes / spec.blockBytes();
        this.spec = spec;
        this.clock = nanoClock;
        if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException("namespace too large for the workload oracle");
        this.versions = new AtomicLongArray((int) blocks);
    }

    public void start() {
        startNanos = clock.getAsLong();
        for (int w = 0; w < spec.queueDepth(); w++) {
            long seed = spec.seed() * 1_000_003L + w;
            exec.execute(() -> run(new SplittableRandom(seed)));
        }
    }

    public double elapsedSeconds() {
        return (clock.getAsLong() - startNanos) / 1e9;
    }

    private boolean timeUp() {
        return stop || (spec.seconds() > 0 && elapsedSeconds() >= spec.seconds());
    }

    private void run(SplittableRandom r) {
        MemorySegment buf = guest.allocateBuffer(spec.blockBytes());
        while (!timeUp()) {
            long n = issued.getAndIncrement();
            if (spec.iops() > 0) {   // the n-th operation starts at start + n/iops
                long due = startNanos + n * 1_000_000_000L / spec.iops();
                long wait = due - clock.getAsLong();
                if (wait > 0) LockSupport.parkNanos(wait);
                if (timeUp()) return;
            }
            long block = pick(r);
            if (block < 0) continue;
            try {
                double x = r.nextDouble();
                if (spec.kind() == WorkloadSpec.Kind.MIXED && r.nextBoolean()) read(block, buf);
                else if (x < spec.zeroes()) zero(block, false);
                else if (x < spec.zeroes() + spec.trim()) zero(block, true);
                else write(block, buf);
            } catch (Exception e) {
                errors.incrementAndGet();
            } finally {
                inFlight.remove(block);
            }
        }
    }

    private long pick(SplittableRandom r) {
        for (int tries = 0; tries < 16; tries++) {
            long b = spec.kind() == WorkloadSpec.Kind.SEQ_WRITE ? Math.floorMod(seqCursor.getAndIncrement(), blocks) : r.nextLong(blocks);
            if (inFlight.putIfAbsent(b, Boolean.TRUE) == null) return b;
        }
        return -1;
    }

    private long slba(long block) {
        return block * spec.blockBytes() / lbaSize;
    }

    private long lbas() {
        return spec.blockBytes() / lbaSize;
    }

    private void write(long block, MemorySegment buf) throws Exception {
        long v = nextVersion.getAndIncrement();
        fill(buf, block, v, spec.seed());
        Completion c = guest.io(IoCommands.write(nsid, slba(block), lbas(), false).toSqe(), buf);
        if (!c.ok()) throw new IOException("write failed: " + c.status());
        versions.set((int) block, v);
        writes.incrementAndGet();
    }

    private void zero(long block, boolean trim) throws Exception {
        Completion c;
        if (trim) {
            MemorySegment range = guest.allocateBuffer(16);
            try {
                IoCommands.encodeRanges(List.of(new IoCommands.DsmRange(slba(block), lbas())), range);
                c = guest.io(new IoCommands.DatasetManagement(nsid, 1, true).toSqe(), range);
            } finally {
                guest.freeBuffer(range);
            }
        } else {
            c = guest.io(new IoCommands.WriteZeroes(nsid, slba(block), (int) (lbas() - 1), false).toSqe(), null);
        }
        if (!c.ok()) throw new IOException("zero/trim failed: " + c.status());
        versions.set((int) block, ZEROED);
        (trim ? trims : zeroes).incrementAndGet();
    }

    private void read(long block, MemorySegment buf) throws Exception {
        long expect = versions.get((int) block);
        Completion c = guest.io(IoCommands.read(nsid, slba(block), lbas()).toSqe(), buf);
        if (!c.ok()) throw new IOException("read failed: " + c.status());
        reads.incrementAndGet();
        if (expect != NEVER && !matches(buf, block, expect, spec.seed())) readMismatches.incrementAndGet();
    }

    static void fill(MemorySegment buf, long block, long version, long seed) {
        buf.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, MAGIC);
        buf.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, block);
        buf.set(ValueLayout.JAVA_LONG_UNALIGNED, 16, version);
        buf.set(ValueLayout.JAVA_LONG_UNALIGNED, 24, seed);
        SplittableRandom r = new SplittableRandom(block * 0x9E3779B97F4A7C15L ^ version ^ seed);
        for (long o = 32; o + 8 <= buf.byteSize(); o += 8) buf.set(ValueLayout.JAVA_LONG_UNALIGNED, o, r.nextLong());
    }

    static boolean matches(MemorySegment buf, long block, long version, long seed) {
        if (version == ZEROED) {
            for (long o = 0; o < buf.byteSize(); o += 8) if (buf.get(ValueLayout.JAVA_LONG_UNALIGNED, o) != 0) return false;
            return true;
        }
        if (buf.get(ValueLayout.JAVA_LONG_UNALIGNED, 0) != MAGIC || buf.get(ValueLayout.JAVA_LONG_UNALIGNED, 8) != block
                || buf.get(ValueLayout.JAVA_LONG_UNALIGNED, 16) != version) return false;
        SplittableRandom r = new SplittableRandom(block * 0x9E3779B97F4A7C15L ^ version ^ seed);
        for (long o = 32; o + 8 <= buf.byteSize(); o += 8) if (buf.get(ValueLayout.JAVA_LONG_UNALIGNED, o) != r.nextLong()) return false;
        return true;
    }

    /** Stops issuing and waits for the commands in flight. */
    public void stop() throws InterruptedException {
        stop = true;
        exec.shutdown();
        if (!exec.awaitTermination(60, TimeUnit.SECONDS)) throw new IllegalStateException("workload did not stop within 60 s");
    }

    /** Waits until the workload's time is up (seconds=N), then stops it. */
    public void awaitEnd() throws InterruptedException {
        while (!timeUp()) Thread.sleep(20);
        stop();
    }

    /** Result of checking a disk against the oracle. */
    public record Check(long blocksChecked, long badBlocks, long firstBad) {}

    /** Checks every block the workload wrote (or zeroed) on {@code disk}: the guest's own verification. */
    public Check check(BlockDevice disk) throws IOException {
        MemorySegment buf = disk.allocateBuffer(spec.blockBytes());
        long checked = 0, bad = 0, first = -1;
        for (int b = 0; b < blocks; b++) {
            long v = versions.get(b);
            if (v == NEVER) continue;
            disk.read((long) b * spec.blockBytes(), buf);
            checked++;
            if (!matches(buf, b, v, spec.seed())) {
                bad++;
                if (first < 0) first = b;
            }
        }
        return new Check(checked, bad, first);
    }

    /** The version the oracle holds for a block (0 never written, -1 zeroed). */
    public long versionOf(long block) {
        return versions.get((int) block);
    }

    public long guestWrites() {
        return writes.get() + zeroes.get() + trims.get();
    }

    @Override
    public void close() throws InterruptedException {
        if (!exec.isShutdown()) stop();
    }
}
