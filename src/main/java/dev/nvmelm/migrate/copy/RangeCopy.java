package dev.nvmelm.migrate.copy;

import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.block.BlockDevices;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

/**
 * The copy of a dirty pass: many small ranges, each a read and a write, so its cost is per
 * request, not per byte (a served controller: about ten thread hand-offs per command on the
 * client and the server). Three things keep it fast:
 * <ul>
 *   <li><b>neighbours coalesce</b>: ranges closer than {@link #GAP_BYTES} become one read (the
 *       gap is read, never written: the destination receives exactly the ranges, so a pass moves
 *       no more bytes than it was given);</li>
 *   <li><b>many requests in flight</b>: up to {@code maxCommands} commands at once, more than
 *       the bulk copy's 32 large requests, with a pool of small buffers;</li>
 *   <li><b>no thread per request</b>: each read's completion starts its writes itself through
 *       the block devices' asynchronous calls (an NVMe namespace submits without blocking).</li>
 * </ul>
 * Reads that return zeroes are written as Write Zeroes (deallocating), as the bulk copy does.
 * {@link #run} returns once every request it started has completed, and throws the first
 * failure; after a failure or a cancel it starts nothing new.
 */
final class RangeCopy {
    /** Ranges with at most this many bytes between them are read together. */
    static final long GAP_BYTES = 16 << 10;
    /** The largest coalesced read, and the size of the small buffers. */
    static final int SPAN_BYTES = 128 << 10;
    /** Most writes one coalesced read turns into. */
    static final int MAX_PIECES = 16;

    /** A write of the destination: [offset, +length) of the span it was read with. */
    record Piece(long offset, long length) {}

    /** One read: [offset, +length) of the source, and the pieces of it to write. */
    record Span(long offset, long length, List<Piece> pieces) {}

    /** Sink for what was moved (the copier's progress counters). */
    interface Counters {
        void copied(long bytes);

        void zeroed(long bytes);

        void request();
    }

    private final BlockDevice src, dst;
    private final ArrayBlockingQueue<MemorySegment> small, large;
    private final int maxCommands;
    private final boolean destinationIsZero;
    private final Counters counters;
    private final BooleanSupplier cancelled;
    private final Copier.TokenBucket bucket;   // null: no rate limit

    RangeCopy(BlockDevice src, BlockDevice dst, ArrayBlockingQueue<MemorySegment> small, ArrayBlockingQueue<MemorySegment> large, int maxCommands,
              boolean destinationIsZero, Counters counters, BooleanSupplier cancelled, Copier.TokenBucket bucket) {
        if (maxCommands < MAX_PIECES) throw new IllegalArgumentException("at least " + MAX_PIECES + " commands in flight, got " + maxCommands);
        this.src = src;
        this.dst = dst;
        this.small = small;
        this.large = large;
        this.maxCommands = maxCommands;
        this.destinationIsZero = destinationIsZero;
        this.counters = counters;
        this.cancelled = cancelled;
        this.bucket = bucket;
    }

    /**
     * Turns ranges (each aligned, in any order) into reads: a range longer than {@code largeBytes}
     * is split into pieces of that size, each its own read; consecutive ranges in ascending order
     * whose gap is at most {@code gapBytes} share a read while it stays within {@code spanBytes}
     * and {@code maxPieces} pieces.
     */
    static List<Span> spans(List<Copier.Range> ranges, long gapBytes, int spanBytes, int largeBytes, int maxPieces) {
        List<Span> out = new ArrayList<>();
        long start = -1, end = -1;
        List<Piece> pieces = new ArrayList<>();
        for (Copier.Range r : ranges) {
            for (long o = r.offset(), stop = r.offset() + r.length(); o < stop; ) {
                long n = Math.min(largeBytes, stop - o);
                boolean joins = start >= 0 && o >= end && o - end <= gapBytes && o + n - start <= spanBytes && pieces.size() < maxPieces;
                if (!joins) {
                    if (start >= 0) out.add(new Span(start, end - start, List.copyOf(pieces)));
                    pieces.clear();
                    start = o;
                }
                pieces.add(new Piece(o, n));
                end = o + n;
                o += n;
            }
        }
        if (start >= 0) out.add(new Span(start, end - start, List.copyOf(pieces)));
        return out;
    }

    /** Copies the spans; blocks until all are done. */
    void run(List<Span> spans) throws IOException {
        Semaphore commands = new Semaphore(maxCommands);
        AtomicReference<IOException> failure = new AtomicReference<>();
        boolean stoppedEarly = false;
        try {
            for (Span s : spans) {
                if (failure.get() != null) break;
                if (cancelled.getAsBoolean()) {
                    stoppedEarly = true;
                    break;
                }
                if (bucket != null) bucket.take(s.pieces().stream().mapToLong(Piece::length).sum());   // the rate limit counts what is moved
                // a span's writes use the permits its read took: commands in flight never exceed maxCommands
                int permits = Math.min(maxCommands, s.pieces().size());
                commands.acquireUninterruptibly(permits);
                ArrayBlockingQueue<MemorySegment> pool = s.length() <= SPAN_BYTES && small != null ? small : large;
                MemorySegment buf;
                try {
                    buf = pool.take();
                } catch (InterruptedException e) {
                    commands.release(permits);
                    Thread.currentThread().interrupt();
                    failure.compareAndSet(null, new IOException("copy interrupted"));
                    break;
                }
                start(s, buf, pool, permits, commands, failure);
            }
        } finally {
            commands.acquireUninterruptibly(maxCommands);   // every request started has completed: its buffer is free
        }
        if (failure.get() != null) throw failure.get();
        if (stoppedEarly) throw new IOException("copy cancelled");
    }

    private void start(Span s, MemorySegment buf, ArrayBlockingQueue<MemorySegment> pool, int permits, Semaphore commands,
                       AtomicReference<IOException> failure) {
        MemorySegment data = buf.asSlice(0, s.length());
        CompletableFuture<Void> read;
        try {
            read = src.readAsync(s.offset(), data);
        } catch (RuntimeException e) {
            read = CompletableFuture.failedFuture(e);
        }
        read.thenCompose(v -> failure.get() != null ? CompletableFuture.<Void>completedFuture(null) : writes(s, data))
                .whenComplete((v, t) -> {
                    if (t != null) failure.compareAndSet(null, BlockDevices.cause(t));
                    else counters.request();
                    pool.add(buf);
                    commands.release(permits);
                });
    }

    /** The span's pieces to the destination: data as read, or zeroes where it read as zeroes. */
    private CompletableFuture<Void> writes(Span s, MemorySegment data) {
        CompletableFuture<?>[] w = new CompletableFuture<?>[s.pieces().size()];
        for (int i = 0; i < w.length; i++) {
            Piece p = s.pieces().get(i);
            MemorySegment piece = data.asSlice(p.offset() - s.offset(), p.length());
            try {
                if (Copier.allZero(piece)) {
                    w[i] = destinationIsZero ? CompletableFuture.completedFuture(null) : dst.writeZeroesAsync(p.offset(), p.length(), true);
                    w[i] = w[i].thenRun(() -> counters.zeroed(p.length()));
                } else {
                    w[i] = dst.writeAsync(p.offset(), piece).thenRun(() -> counters.copied(p.length()));
                }
            } catch (RuntimeException e) {
                w[i] = CompletableFuture.failedFuture(e);
            }
        }
        return w.length == 1 ? w[0].thenApply(x -> null) : CompletableFuture.allOf(w);
    }
}
