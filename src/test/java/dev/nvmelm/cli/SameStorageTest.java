package dev.nvmelm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Source and destination that are one storage under two names are refused before anything is
 * written, and a destination another migration is writing is refused naming that migration.
 */
class SameStorageTest {
    @TempDir
    Path dir;

    Path image(String name, int mib) throws Exception {
        Path p = dir.resolve(name);
        byte[] b = new byte[mib << 20];
        new Random(mib).nextBytes(b);
        Files.write(p, b);
        return p;
    }

    static void refused(CliRunner r, String... parts) {
        assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
        assertThat(r.err()).contains(parts);
    }

    @Test
    void oneFileUnderAnyNameIsRefusedAndLeftAlone() throws Exception {
        Path x = image("x.img", 16);
        byte[] before = Files.readAllBytes(x);
        Path link = Files.createSymbolicLink(dir.resolve("link.img"), x);
        Path hard = Files.createLink(dir.resolve("hard.img"), x);
        Path relative = Path.of("").toAbsolutePath().relativize(x);
        for (Path other : List.of(x, link, hard, relative, dir.resolve("sub/../x.img"))) {
            if (other.toString().contains("sub")) Files.createDirectories(dir.resolve("sub"));
            refused(CliRunner.run("migrate", "--source-image", x.toString(), "--dest-image", other.toString()), "the same file");
        }
        refused(CliRunner.run("migrate", "--source-image", x.toString(), "--dest-image", link.toString(),
                "--workload", "random-write:iops=1000,bs=4k,seconds=3"), "the same file");
        assertThat(Files.readAllBytes(x)).isEqualTo(before);
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".incomplete")).toList()).isEmpty();
        }
    }

    @Test
    void oneNbdExportUnderTwoNamesIsRefused() {
        Path sock = dir.resolve("nbd.sock");
        refused(CliRunner.run("migrate", "--source", "nbd+unix:///disk?socket=" + sock, "--dest", "nbd+unix:///disk?socket=" + dir.resolve("./nbd.sock")),
                "the same NBD export");
        refused(CliRunner.run("migrate", "--source", "nbd://127.0.0.1:10999/disk", "--dest", "nbd://localhost:10999/disk"), "the same NBD export");
        // another export of the same server is another disk: not refused for sameness (it fails to connect here)
        CliRunner other = CliRunner.run("migrate", "--source", "nbd://127.0.0.1:10999/a", "--dest", "nbd://127.0.0.1:10999/b");
        assertThat(other.err()).doesNotContain("the same NBD export");
    }

    @Test
    void aSecondMigrationOntoABusyDestinationIsRefusedNamingTheHolder() throws Exception {
        Path src = image("src.img", 16), other = image("other.img", 16), dst = dir.resolve("dst.img");
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(java, "-Djava.io.tmpdir=" + dir, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "migrate", "--source-image", src.toString(), "--dest-image", dst.toString(), "--max-rate", "2M")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            CountDownLatch copying = new CountDownLatch(1);
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Thread drain = Thread.ofVirtual().start(() -> {
                try (InputStream in = p.getErrorStream()) {
                    byte[] b = new byte[4096];
                    for (int n; (n = in.read(b)) > 0; ) {
                        err.write(b, 0, n);
                        if (err.toString(StandardCharsets.UTF_8).contains(" bulk pass")) copying.countDown();
                    }
                } catch (java.io.IOException ignored) {
                    // the process is gone
                }
            });
            assertThat(copying.await(60, TimeUnit.SECONDS)).as("the first migration is copying").isTrue();
            refused(CliRunner.run("migrate", "--source-image", other.toString(), "--dest-image", dst.toString()),
                    "is being written by another migration (pid " + p.pid() + ": migration from " + src);
            assertThat(new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor()).isZero();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            drain.join();
        } finally {
            p.destroyForcibly();
        }
        // the holder is gone: the destination is free again
        CliRunner after = CliRunner.run("migrate", "--source-image", other.toString(), "--dest-image", dst.toString());
        assertThat(after.exit()).as(after.out() + after.err()).isZero();
        assertThat(Files.mismatch(other, dst)).isEqualTo(-1);
        assertThat(dir.resolve("dst.img.incomplete")).doesNotExist();
    }
}
