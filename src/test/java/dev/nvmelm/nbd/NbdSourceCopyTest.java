package dev.nvmelm.nbd;

import dev.nvmelm.block.FileBlockDevice;
import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.migrate.copy.Verifier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The NBD-source copy against qemu-nbd exporting a qcow2 with a live dirty bitmap
 * ({@code qemu:dirty-bitmap:b0}, 64 KiB granularity): writes made through a second connection
 * after the bulk copy are found by the dirty passes, and a writer that never stops is reported
 * as not converging.
 */
class NbdSourceCopyTest {
    static final long SIZE = 32 << 20;
    static final String BITMAP = "qemu:dirty-bitmap:b0";
    @TempDir
    Path dir;

    static String run(String... cmd) throws Exception {
        return dev.nvmelm.Procs.run(cmd);
    }

    /** A qcow2 with bitmap b0 (enabled, so writes through qemu-nbd are recorded) and some data. */
    PeerProcess qemuWithBitmap(Path sock) throws Exception {
        Path img = dir.resolve("src.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", img.toString(), String.valueOf(SIZE));
        run("qemu-img", "bitmap", "--add", img.toString(), "b0");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 1M 1M", "-c", "write -P 0x22 20M 64k", img.toString());
        return PeerProcess.start(List.of("qemu-nbd", "-f", "qcow2", "-k", sock.toString(), "-x", "s", "-B", "b0", "--shared=8", "--persistent", img.toString()), sock);
    }

    static NbdClient.Options withBitmap() {
        return new NbdClient.Options(List.of("qemu:dirty-bitmap:"), offered -> offered.contains(BITMAP) ? List.of(BITMAP) : List.of(), null);
    }

    static void write(NbdClient c, long offset, int len, int pattern) throws IOException {
        byte[] b = new byte[len];
        Arrays.fill(b, (byte) pattern);
        NbdClient.await(c.write(offset, b, false));
    }

    @Test
    void writesAfterTheBulkCopyAreFoundByTheDirtyPasses() throws Exception {
        Path sock = dir.resolve("q.sock");
        Path dst = dir.resolve("dst.img");
        String uri = "nbd+unix:///s?socket=" + sock;
        try (PeerProcess q = qemuWithBitmap(sock);
             NbdBlockDevice src = NbdBlockDevice.open(uri, 4096, Duration.ofSeconds(30), withBitmap());
             NbdClient writer = NbdClient.connect(NbdUri.parse(uri));
             FileBlockDevice d = FileBlockDevice.createOrReuse(dst, SIZE, 4096)) {
            assertThat(src.client().hasContext(BITMAP)).isTrue();
            var copy = new NbdSourceCopy(src, d, new NbdSourceCopy.Options(BITMAP, 10, Copier.Config.defaults().withDestinationIsZero(true), Verifier.Mode.FULL));
            List<NbdSourceCopy.Pass> passes = new ArrayList<>();
            NbdSourceCopy.Report r = copy.run(new NbdSourceCopy.Listener() {
                @Override
                public void afterBulk(long data, long zero) throws IOException {
                    // a "guest" writes into a hole and over copied data after the bulk read them
                    write(writer, 8L << 20, 4096, 0x33);
                    write(writer, 1L << 20, 4096, 0x44);
                }

                @Override
                public void afterPass(NbdSourceCopy.Pass p) {
                    passes.add(p);
                }
            });
            assertThat(r.bytesData()).isEqualTo((1 << 20) + (64 << 10));
            assertThat(r.converged()).as(r.verdict()).isTrue();
            assertThat(passes).hasSize(2);
            // pass 1: the bitmap holds 1M+1M, 20M+64K (before) and 8M+64K (after); only the two 64 KiB chunks
            // written after the bulk differ, each rewritten as its bitmap chunk
            assertThat(passes.get(0).dirtyBytes()).isEqualTo((1 << 20) + (64 << 10) * 2);
            assertThat(passes.get(0).bytesRewritten()).isEqualTo(2 * (64 << 10));
            assertThat(passes.get(1).bytesRewritten()).isZero();
            assertThat(passes.get(1).mapGrew()).isFalse();
            assertThat(r.verify().ok()).isTrue();
            assertThat(r.verify().bytesCompared()).isEqualTo(SIZE);
        }
        byte[] out = Files.readAllBytes(dst);
        assertThat(out[(int) (8L << 20)]).isEqualTo((byte) 0x33);
        assertThat(out[(int) (1L << 20)]).isEqualTo((byte) 0x44);
        assertThat(out[(int) (1L << 20) + 4096]).isEqualTo((byte) 0x11);
    }

    @Test
    void aWriterThatNeverStopsIsReportedAsNotConverging() throws Exception {
        Path sock = dir.resolve("q.sock");
        String uri = "nbd+unix:///s?socket=" + sock;
        try (PeerProcess q = qemuWithBitmap(sock);
             NbdBlockDevice src = NbdBlockDevice.open(uri, 4096, Duration.ofSeconds(30), withBitmap());
             NbdClient writer = NbdClient.connect(NbdUri.parse(uri));
             FileBlockDevice d = FileBlockDevice.createOrReuse(dir.resolve("dst.img"), SIZE, 4096)) {
            var copy = new NbdSourceCopy(src, d, new NbdSourceCopy.Options(BITMAP, 3, Copier.Config.defaults(), Verifier.Mode.FULL));
            NbdSourceCopy.Report r = copy.run(new NbdSourceCopy.Listener() {
                @Override
                public void afterBulk(long data, long zero) throws IOException {
                    write(writer, 10L << 20, 4096, 0x50);
                }

                @Override
                public void afterPass(NbdSourceCopy.Pass p) {
                    try {
                        write(writer, (10L + p.number()) << 20, 4096, 0x50 + p.number());   // a new block after every pass
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
            });
            assertThat(r.converged()).isFalse();
            assertThat(r.passes()).hasSize(3);
            // pass 1 rewrites the block written after the bulk; each later pass sees the map grow
            assertThat(r.passes().get(0).bytesRewritten()).isEqualTo(64 << 10);
            assertThat(r.passes().subList(1, 3)).allSatisfy(p -> assertThat(p.mapGrew()).isTrue());
            assertThat(r.verdict()).startsWith("not converged after 3 dirty passes");
            // the writes at 12 MiB and 13 MiB came after the last look at the map: not on the destination, and verification says so
            assertThat(r.verify().ok()).isFalse();
            assertThat(r.verify().firstMismatch()).isEqualTo(12L << 20);
        }
    }
}
