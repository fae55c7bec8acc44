package dev.nvmelm.block;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The migration engine's view of a namespace-sized disk. Calls block and are thread-safe:
 * concurrency comes from many virtual threads issuing requests at once, which each backend turns
 * into requests in flight (NVMe queue entries, NBD cookies, positional file I/O).
 * Implementations: a file, an NVMe namespace through {@code NvmeDevice}, an NBD export.
 */
public interface BlockDevice extends AutoCloseable {
    String name();

    long sizeBytes();

    /** Alignment every request must respect (the LBA size). */
    int blockSizeBytes();

    /** Largest single request the backend takes; callers split larger ones. */
    default int maxRequestBytes() {
        return 1 << 20;
    }

    /** A buffer the backend can DMA without copying (plain memory where that does not apply). */
    MemorySegment allocateBuffer(long sizeBytes);

    void read(long offset, MemorySegment dst) throws IOException;

    void write(long offset, MemorySegment src) throws IOException;

    /** Zeroes a range; with {@code deallocate} the backend may leave a hole (stays thin). */
    void writeZeroes(long offset, long length, boolean deallocate) throws IOException;

    /** Makes everything written so far durable. */
    void flush() throws IOException;

    /**
     * Starts a read of {@code dst.byteSize()} bytes at {@code offset}; the future fails with the
     * IOException the blocking call would throw. For callers that keep many small requests in
     * flight without a thread each (a dirty pass). Backends with their own queues (NVMe) submit
     * without blocking the caller; the default runs the blocking call on a virtual thread.
     */
    default CompletableFuture<Void> readAsync(long offset, MemorySegment dst) {
        return BlockDevices.onVirtualThread(() -> read(offset, dst));
    }

    /** Starts a write, as {@link #readAsync}. */
    default CompletableFuture<Void> writeAsync(long offset, MemorySegment src) {
        return BlockDevices.onVirtualThread(() -> write(offset, src));
    }

    /** Starts a {@link #writeZeroes}, as {@link #readAsync}. */
    default CompletableFuture<Void> writeZeroesAsync(long offset, long length, boolean deallocate) {
        return BlockDevices.onVirtualThread(() -> writeZeroes(offset, length, deallocate));
    }

    /** An allocated run [offset, offset + length). */
    record Extent(long offset, long length) {}

    /**
     * Allocated runs within [offset, offset + length), in order; everything else reads as zeroes.
     * Backends that cannot tell answer the whole range.
     */
    List<Extent> allocated(long offset, long length) throws IOException;

    @Override
    void close() throws IOException;
}
