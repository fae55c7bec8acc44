package dev.nvmelm.util;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * Positional writes of a whole buffer, and of zeroes, into a file: the one loop that the
 * controller's namespaces, the engine's image files and the NBD file export share. A failed
 * write leaves as {@link NoSpaceException} when the file system is full, so callers map the
 * type (NVMe Capacity Exceeded, NBD ENOSPC, the agent's no-space refusal), never the text.
 */
public final class FileWrites {
    private static final int ZERO_CHUNK_BYTES = 1 << 20;

    private FileWrites() {}

    /** Writes all of {@code b} at {@code position}. */
    public static void writeFully(FileChannel ch, Path file, ByteBuffer b, long position) throws IOException {
        int wanted = b.remaining();
        long start = position - b.position();
        try {
            while (b.hasRemaining()) ch.write(b, start + b.position());
        } catch (IOException e) {
            throw NoSpaceException.classify(file, wanted, e);
        }
    }

    /** Writes {@code length} zero bytes at {@code offset} (no deallocation: the caller tries that first). */
    public static void writeZeroes(FileChannel ch, Path file, long offset, long length) throws IOException {
        ByteBuffer z = ByteBuffer.allocateDirect((int) Math.min(length, ZERO_CHUNK_BYTES));
        long done = 0;
        try {
            while (done < length) {
                z.clear().limit((int) Math.min(z.capacity(), length - done));
                while (z.hasRemaining()) done += ch.write(z, offset + done);
            }
        } catch (IOException e) {
            throw NoSpaceException.classify(file, Math.min(length - done, ZERO_CHUNK_BYTES), e);
        }
    }

    /** fsync; a file system that allocates at writeback (NFS, thin volumes) reports ENOSPC here. */
    public static void force(FileChannel ch, Path file, boolean metaData) throws IOException {
        try {
            ch.force(metaData);
        } catch (IOException e) {
            throw NoSpaceException.classify(file, 1, e);
        }
    }
}
