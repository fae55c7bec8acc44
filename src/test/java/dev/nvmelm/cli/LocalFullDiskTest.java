package dev.nvmelm.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A local migrate onto a filesystem too small for the data (a tmpfs the test mounts): one line
 * that says the destination's filesystem is full, the source intact, and the partial destination
 * this run created removed rather than left filling the disk. Skipped where the test cannot mount.
 */
class LocalFullDiskTest {
    @TempDir
    Path dir;
    Path small;

    @BeforeEach
    void mount() throws Exception {
        small = Files.createDirectories(dir.resolve("small"));
        Assumptions.assumeTrue(AgentFullDiskTest.sh("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", small.toString()) == 0, "cannot mount a tmpfs here");
    }

    @AfterEach
    void unmount() throws Exception {
        AgentFullDiskTest.sh("umount", "-l", small.toString());
    }

    @Test
    void aFullDestinationFilesystemIsSaidSoAndThePartialCopyIsRemoved() throws Exception {
        Path src = dir.resolve("src.img");
        byte[] data = new byte[16 << 20];
        new Random(3).nextBytes(data);
        Files.write(src, data);
        Path dst = small.resolve("dst.img");
        CliRunner r = CliRunner.run("migrate", "--source-image", src.toString(), "--dest-image", dst.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).contains("no space left on " + dst + "'s filesystem").contains("source controller is resumed")
                .doesNotContain("Capacity Exceeded");
        assertThat(Files.readAllBytes(src)).isEqualTo(data);
        try (var left = Files.list(small)) {
            assertThat(left.toList()).isEmpty();
        }
    }
}
