package dev.nvmelm.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The QEMU peer of the live benchmark works end to end: a live mirror under fio ends identical. */
class MirrorPeerTest {
    @Test
    void liveMirrorUnderAWriterConvergesAndMatches(@TempDir Path dir) throws Exception {
        Path src = dir.resolve("src.raw"), dst = dir.resolve("dst.raw");
        Images.dense(src, 16 << 20, 5);
        Files.write(dst, new byte[0]);
        try (var f = java.nio.channels.FileChannel.open(dst, java.nio.file.StandardOpenOption.WRITE)) {
            f.truncate(16 << 20);
            f.write(java.nio.ByteBuffer.wrap(new byte[1]), (16 << 20) - 1);
        }
        try (MirrorPeer peer = new MirrorPeer(dir, src);
             FioWriter fio = new FioWriter(peer.nbdUri(), 16 << 20, 200, dir.resolve("fio.json"))) {
            // fio connected to the daemon's export: the mirror runs under its writes
            dev.nvmelm.Await.until("fio connected to the NBD export", java.time.Duration.ofSeconds(30),
                    () -> dev.nvmelm.Procs.unixConnected(dir.resolve("nbd.sock")));
            double[] iops = new double[1];
            MirrorPeer.Result r = peer.mirror(dst, 64L << 20, 300, 60, () -> {
                try {
                    iops[0] = fio.stopAndReportIops();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            assertThat(r.converged()).isTrue();
            assertThat(r.bytesCopied()).isGreaterThanOrEqualTo(16 << 20);
            assertThat(r.switchoverSeconds()).isPositive();
            assertThat(iops[0]).isPositive();
        }
        assertThat(Files.mismatch(src, dst)).isEqualTo(-1L);
    }
}
