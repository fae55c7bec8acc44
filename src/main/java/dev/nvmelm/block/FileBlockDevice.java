package dev.nvmelm.block;

import dev.nvmelm.util.FileHoles;
import dev.nvmelm.util.FileWrites;
import dev.nvmelm.util.Writeback;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * A raw image file: positional I/O, holes found with SEEK_DATA/SEEK_HOLE and punched for zeroes.
 * Opened writable, every write also starts its own writeback ({@link Writeback}), so a flush at
 * the end (or before a migration's stop) waits for little.
 */
public final class FileBlockDevice implements BlockDevice {
    private final Path file;
    private final FileChannel ch;
    private final long sizeBytes;
    private final int blockSize;
    private final Arena arena = Arena.ofShared();
    private final Writeback writeback;   // null when read-only or not available

    private FileBlockDevice(Path file, FileChannel ch, long sizeBytes, int blockSize, boolean writable) {
        this.file = file;
        this.ch = ch;
        this.sizeBytes = sizeBytes;
        this.blockSize = blockSize;
        this.writeback = writable ? Writeback.open(file) : null;
    }

    public static FileBlockDevice openExisting(Path file, int blockSize, boolean writable) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException(file + " does not exist or is not a regular file");
        FileChannel ch = writable ? FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(file, StandardOpenOption.READ);
        return new FileBlockDevice(file, ch, ch.size(), blockSize, writable);
    }

    /** Opens {@code file} as a destination of exactly {@code sizeBytes}: created sparse, or reused if the size matches. */
    public static FileBlockDevice createOrReuse(Path file, long sizeBytes, int blockSize) throws IOException {
        boolean existed = Files.exists(file);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        if (existed && ch.size() != sizeBytes) {
            long have = ch.size();
            ch.close();
            throw new IOException(file + " exists with " + have + " bytes; the source has " + sizeBytes);
        }
        if (ch.size() < sizeBytes) {
            // extend sparse (FileChannel.truncate only shrinks; writing the last byte would allocate a block)
            try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(sizeBytes);
            }
        }
        return new FileBlockDevice(file, ch, sizeBytes, blockSize, true);
    }

    @Override public String name() { return file.toString(); }

    @Override public long sizeBytes() { return sizeBytes; }

    @Override public int blockSizeBytes() { return blockSize; }

    @Override public int maxRequestBytes() { return 256 << 10; }

    @Override
    public MemorySegment allocateBuffer(long size) {
        return arena.allocate(size, 4096);
    }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        ByteBuffer b = dst.asByteBuffer();
        while (b.hasRemaining()) {
            if (ch.read(b, offset + b.position()) < 0) throw new IOException(file + ": read past the end at " + (offset + b.position()));
        }
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        FileWrites.writeFully(ch, file, src.asByteBuffer(), offset);
        if (writeback != null) writeback.start(offset, src.byteSize());
    }

    @Override
    public void writeZeroes(long offset, long length, boolean deallocate) throws IOException {
        if (deallocate && FileHoles.punchHole(file, offset, length)) return;
        FileWrites.writeZeroes(ch, file, offset, length);
    }

    @Override
    public void flush() throws IOException {
        FileWrites.force(ch, file, true);
    }

    @Override
    public List<Extent> allocated(long offset, long length) throws IOException {
        return FileHoles.dataRanges(file, offset, length).stream().map(r -> new Extent(r.offset(), r.length())).toList();
    }

    @Override
    public void close() throws IOException {
        if (writeback != null) writeback.close();
        ch.close();
        arena.close();
    }
}
