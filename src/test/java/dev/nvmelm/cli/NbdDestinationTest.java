package dev.nvmelm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code migrate --source-image SRC --dest NBD-URI}: the namespace's data moved into real NBD servers. */
class NbdDestinationTest {
    static final long SIZE = 32 << 20;
    @TempDir
    Path dir;

    Path source() throws Exception {
        Path src = dir.resolve("src.img");
        byte[] data = new byte[1 << 20];
        new Random(5).nextBytes(data);
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            f.write(data);
            f.seek(20L << 20);
            f.write(data);
            f.setLength(SIZE);
        }
        return src;
    }

    static Process start(List<String> cmd, Path socket) throws Exception {
        return dev.nvmelm.Procs.start(cmd, socket);
    }

    static void stop(Process p) throws Exception {
        dev.nvmelm.Procs.stop(p);
    }

    static String run(String... cmd) throws Exception {
        return dev.nvmelm.Procs.run(cmd);
    }

    @Test
    void intoAQemuNbdExportOverOldData() throws Exception {
        Path src = source();
        Path dst = dir.resolve("dst.img");
        byte[] junk = new byte[(int) SIZE];
        java.util.Arrays.fill(junk, (byte) 0x5c);   // what was there before must not survive in the source's holes
        Files.write(dst, junk);
        Path sock = dir.resolve("q.sock");
        Process q = start(List.of("qemu-nbd", "-f", "raw", "-k", sock.toString(), "-x", "d", "--persistent", "--shared=8", dst.toString()), sock);
        try {
            CliRunner r = CliRunner.run("migrate", "--source-image", src.toString(), "--dest", "nbd+unix:///d?socket=" + sock, "-o", "json");
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).contains("\"verified\": true").contains("\"crc_mismatches\": 0");
        } finally {
            stop(q);
        }
        assertThat(Files.mismatch(src, dst)).isEqualTo(-1);
    }

    @Test
    void intoAnNbdkitMemoryExport() throws Exception {
        Path src = source();
        Path sock = dir.resolve("k.sock");
        Process k = start(List.of("nbdkit", "--foreground", "--unix", sock.toString(), "memory", String.valueOf(SIZE)), sock);
        try {
            String uri = "nbd+unix:///?socket=" + sock;
            CliRunner r = CliRunner.run("migrate", "--source-image", src.toString(), "--dest", uri);
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).contains("verified      yes");
            assertThat(run("qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), uri)).contains("identical");
        } finally {
            stop(k);
        }
    }

    @Test
    void aMismatchedOrMissingExportIsOneLine() throws Exception {
        Path src = source();
        Path sock = dir.resolve("s.sock");
        Process k = start(List.of("nbdkit", "--foreground", "--unix", sock.toString(), "memory", String.valueOf(SIZE / 2)), sock);
        try {
            CliRunner r = CliRunner.run("migrate", "--source-image", src.toString(), "--dest", "nbd+unix:///?socket=" + sock);
            assertThat(r.exit()).isEqualTo(1);
            assertThat(r.err()).contains("bytes; the source has").doesNotContain("Exception");
        } finally {
            stop(k);
        }
        CliRunner gone = CliRunner.run("migrate", "--source-image", src.toString(), "--dest", "nbd+unix:///?socket=" + dir.resolve("none.sock"));
        assertThat(gone.exit()).isEqualTo(1);
        assertThat(gone.err().strip().lines()).hasSize(1);
        CliRunner withWorkload = CliRunner.run("migrate", "--source-image", src.toString(), "--dest", "nbd+unix:///?socket=" + sock,
                "--workload", "random-write:iops=10");
        assertThat(withWorkload.err()).contains("destination controller");
    }
}
