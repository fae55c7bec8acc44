package dev.nvmelm.migrate.copy;

import dev.nvmelm.block.BlockDevice;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongPredicate;

/**
 * Compares source and destination after a migration: every byte ({@code FULL}) or seeded random
 * chunks plus the first and last ({@code SAMPLED}). A differing block for which {@code skipBlockAt}
 * says so (the guest legitimately rewrote it on the destination after switchover) is left out
 * and counted; any other difference is a failure.
 */
public final class Verifier {
    public enum Mode { FULL, SAMPLED, NONE }

    public record Result(Mode mode, boolean ok, long bytesCompared, long bytesSkipped, long firstMismatch) {}

    private static final int CHUNK = 1 << 20;

    public static Result verify(BlockDevice src, BlockDevice dst, Mode mode, long seed, LongPredicate skipBlockAt) throws IOException {
        if (mode == Mode.NONE) return new Result(mode, true, 0, 0, -1);
        long size = src.sizeBytes();
        if (dst.sizeBytes() != size) return new Result(mode, false, 0, 0, Math.min(size, dst.sizeBytes()));
        List<Long> chunks = new ArrayList<>();
        long n = (size + CHUNK - 1) / CHUNK;
        if (mode == Mode.FULL) {
            for (long i = 0; i < n; i++) chunks.add(i * CHUNK);
        } else {
            SplittableRandom r = new SplittableRandom(seed);
            chunks.add(0L);
            chunks.add((n - 1) * CHUNK);
            for (int i = 0; i < Math.min(n, 64); i++) chunks.add(r.nextLong(n) * CHUNK);
        }
        MemorySegment a = src.allocateBuffer(CHUNK), b = dst.allocateBuffer(CHUNK);
        long compared = 0, skipped = 0;
        for (long off : chunks) {
            long len = Math.min(CHUNK, size - off);
            src.read(off, a.asSlice(0, len));
            dst.read(off, b.asSlice(0, len));
            int block = src.blockSizeBytes();
            for (long at = 0; at < len; ) {
                long m = MemorySegment.mismatch(a, at, len, b, at, len);
                if (m == -1) break;
                long blockStart = (at + m) / block * block;
                if (!skipBlockAt.test(off + blockStart)) return new Result(mode, false, compared, skipped, off + at + m);
                skipped += block;
                at = blockStart + block;
            }
            compared += len;
        }
        return new Result(mode, true, compared, skipped, -1);
    }
}
