package dev.nvmelm.vm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The VM guest's writer on a plain file disk (no NBD, no migration): it writes at the rate asked,
 * reports on its console, verifies every block it wrote on a "verify" line ("VERIFY ok"), and
 * catches a disk that lost its writes: after the host zeroes the image under it, "VERIFY bad".
 * This is the negative control of the guest-side check the VM migration tests rely on.
 */
class GuestWriterTest {
    static final Path ROOT = Path.of("").toAbsolutePath();

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void theWriterVerifiesWhatItWroteAndCatchesLostWrites(@TempDir Path dir) throws Exception {
        String why = QemuVm.unavailable();
        assumeTrue(why == null, "VM tests skipped: " + why);
        GuestImage guest = GuestImage.build(ROOT, ROOT.resolve("target/guest"));
        Path disk = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(16L << 20);
        }
        var cfg = new QemuVm.Config(dir, "writer", guest.kernel(), guest.initrd(), "WRITER_IOPS=300 WRITER_REPORT_MS=500", 256,
                List.of("-blockdev", "driver=file,node-name=f0,filename=" + disk, "-device", "virtio-blk-pci,drive=f0"),
                Duration.ofMinutes(2));
        try (QemuVm vm = QemuVm.start(cfg)) {
            Duration t = Duration.ofSeconds(90);
            assertThat(vm.awaitMarker("WRITER-START ", t)).contains("disk=/dev/vda blocks=4096 iops=300");
            vm.awaitMarker("WRITER-PROGRESS ", t);
            String progress = vm.awaitMarker("WRITER-PROGRESS ", t);
            assertThat(progress).matches("WRITER-PROGRESS t_ms=\\d+ writes=[1-9]\\d* errors=0 iops=\\d+ max_lat_ms=[\\d.]+ max_lat_all_ms=[\\d.]+");
            vm.send("verify");
            String ok = vm.awaitMarker("VERIFY ", t);
            assertThat(ok).startsWith("VERIFY ok blocks=");
            assertThat(Long.parseLong(ok.replaceAll(".*blocks=(\\d+).*", "$1"))).isPositive();

            // lose every write: the guest's next check must say so
            try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
                f.write(new byte[16 << 20]);
                f.getFD().sync();
            }
            vm.send("verify");
            String bad = vm.awaitMarker("VERIFY ", t);
            assertThat(bad).startsWith("VERIFY bad ").contains("reason=magic");
            vm.send("quit");
            vm.awaitMarker("WRITER-END ", t);
            assertThat(vm.awaitExit(Duration.ofSeconds(30))).as("QEMU exits after the guest powers off").isZero();
            assertThat(vm.lines()).noneMatch(l -> l.startsWith("WRITER-ERROR"));
        }
    }
}
