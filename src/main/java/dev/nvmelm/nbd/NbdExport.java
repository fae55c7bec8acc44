package dev.nvmelm.nbd;

import java.io.IOException;
import java.util.List;

/**
 * What an NBD server exports: a byte-addressed disk with optional capabilities. Implementations:
 * {@link FileExport} (a plain file), and a namespace whose I/O goes through an NVMe controller's
 * I/O queues (so every write is logged by the CDQ like a guest's).
 */
public interface NbdExport {
    String name();

    String description();

    long sizeBytes();

    /** Minimum, preferred and maximum request sizes advertised with NBD_INFO_BLOCK_SIZE. */
    default int minBlockBytes() { return 1; }

    default int preferredBlockBytes() { return 4096; }

    default int maxPayloadBytes() { return 32 << 20; }

    default boolean readOnly() { return false; }

    /** FLUSH/FUA are visible across connections (true for a single backing store). */
    default boolean canMultiConn() { return true; }

    void read(long offset, byte[] dst, int len) throws IOException;

    void write(long offset, byte[] src, int len, boolean fua) throws IOException;

    /**
     * Writes zeroes. {@code mayDeallocate} = the client did not send NO_HOLE. With
     * {@code fastOnly} (FAST_ZERO) it must fail with ENOTSUP unless it is faster than writing.
     */
    void writeZeroes(long offset, long length, boolean mayDeallocate, boolean fastOnly) throws IOException;

    void trim(long offset, long length) throws IOException;

    void flush() throws IOException;

    /** Metadata contexts this export can answer BLOCK_STATUS for, by name. */
    List<String> metaContexts();

    /** One block-status extent: a run of {@code lengthBytes} with context-specific flags. */
    record Extent(long lengthBytes, int flags) {}

    /**
     * Extents covering [offset, offset+length) for a context (at least one, starting at offset;
     * may stop early).
     */
    List<Extent> blockStatus(String context, long offset, long length) throws IOException;
}
