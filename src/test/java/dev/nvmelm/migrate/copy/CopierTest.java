package dev.nvmelm.migrate.copy;

import dev.nvmelm.bench.Images;
import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.block.FileBlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CopierTest {
    @TempDir
    Path dir;

    Copier.Progress copy(Path src, Path dst, Copier.Config cfg) throws IOException {
        try (var s = FileBlockDevice.openExisting(src, 4096, false);
             var d = FileBlockDevice.createOrReuse(dst, Files.size(src), 4096)) {
            Copier c = new Copier(s, d, cfg, new Copier.Progress(), System::nanoTime);
            c.bulk();
            d.flush();
            assertThat(c.bulkCursor()).isEqualTo(Files.size(src));
            return c.progress();
        }
    }

    static long allocated(Path p) throws IOException {
        return Images.allocatedBytes(p);
    }

    @Test
    void denseImageIsCopiedExactly() throws IOException {
        Path src = dir.resolve("dense"), dst = dir.resolve("out");
        Images.dense(src, (20 << 20) + 12288, 3);   // not a multiple of the request size
        Copier.Progress p = copy(src, dst, Copier.Config.defaults());
        assertThat(Files.mismatch(src, dst)).isEqualTo(-1L);
        assertThat(p.bytesCopied.get()).isEqualTo(Files.size(src));
    }

    @Test
    void sparseImageStaysSparseAndZeroBlocksBecomeHoles() throws IOException {
        Path src = dir.resolve("sparse"), dst = dir.resolve("out");
        long data = Images.sparse(src, 64 << 20, 0.1, 9);
        try (FileChannel ch = FileChannel.open(src, StandardOpenOption.WRITE)) {   // 2 MiB of written zeroes
            ch.write(ByteBuffer.allocate(2 << 20), 40L << 20);
        }
        Copier.Progress p = copy(src, dst, Copier.Config.defaults());
        assertThat(Files.mismatch(src, dst)).isEqualTo(-1L);
        assertThat(p.bytesCopied.get()).isLessThanOrEqualTo(data);
        assertThat(allocated(dst)).isLessThanOrEqualTo(data + (1 << 20));
    }

    @Test
    void allZeroImageLeavesTheDestinationEmpty() throws IOException {
        Path src = dir.resolve("zero"), dst = dir.resolve("out");
        Files.write(src, new byte[8 << 20]);   // written zeroes, fully allocated
        copy(src, dst, Copier.Config.defaults());
        assertThat(Files.mismatch(src, dst)).isEqualTo(-1L);
        assertThat(allocated(dst)).isLessThan(1 << 20);
    }

    @Test
    void aFailingDestinationFailsTheCopyCleanly() throws IOException {
        Path src = dir.resolve("src");
        Images.dense(src, 16 << 20, 1);
        try (var s = FileBlockDevice.openExisting(src, 4096, false);
             var real = FileBlockDevice.createOrReuse(dir.resolve("dst"), 16 << 20, 4096);
             var failing = new FailAt(real, 9L << 20)) {
            Copier c = new Copier(s, failing, Copier.Config.defaults(), new Copier.Progress(), System::nanoTime);
            assertThatThrownBy(c::bulk).isInstanceOf(IOException.class).hasMessageContaining("No space left");
        }
    }

    @Test
    void dirtyRangesAreCopiedExactlyAndVerificationFindsAFlippedByte() throws IOException {
        Path src = dir.resolve("src"), dst = dir.resolve("dst");
        Images.dense(src, 8 << 20, 4);
        copy(src, dst, Copier.Config.defaults());
        try (FileChannel ch = FileChannel.open(src, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[8192]), 4096 * 100);
        }
        try (var s = FileBlockDevice.openExisting(src, 4096, false); var d = FileBlockDevice.openExisting(dst, 4096, true)) {
            assertThat(Verifier.verify(s, d, Verifier.Mode.FULL, 1, x -> false).ok()).isFalse();
            new Copier(s, d, Copier.Config.defaults(), new Copier.Progress(), System::nanoTime)
                    .copyRanges(List.of(new Copier.Range(4096 * 100, 8192)));
            assertThat(Verifier.verify(s, d, Verifier.Mode.FULL, 1, x -> false).ok()).isTrue();
            d.write(5 << 20, MemorySegment.ofArray(new byte[]{1, 2, 3, 4}));
        }
        try (var s = FileBlockDevice.openExisting(src, 4096, false); var d = FileBlockDevice.openExisting(dst, 4096, false)) {
            Verifier.Result r = Verifier.verify(s, d, Verifier.Mode.FULL, 1, x -> false);
            assertThat(r.ok()).isFalse();
            assertThat(r.firstMismatch()).isBetween((long) (5 << 20), (long) (5 << 20) + 4);
            assertThat(Verifier.verify(s, d, Verifier.Mode.FULL, 1, off -> off == 5 << 20).ok()).isTrue();
            assertThat(Verifier.verify(s, d, Verifier.Mode.FULL, 1, off -> off == (5 << 20) + 4096).ok()).isFalse();
        }
    }

    @Test
    void tokenBucketPacesByTheInjectedClock() {
        long[] now = {0};
        Copier.TokenBucket b = new Copier.TokenBucket(1 << 20, () -> now[0]);
        assertThat(b.reserve(1 << 20)).isZero();
        assertThat(b.reserve(1 << 19)).isEqualTo(1_000_000_000L);
        now[0] = 2_000_000_000L;
        assertThat(b.reserve(1)).isZero();
    }

    /**
     * A bulk skip predicate (here: the destination already holds these bytes, compared directly)
     * sees pieces split at its alignment even where an extent starts mid-chunk; what it skips is
     * not written, the rest is, and the destination ends equal to the source.
     */
    @Test
    void theBulkSkipsWhatThePredicateSaysIsThereAndCopiesTheRest() throws IOException {
        Path src = dir.resolve("src"), dst = dir.resolve("dst");
        byte[] data = new byte[3 << 20];
        new java.util.Random(4).nextBytes(data);
        try (var f = new java.io.RandomAccessFile(src.toFile(), "rw")) {
            f.seek(12288);   // an extent starting 12 KiB into chunk 0, ending 12 KiB into chunk 3
            f.write(data);
            f.setLength(8 << 20);
        }
        Files.copy(src, dst);
        try (var f = new java.io.RandomAccessFile(dst.toFile(), "rw")) {
            f.seek((2 << 20) + 100);
            f.write(~data[(2 << 20) + 100 - 12288]);   // the destination differs in chunk 2 only
        }
        List<long[]> asked = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (var s = FileBlockDevice.openExisting(src, 4096, false);
             var d = FileBlockDevice.createOrReuse(dst, Files.size(src), 4096)) {
            Copier.BulkSkip sameAsDestination = new Copier.BulkSkip() {
                @Override
                public boolean alreadyThere(long offset, MemorySegment piece) throws IOException {
                    asked.add(new long[]{offset, piece.byteSize()});
                    MemorySegment there = MemorySegment.ofArray(new byte[(int) piece.byteSize()]);
                    d.read(offset, there);
                    return there.mismatch(piece) == -1;
                }

                @Override
                public int alignment() {
                    return 1 << 20;
                }
            };
            Copier c = new Copier(s, d, Copier.Config.defaults().withBulkSkip(sameAsDestination), new Copier.Progress(), System::nanoTime);
            c.bulk();
            d.flush();
            // the pieces: the extent cut at the request size and at every chunk (alignment) boundary
            long request = Math.min(Copier.Config.defaults().requestBytes(), Math.min(s.maxRequestBytes(), d.maxRequestBytes()));
            List<String> pieces = new java.util.ArrayList<>();
            long changed = (2 << 20) + 100, changedPiece = 0;
            for (long o = 12288, end = 12288 + (3 << 20), n; o < end; o += n) {
                n = Math.min(Math.min(request, end - o), (o / (1 << 20) + 1) * (1 << 20) - o);
                pieces.add(o + ":" + n);
                if (o <= changed && changed < o + n) changedPiece = n;
            }
            assertThat(c.progress().bytesCopied.get()).as("only the piece with the changed byte written").isEqualTo(changedPiece);
            assertThat(asked).extracting(a -> a[0] + ":" + a[1]).containsExactlyInAnyOrderElementsOf(pieces);
            assertThat(asked).as("no piece crosses a chunk boundary").allMatch(a -> a[0] / (1 << 20) == (a[0] + a[1] - 1) / (1 << 20));
        }
        assertThat(Files.mismatch(src, dst)).isEqualTo(-1L);
    }

    /** Fault injection: a destination whose writes fail from a given offset on (a full disk). */
    static final class FailAt implements BlockDevice {
        final BlockDevice d;
        final long from;

        FailAt(BlockDevice d, long from) {
            this.d = d;
            this.from = from;
        }

        public String name() { return d.name(); }
        public long sizeBytes() { return d.sizeBytes(); }
        public int blockSizeBytes() { return d.blockSizeBytes(); }
        public MemorySegment allocateBuffer(long n) { return d.allocateBuffer(n); }
        public void read(long o, MemorySegment m) throws IOException { d.read(o, m); }
        public void write(long o, MemorySegment m) throws IOException {
            if (o + m.byteSize() > from) throw new IOException("No space left on device");
            d.write(o, m);
        }
        public void writeZeroes(long o, long l, boolean x) throws IOException { d.writeZeroes(o, l, x); }
        public void flush() throws IOException { d.flush(); }
        public List<Extent> allocated(long o, long l) throws IOException { return d.allocated(o, l); }
        public void close() { }
    }
}
