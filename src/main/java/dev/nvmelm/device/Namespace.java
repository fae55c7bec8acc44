package dev.nvmelm.device;

import dev.nvmelm.util.FileHoles;
import dev.nvmelm.util.FileWrites;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * A namespace backed by a real file: created sparse at the requested size or reused when its
 * size matches. I/O is positional FileChannel reads and writes; Flush forces to disk;
 * deallocation punches holes so thin namespaces stay thin.
 */
public final class Namespace implements AutoCloseable {
    private final int nsid;
    private final Path file;
    private final int lbaSizeBytes;
    private final long lbaCount;
    private final FileChannel ch;

    public Namespace(int nsid, Path file, long sizeBytes, int lbaSizeBytes) throws IOException {
        if (lbaSizeBytes != 512 && lbaSizeBytes != 4096) throw new IllegalArgumentException("LBA size must be 512 or 4096, not " + lbaSizeBytes);
        if (sizeBytes <= 0 || sizeBytes % lbaSizeBytes != 0) {
            throw new IllegalArgumentException("namespace size " + sizeBytes + " is not a positive multiple of the LBA size " + lbaSizeBytes);
        }
        this.nsid = nsid;
        this.file = file;
        this.lbaSizeBytes = lbaSizeBytes;
        this.lbaCount = sizeBytes / lbaSizeBytes;
        boolean existed = Files.exists(file);
        if (!existed) {
            // ftruncate extends with a hole: no block is allocated, so Get LBA Status reports
            // nothing for a fresh namespace (writing its last byte allocated the last block)
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(sizeBytes);
            }
        }
        this.ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        if (ch.size() != sizeBytes) {
            ch.close();
            throw new IOException(file + " exists with " + Files.size(file) + " bytes, not the requested " + sizeBytes);
        }
    }

    public int nsid() { return nsid; }

    public Path file() { return file; }

    public int lbaSizeBytes() { return lbaSizeBytes; }

    public long lbaCount() { return lbaCount; }

    public long sizeBytes() { return lbaCount * lbaSizeBytes; }

    public boolean inRange(long slba, long count) {
        return slba >= 0 && count >= 0 && slba <= lbaCount && count <= lbaCount - slba;
    }

    public void read(long slba, MemorySegment dst) throws IOException {
        ByteBuffer b = dst.asByteBuffer();
        long pos = slba * lbaSizeBytes;
        while (b.hasRemaining()) {
            int n = ch.read(b, pos + b.position());
            if (n < 0) throw new IOException("short read from " + file);
        }
    }

    public void write(long slba, MemorySegment src) throws IOException {
        FileWrites.writeFully(ch, file, src.asByteBuffer(), slba * lbaSizeBytes);
    }

    /** Zeroes LBAs; with {@code deallocate} it punches a hole when the filesystem can. */
    public void writeZeroes(long slba, long count, boolean deallocate) throws IOException {
        long off = slba * lbaSizeBytes, len = count * lbaSizeBytes;
        if (deallocate && FileHoles.punchHole(file, off, len)) return;
        FileWrites.writeZeroes(ch, file, off, len);
    }

    public void flush() throws IOException {
        FileWrites.force(ch, file, true);
    }

    /** Allocated LBA runs in [slba, slba+count), from SEEK_DATA/SEEK_HOLE, rounded out to LBAs. */
    public List<long[]> allocatedRuns(long slba, long count) throws IOException {
        return FileHoles.dataRanges(file, slba * lbaSizeBytes, count * lbaSizeBytes).stream().map(r -> {
            long s = r.offset() / lbaSizeBytes, e = (r.offset() + r.length() + lbaSizeBytes - 1) / lbaSizeBytes;
            return new long[]{s, e - s};
        }).toList();
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
