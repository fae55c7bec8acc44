package dev.nvmelm.bench;

import dev.nvmelm.util.FileHoles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * Byte comparison of two image files of the same size, reading only where either has data
 * (a hole reads as zeroes in both), and optionally leaving out ranges known to have been
 * written after a switchover.
 */
public final class Compare {
    private Compare() {}

    /** {@code firstMismatch} is -1 when equal. */
    public record Result(boolean equal, long bytesCompared, long bytesExcluded, long firstMismatch) {}

    public static Result files(Path a, Path b) throws IOException {
        return files(a, b, new TreeMap<>());
    }

    /** @param excluded offset -> end of byte ranges not compared (non-overlapping) */
    public static Result files(Path a, Path b, NavigableMap<Long, Long> excluded) throws IOException {
        long size = Files.size(a);
        if (Files.size(b) != size) return new Result(false, 0, 0, Math.min(size, Files.size(b)));
        List<long[]> data = union(FileHoles.dataRanges(a, 0, size), FileHoles.dataRanges(b, 0, size));
        long compared = 0, excludedBytes = 0;
        for (var e : excluded.entrySet()) excludedBytes += Math.min(e.getValue(), size) - Math.min(e.getKey(), size);
        try (FileChannel ca = FileChannel.open(a, StandardOpenOption.READ); FileChannel cb = FileChannel.open(b, StandardOpenOption.READ)) {
            ByteBuffer ba = ByteBuffer.allocateDirect(1 << 20), bb = ByteBuffer.allocateDirect(1 << 20);
            for (long[] r : data) {
                for (long off = r[0]; off < r[1]; ) {
                    int n = (int) Math.min(ba.capacity(), r[1] - off);
                    read(ca, ba, off, n);
                    read(cb, bb, off, n);
                    for (int i = 0; i < n; ) {
                        long abs = off + i;
                        var ex = excluded.floorEntry(abs);
                        if (ex != null && ex.getValue() > abs) {   // inside an excluded range: skip to its end
                            i = (int) Math.min(n, ex.getValue() - off);
                            continue;
                        }
                        var next = excluded.higherEntry(abs);
                        int stop = (int) Math.min(n, next == null ? Long.MAX_VALUE : next.getKey() - off);
                        int m = ba.slice(i, stop - i).mismatch(bb.slice(i, stop - i));
                        if (m >= 0) return new Result(false, compared + m, excludedBytes, abs + m);
                        compared += stop - i;
                        i = stop;
                    }
                    off += n;
                }
            }
        }
        return new Result(true, compared, excludedBytes, -1);
    }

    private static void read(FileChannel ch, ByteBuffer buf, long off, int n) throws IOException {
        buf.clear().limit(n);
        while (buf.hasRemaining()) {
            if (ch.read(buf, off + buf.position()) < 0) {
                while (buf.hasRemaining()) buf.put((byte) 0);   // past EOF reads as zeroes
            }
        }
        buf.flip();
    }

    /** The sorted union of two sorted range lists, as [start, end) pairs. */
    static List<long[]> union(List<FileHoles.Range> x, List<FileHoles.Range> y) {
        List<long[]> all = new ArrayList<>();
        for (var r : x) all.add(new long[]{r.offset(), r.offset() + r.length()});
        for (var r : y) all.add(new long[]{r.offset(), r.offset() + r.length()});
        all.sort((p, q) -> Long.compare(p[0], q[0]));
        List<long[]> out = new ArrayList<>();
        for (long[] r : all) {
            if (!out.isEmpty() && out.getLast()[1] >= r[0]) out.getLast()[1] = Math.max(out.getLast()[1], r[1]);
            else out.add(r.clone());
        }
        return out;
    }
}
