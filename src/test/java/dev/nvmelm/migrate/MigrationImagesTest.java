package dev.nvmelm.migrate;

import dev.nvmelm.bench.Images;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.util.FileHoles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Sparse, all-zero and full images migrate byte for byte, and the destination is as thin as
 * the data allows: holes and written zeroes become holes (compared with SEEK_DATA/SEEK_HOLE).
 */
class MigrationImagesTest {
    static final long SIZE = 16 << 20;

    @TempDir
    Path dir;

    static long dataBytes(Path f) throws Exception {
        return FileHoles.dataRanges(f, 0, Files.size(f)).stream().mapToLong(FileHoles.Range::length).sum();
    }

    private MediaMigration.Report migrate(Fixture fx) throws Exception {
        try (MediaMigration.Outcome out = fx.migration(MediaMigration.Options.defaults()).run()) {
            Verifier.Result v = out.verify(Verifier.Mode.FULL, 1);
            assertThat(v.ok()).as("first mismatch at %d", v.firstMismatch()).isTrue();
            assertThat(v.bytesSkipped()).isZero();
            assertThat(Files.mismatch(fx.src, fx.dst)).isEqualTo(-1L);
            return out.report();
        }
    }

    @Test
    void sparseImageStaysSparse() throws Exception {
        long[] written = new long[1];
        try (Fixture fx = new Fixture(dir, SIZE, (f, n) -> written[0] = Images.sparse(f, n, 0.25, 3))) {
            MediaMigration.Report r = migrate(fx);
            // Images.sparse leaves its last block allocated (zeroes): that one becomes a hole too
            assertThat(dataBytes(fx.src)).isBetween(written[0], written[0] + 4096);
            assertThat(dataBytes(fx.dst)).isEqualTo(written[0]);
            assertThat(r.bytesCopied).isEqualTo(written[0]);
            assertThat(r.bytesZero).isEqualTo(SIZE - written[0]);
        }
    }

    @Test
    void writtenZeroesBecomeHoles() throws Exception {
        try (Fixture fx = new Fixture(dir, SIZE, (f, n) -> {
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                ByteBuffer z = ByteBuffer.allocate(1 << 20);
                for (long o = 0; o < n; o += z.capacity()) {
                    z.clear();
                    while (z.hasRemaining()) ch.write(z, o + z.position());
                }
            }
        })) {
            assertThat(dataBytes(fx.src)).as("the source zeroes are allocated").isEqualTo(SIZE);
            MediaMigration.Report r = migrate(fx);
            assertThat(dataBytes(fx.dst)).isZero();
            assertThat(r.bytesCopied).isZero();
            assertThat(r.bytesZero).isEqualTo(SIZE);
        }
    }

    @Test
    void fullImageIsCopiedEntirelyOnce() throws Exception {
        try (Fixture fx = Fixture.dense(dir, SIZE)) {
            MediaMigration.Report r = migrate(fx);
            assertThat(dataBytes(fx.dst)).isEqualTo(SIZE);
            assertThat(r.bytesCopied).as("no guest: nothing is copied twice").isEqualTo(SIZE);
            assertThat(r.verdict).startsWith("converged");
            assertThat(r.sourceStates.history()).containsExactly(
                    dev.nvmelm.migrate.state.MigState.RUNNING, dev.nvmelm.migrate.state.MigState.PRE_COPY,
                    dev.nvmelm.migrate.state.MigState.STOP_COPY, dev.nvmelm.migrate.state.MigState.STOP);
            assertThat(r.destinationStates.history()).containsExactly(
                    dev.nvmelm.migrate.state.MigState.RUNNING, dev.nvmelm.migrate.state.MigState.STOP,
                    dev.nvmelm.migrate.state.MigState.RESUMING, dev.nvmelm.migrate.state.MigState.STOP,
                    dev.nvmelm.migrate.state.MigState.RUNNING);
        }
    }
}
