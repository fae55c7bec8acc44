package dev.nvmelm.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

/** Test images for the benchmarks, generated from a seed so every run copies the same bytes. */
public final class Images {
    private Images() {}

    /** Fills [0, size) with seeded random bytes (incompressible, no zero blocks). */
    public static void dense(Path file, long sizeBytes, long seed) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            SplittableRandom r = new SplittableRandom(seed);
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            for (long off = 0; off < sizeBytes; ) {
                buf.clear();
                int n = (int) Math.min(buf.capacity(), sizeBytes - off);
                for (int i = 0; i < n; i += 8) buf.putLong(i, r.nextLong() | 1);
                buf.limit(n);
                while (buf.hasRemaining()) off += ch.write(buf, off);
            }
        }
    }

    /**
     * A sparse file of {@code sizeBytes} with about {@code allocatedFraction} of it written, in
     * 1 MiB random-data chunks at seeded positions; the rest are holes.
     */
    public static long sparse(Path file, long sizeBytes, double allocatedFraction, long seed) throws IOException {
        long chunk = 1 << 20;
        long chunks = sizeBytes / chunk;
        long wanted = Math.max(1, Math.round(chunks * allocatedFraction));
        SplittableRandom r = new SplittableRandom(seed);
        long written = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.allocateDirect((int) chunk);
            java.util.BitSet used = new java.util.BitSet((int) chunks);
            while (used.cardinality() < wanted) {
                int c = r.nextInt((int) chunks);
                if (used.get(c)) continue;
                used.set(c);
                buf.clear();
                for (int i = 0; i < chunk; i += 8) buf.putLong(i, r.nextLong() | 1);
                while (buf.hasRemaining()) ch.write(buf, c * chunk + buf.position());
                written += chunk;
            }
            if (ch.size() < sizeBytes) {
                ch.write(ByteBuffer.wrap(new byte[1]), sizeBytes - 1);
                ch.truncate(sizeBytes);
                // a 1-byte write then truncate keeps the tail a hole but fixes the length
            }
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            if (ch.size() != sizeBytes) throw new IOException("sparse image has the wrong size");
        }
        return written;
    }

    /** Bytes actually allocated on disk (st_blocks * 512). */
    public static long allocatedBytes(Path file) throws IOException {
        Tools.Result r = Tools.runOk(java.util.List.of("stat", "-c", "%b %B", file.toString()), java.time.Duration.ofSeconds(10));
        String[] f = r.output().strip().split(" ");
        return Long.parseLong(f[0]) * Long.parseLong(f[1]);
    }
}
