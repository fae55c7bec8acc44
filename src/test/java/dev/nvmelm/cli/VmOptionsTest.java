package dev.nvmelm.cli;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** migrate --vm-*: bad combinations and an unreachable QEMU refused in one line, before anything is copied. */
class VmOptionsTest {
    @TempDir
    Path dir;

    private static void refused(CliRunner r, String text) {
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err().strip()).as(r.err()).startsWith("nvme-lm: ").contains(text).doesNotContain("Exception").doesNotContain("\n");
    }

    @Test
    void badVmOptionsAreRefusedInOneLine() throws Exception {
        try (DeviceServer server = DeviceServer.start(new Subsystem.Config(dir.resolve("d"), 8 << 20, 1, 2, 4096), 64 << 20, null)) {
            String s = server.deviceString();
            refused(CliRunner.run("migrate", "--source", s + "#1", "--dest", s + "#2", "--vm-qmp", dir.resolve("q").toString()), "--vm-qmp needs --vm-to");
            refused(CliRunner.run("migrate", "--source", s + "#1", "--dest", s + "#2", "--vm-to", "unix:/x"), "go with --vm-qmp");
            refused(CliRunner.run("migrate", "--source", s + "#1", "--dest", s + "#2", "--vm-qmp", "q", "--vm-to", "unix:/x", "--vm-timeout", "0"),
                    "--vm-timeout must be at least 1 second");
            Path img = Files.write(dir.resolve("src.img"), new byte[1 << 20]);
            refused(CliRunner.run("migrate", "--source-image", img.toString(), "--dest-image", dir.resolve("dst.img").toString(),
                    "--vm-qmp", "q", "--vm-to", "unix:/x"), "--vm-qmp goes with --source sim:PATH#C");
            // nobody listens on the QMP socket: refused before the storage starts, the source untouched
            CliRunner r = CliRunner.run("migrate", "--source", s + "#1", "--dest", s + "#2", "--vm-qmp", dir.resolve("none.qmp").toString(),
                    "--vm-to", "unix:" + dir.resolve("mig.sock"));
            refused(r, "--vm-qmp " + dir.resolve("none.qmp"));
            assertThat(r.err()).contains("nothing was migrated");
            // and the served controllers are as before: a plain migration still works (MC 1 has a host, the guest's role)
            server.device(1);
            CliRunner ok = CliRunner.run("migrate", "--source", s + "#1", "--dest", s + "#2", "-o", "json");
            assertThat(ok.exit()).as(ok.out() + ok.err()).isZero();
        }
    }
}
