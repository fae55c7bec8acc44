package dev.nvmelm.migrate.copy;

import dev.nvmelm.block.BlockDevice;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

/**
 * Media copy in the shape of nbdcopy (libnbd's nbdcopy): the source is walked in work units
 * whose allocation map turns holes into zero writes (so a thin source stays thin); allocated
 * parts become large requests, up to {@code inFlight} at once on virtual threads, completing out
 * of order, with a fixed pool of buffers; blocks read as all zero are written as zeroes too.
 * The same machinery copies the exact ranges of a dirty pass.
 */
public final class Copier {
    /**
     * @param bulkSkip null, or which data the bulk pass may leave out because the destination
     *                 already holds it (a restarted source resuming against an agent's digests)
     */
    public record Config(int requestBytes, int inFlight, long workUnitBytes, boolean destinationIsZero, long rateLimitBytesPerSecond,
                         BulkSkip bulkSkip) {
        public Config(int requestBytes, int inFlight, long workUnitBytes, boolean destinationIsZero, long rateLimitBytesPerSecond) {
            this(requestBytes, inFlight, workUnitBytes, destinationIsZero, rateLimitBytesPerSecond, null);
        }

        public static Config defaults() {
            return new Config(1 << 20, 32, 64L << 20, false, 0);
        }

        public Config {
            if (requestBytes < 4096 || Integer.bitCount(requestBytes) != 1) throw new IllegalArgumentException("request size must be a power of two >= 4096");
            if (inFlight < 1 || inFlight > 1024) throw new IllegalArgumentException("in-flight requests must be 1..1024");
        }

        public Config withDestinationIsZero(boolean v) { return new Config(requestBytes, inFlight, workUnitBytes, v, rateLimitBytesPerSecond, bulkSkip); }

        public Config withRateLimit(long bps) { return new Config(requestBytes, inFlight, workUnitBytes, destinationIsZero, bps, bulkSkip); }

        public Config withBulkSkip(BulkSkip v) { return new Config(requestBytes, inFlight, workUnitBytes, destinationIsZero, rateLimitBytesPerSecond, v); }
    }

    /**
     * Decides, for data the bulk pass has just read, whether the destination already holds
     * exactly these bytes. It must answer true only when it knows: a skipped piece is never
     * written. Only the bulk pass asks (dirty passes copy what changed, always), and only about
     * pieces that do not cross a multiple of {@link #alignment()}.
     */
    public interface BulkSkip {
        boolean alreadyThere(long offset, MemorySegment data) throws IOException;

        /** Bulk pieces are split at multiples of this (a power of two), so each lies in one chunk. */
        int alignment();
    }

    /** Counters a progress display reads; all only ever grow. */
    public static final class Progress {
        public final AtomicLong bytesCopied = new AtomicLong();
        public final AtomicLong bytesZero = new AtomicLong();
        public final AtomicLong requests = new AtomicLong();
        /** Every {@link #copyRanges} call: {ranges asked for, bytes, nanoseconds it took}, in order. */
        public final List<long[]> rangeCopies = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    }

    private final BlockDevice src, dst;
    private final Config config;
    private final Progress progress;
    private final TokenBucket bucket;
    private final int request;
    private final AtomicLong bulkCursor = new AtomicLong();
    private final AtomicLong bulkFrontier = new AtomicLong();
    /** Buffers live as long as the copier: allocating DMA memory per pass would dominate small passes. */
    private final ArrayBlockingQueue<MemorySegment> buffers;
    private volatile boolean cancelled;
    /** Small buffers of the dirty passes: ranges are mostly a few blocks, and many are in flight. */
    static final int SMALL_BUFFERS = 64;
    private RangeCopy rangeCopy;

    public Copier(BlockDevice src, BlockDevice dst, Config config, Progress progress, LongSupplier nanoClock) {
        if (src.sizeBytes() != dst.sizeBytes()) {
            throw new IllegalArgumentException("source " + src.name() + " has " + src.sizeBytes() + " bytes, destination " + dst.name() + " has " + dst.sizeBytes());
        }
        this.src = src;
        this.dst = dst;
        this.config = config;
        this.progress = progress;
        this.bucket = config.rateLimitBytesPerSecond() > 0 ? new TokenBucket(config.rateLimitBytesPerSecond(), nanoClock) : null;
        int align = Math.max(src.blockSizeBytes(), dst.blockSizeBytes());
        this.request = Math.max(align, Math.min(config.requestBytes(), Math.min(src.maxRequestBytes(), dst.maxRequestBytes())));
        this.buffers = new ArrayBlockingQueue<>(config.inFlight());
        for (int i = 0; i < config.inFlight(); i++) buffers.add(src.allocateBuffer(request));
    }

    public Progress progress() {
        return progress;
    }

    /** Offset below which the bulk copy has dispatched everything (monotonic). */
    public long bulkCursor() {
        return bulkCursor.get();
    }

    /**
     * Offset at and above which the bulk copy has observed nothing yet: no read was issued and no
     * allocation map was asked for (monotonic; the source size once the bulk is done). A change
     * that landed on the source while its range was entirely at or above this value will be
     * read by the bulk copy itself. It moves before the observation it covers, so a reader that
     * sees a value above an offset cannot have missed a read of that offset.
     */
    public long bulkFrontier() {
        return bulkFrontier.get();
    }

    public void cancel() {
        cancelled = true;
    }

    /** One unit of work: data to read and write, or a hole to zero. */
    private record Request(long offset, long length, boolean hole) {}

    /** Copies the whole source: the bulk pass. */
    public void bulk() throws IOException {
        long size = src.sizeBytes();
        BulkSkip skip = config.bulkSkip();
        // with a skip predicate, pieces end at its chunk boundaries so each can be judged whole
        long align = skip == null ? Long.MAX_VALUE : skip.alignment();
        try (Pipeline p = new Pipeline(skip)) {
            for (long unit = 0; unit < size; unit += config.workUnitBytes()) {
                long len = Math.min(config.workUnitBytes(), size - unit);
                // The allocation map below observes the whole unit: a hole found now is written
                // as zeroes later without reading, so the frontier covers the unit first.
                bulkFrontier.set(unit + len);
                long at = unit;
                for (BlockDevice.Extent e : src.allocated(unit, len)) {
                    if (e.offset() > at) p.submit(new Request(at, e.offset() - at, true));
                    long end = e.offset() + e.length();
                    for (long o = e.offset(), n; o < end; o += n) {
                        n = Math.min(request, end - o);
                        if (align != Long.MAX_VALUE) n = Math.min(n, (o / align + 1) * align - o);
                        p.submit(new Request(o, n, false));
                    }
                    at = end;
                }
                if (at < unit + len) p.submit(new Request(at, unit + len - at, true));
                bulkCursor.set(unit + len);
            }
        }
    }

    /** A byte range to copy in a dirty pass. */
    public record Range(long offset, long length) {}

    /**
     * Copies exactly these ranges: neighbours read together, many in flight, each read's
     * completion starting its writes ({@link RangeCopy}).
     */
    public void copyRanges(List<Range> ranges) throws IOException {
        long t0 = System.nanoTime(), bytes = 0;
        for (Range r : ranges) bytes += r.length();
        int span = Math.min(RangeCopy.SPAN_BYTES, request);
        rangeCopy().run(RangeCopy.spans(ranges, RangeCopy.GAP_BYTES, span, request, RangeCopy.MAX_PIECES));
        progress.rangeCopies.add(new long[]{ranges.size(), bytes, System.nanoTime() - t0});
    }

    /** The dirty passes' copy, with its small buffers (made at the first pass, kept for the copier's life). */
    private synchronized RangeCopy rangeCopy() {
        if (rangeCopy == null) {
            int commands = Math.min(256, Math.max(RangeCopy.MAX_PIECES, 4 * config.inFlight()));
            int span = Math.min(RangeCopy.SPAN_BYTES, request);
            ArrayBlockingQueue<MemorySegment> small = new ArrayBlockingQueue<>(SMALL_BUFFERS);
            for (int i = 0; i < SMALL_BUFFERS; i++) small.add(src.allocateBuffer(span));
            rangeCopy = new RangeCopy(src, dst, small, buffers, commands, config.destinationIsZero(), new RangeCopy.Counters() {
                @Override public void copied(long bytes) { progress.bytesCopied.addAndGet(bytes); }

                @Override public void zeroed(long bytes) { progress.bytesZero.addAndGet(bytes); }

                @Override public void request() { progress.requests.incrementAndGet(); }
            }, () -> cancelled, bucket);
        }
        return rangeCopy;
    }

    /** Bounded concurrent execution of requests; close() waits for all and rethrows the first failure. */
    private final class Pipeline implements AutoCloseable {
        private final ExecutorService exec = Executors.newVirtualThreadPerTaskExecutor();
        private final Semaphore slots = new Semaphore(config.inFlight());
        private final AtomicReference<IOException> failure = new AtomicReference<>();
        private final BulkSkip skip;

        Pipeline(BulkSkip skip) {
            this.skip = skip;
        }

        void submit(Request r) throws IOException {
            IOException failed = failure.get();
            // a new exception: close() rethrows the original, which must not suppress itself
            if (failed != null) throw new IOException(failed.getMessage(), failed);
            if (cancelled) throw new IOException("copy cancelled");
            if (bucket != null && !r.hole()) bucket.take(r.length());
            slots.acquireUninterruptibly();
            exec.execute(() -> {
                MemorySegment buf = null;
                try {
                    if (r.hole()) {
                        if (!config.destinationIsZero()) dst.writeZeroes(r.offset(), r.length(), true);
                        progress.bytesZero.addAndGet(r.length());
                    } else {
                        buf = buffers.take();
                        MemorySegment b = buf.asSlice(0, r.length());
                        src.read(r.offset(), b);
                        if (allZero(b)) {
                            if (!config.destinationIsZero()) dst.writeZeroes(r.offset(), r.length(), true);
                            progress.bytesZero.addAndGet(r.length());
                        } else if (skip == null || !skip.alreadyThere(r.offset(), b)) {   // else the destination has these bytes
                            dst.write(r.offset(), b);
                            progress.bytesCopied.addAndGet(r.length());
                        }
                    }
                    progress.requests.incrementAndGet();
                } catch (IOException e) {
                    failure.compareAndSet(null, e);
                } catch (InterruptedException e) {
                    failure.compareAndSet(null, new IOException("copy interrupted"));
                } catch (RuntimeException e) {
                    failure.compareAndSet(null, new IOException(e.toString(), e));
                } finally {
                    if (buf != null) buffers.add(buf);
                    slots.release();
                }
            });
        }

        @Override
        public void close() throws IOException {
            exec.shutdown();
            exec.close();   // waits for every request in flight
            if (failure.get() != null) throw failure.get();
        }
    }

    private static final MemorySegment ZEROES = MemorySegment.ofArray(new byte[1 << 20]);

    static boolean allZero(MemorySegment m) {
        for (long at = 0; at < m.byteSize(); at += ZEROES.byteSize()) {
            long n = Math.min(ZEROES.byteSize(), m.byteSize() - at);
            if (MemorySegment.mismatch(m, at, at + n, ZEROES, 0, n) != -1) return false;
        }
        return true;
    }

    /** A byte-rate limit with an injected clock. */
    static final class TokenBucket {
        private final long bytesPerSecond;
        private final LongSupplier clock;
        private long nextFreeNanos;

        TokenBucket(long bytesPerSecond, LongSupplier clock) {
            this.bytesPerSecond = bytesPerSecond;
            this.clock = clock;
            this.nextFreeNanos = clock.getAsLong();
        }

        synchronized long reserve(long bytes) {
            long now = clock.getAsLong();
            long start = Math.max(now, nextFreeNanos);
            nextFreeNanos = start + bytes * 1_000_000_000L / bytesPerSecond;
            return start - now;
        }

        void take(long bytes) {
            long wait = reserve(bytes);
            if (wait > 0) java.util.concurrent.locks.LockSupport.parkNanos(wait);
        }
    }
}
