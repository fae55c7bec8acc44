package dev.nvmelm.nbd;

import dev.nvmelm.util.FileHoles;
import dev.nvmelm.util.FileWrites;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/** A plain file as an NBD export, with holes reported through base:allocation and punched by TRIM/zeroes. */
public final class FileExport implements NbdExport, AutoCloseable {
    private final String name;
    private final Path file;
    private final FileChannel ch;
    private final boolean readOnly;

    public FileExport(String name, Path file, boolean readOnly) throws IOException {
        this.name = name;
        this.file = file;
        this.readOnly = readOnly;
        this.ch = readOnly ? FileChannel.open(file, StandardOpenOption.READ)
                : FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    @Override public String name() { return name; }

    @Override public String description() { return "file " + file; }

    @Override public long sizeBytes() {
        try {
            return ch.size();
        } catch (IOException e) {
            return 0;
        }
    }

    @Override public boolean readOnly() { return readOnly; }

    @Override
    public void read(long offset, byte[] dst, int len) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(dst, 0, len);
        while (b.hasRemaining()) {
            int n = ch.read(b, offset + b.position());
            if (n < 0) {  // past EOF reads as zeroes
                java.util.Arrays.fill(dst, b.position(), len, (byte) 0);
                break;
            }
        }
    }

    @Override
    public void write(long offset, byte[] src, int len, boolean fua) throws IOException {
        FileWrites.writeFully(ch, file, ByteBuffer.wrap(src, 0, len), offset);
        if (fua) FileWrites.force(ch, file, false);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayDeallocate, boolean fastOnly) throws IOException {
        if (mayDeallocate && FileHoles.punchHole(file, offset, length)) return;
        if (fastOnly) throw new NbdError(Nbd.ENOTSUP, "zeroing without deallocation is not faster than writing");
        FileWrites.writeZeroes(ch, file, offset, length);
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        FileHoles.punchHole(file, offset, length);  // advisory: unsupported is fine
    }

    @Override
    public void flush() throws IOException {
        FileWrites.force(ch, file, true);
    }

    @Override
    public List<String> metaContexts() {
        return List.of(Nbd.BASE_ALLOCATION);
    }

    @Override
    public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
        if (!context.equals(Nbd.BASE_ALLOCATION)) throw new NbdError(Nbd.EINVAL, "unknown context " + context);
        List<Extent> out = new ArrayList<>();
        long pos = offset;
        for (FileHoles.Range r : FileHoles.dataRanges(file, offset, length)) {
            if (r.offset() > pos) out.add(new Extent(r.offset() - pos, Nbd.STATE_HOLE | Nbd.STATE_ZERO));
            out.add(new Extent(r.length(), 0));
            pos = r.offset() + r.length();
        }
        if (pos < offset + length) out.add(new Extent(offset + length - pos, Nbd.STATE_HOLE | Nbd.STATE_ZERO));
        return out;
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
