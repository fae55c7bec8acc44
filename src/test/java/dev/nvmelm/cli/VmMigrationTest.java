package dev.nvmelm.cli;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.migrate.MediaMigration;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.nbd.NbdServer;
import dev.nvmelm.util.Json;
import dev.nvmelm.vm.GuestImage;
import dev.nvmelm.vm.QemuVm;
import dev.nvmelm.vm.Qmp;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * QEMU in the loop (docs/vm.md): a Linux guest writing verifiable blocks on a virtio-blk disk
 * that is MC 1's NBD export of a served subsystem; {@code migrate --vm-qmp} moves the namespace to
 * MC 2 and the VM to a destination QEMU whose disk is MC 2's export, the storage stop inside
 * QEMU's pre-switchover pause. The guest itself judges the result: after the migration it reads
 * back every block it ever wrote, now on the destination. And when the destination QEMU dies
 * before migrate-continue, the VM keeps running on the source with every write intact.
 */
class VmMigrationTest {
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final long NS_BYTES = 64 << 20;
    static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    Path dir;
    DeviceServer server;
    NbdServer nbd;
    Path nbdSock;
    final List<QemuVm> vms = new ArrayList<>();
    GuestImage guest;

    @BeforeEach
    void start() throws Exception {
        String why = QemuVm.unavailable();
        assumeTrue(why == null, "VM tests skipped: " + why);
        guest = GuestImage.build(ROOT, ROOT.resolve("target/guest"));
        server = DeviceServer.start(new Subsystem.Config(dir, NS_BYTES, 1, 2, 4096), 64 << 20, null);
        nbd = new NbdServer(NamespaceExports.of(server), line -> {});
        nbdSock = dir.resolve("nbd.sock");
        NamespaceExports.listen(nbd, "unix:" + nbdSock);
    }

    @AfterEach
    void stop() throws Exception {
        for (QemuVm vm : vms) vm.close();
        vms.clear();
        if (nbd != null) nbd.close();
        if (server != null) server.close();
        nbd = null;
        server = null;
    }

    /** A new subsystem, export and VMs for a second attempt (the first may have moved the namespace). */
    private void afresh() throws Exception {
        stop();
        dir = java.nio.file.Files.createTempDirectory(dir, "again");
        start();
    }

    /**
     * A VM on {@code export}; with {@code geometry} QEMU does not read sector 0 to guess it, without
     * it the destination's probe reaches MC 2's export before the migration (docs/vm.md, "The
     * destination before the switchover").
     */
    private QemuVm vm(String name, String export, boolean geometry, String... extra) throws Exception {
        List<String> args = new ArrayList<>(QemuVm.virtioBlkOnNbd(nbdSock, export, geometry ? NS_BYTES : 0));
        args.addAll(List.of(extra));
        QemuVm vm = QemuVm.start(new QemuVm.Config(dir, name, guest.kernel(), guest.initrd(),
                "WRITER_IOPS=200 WRITER_BLOCKS=4096 WRITER_REPORT_MS=500", 256, args, Duration.ofSeconds(150)));
        vms.add(vm);
        return vm;
    }

    private static long writes(String progress) {
        return Long.parseLong(progress.replaceAll(".* writes=(\\d+) .*", "$1"));
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    @SuppressWarnings("unchecked")
    void aWritingGuestMovesWithItsDiskAndVerifiesOnTheDestination() throws Exception {
        dev.nvmelm.vm.GuestPanics.retryOnce(this::aWritingGuestMovesWithItsDiskAndVerifiesOnTheDestinationOnce, this::afresh);
    }

    @SuppressWarnings("unchecked")
    private void aWritingGuestMovesWithItsDiskAndVerifiesOnTheDestinationOnce() throws Exception {
        QemuVm src = vm("src", "c1n1", true);
        Path mig = dir.resolve("mig.sock");
        QemuVm dst = vm("dst", "c2n1", true, "-incoming", "unix:" + mig);
        src.awaitMarker("WRITER-START ", WAIT);
        src.awaitMarker("WRITER-PROGRESS ", WAIT);
        long before = writes(src.awaitMarker("WRITER-PROGRESS ", WAIT));
        assertThat(before).isPositive();

        CliRunner r = CliRunner.run("migrate", "--source", server.deviceString() + "#1", "--dest", server.deviceString() + "#2",
                "--vm-qmp", src.qmpSocket().toString(), "--vm-to", "unix:" + mig, "--vm-dest-qmp", dst.qmpSocket().toString(),
                // a loaded CI machine may copy slower than the guest dirties: force keeps the test about correctness
                "--on-stall", "force", "-o", "json");
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        Map<String, Object> report = (Map<String, Object>) Json.parse(r.out());
        assertThat(report.get("verified")).isEqualTo(true);
        assertThat(report.get("vm_downtime_ms")).as(r.out()).isInstanceOf(Number.class);
        assertThat(report.get("vm_total_ms")).isInstanceOf(Number.class);
        assertThat(((Number) report.get("storage_stop_ms")).doubleValue()).isPositive();
        List<String> steps = ((List<Map<String, Object>>) report.get("vm_timeline")).stream().map(m -> (String) m.get("what")).toList();
        assertThat(steps).containsSubsequence("storage converged", "MIGRATION pre-switchover", "storage stop", "storage committed",
                "migrate-continue", "MIGRATION completed");
        System.out.printf("VmMigrationTest: vm_downtime_ms=%s storage_stop_ms=%s vm_total_ms=%s total_ms=%s%n", report.get("vm_downtime_ms"),
                report.get("storage_stop_ms"), report.get("vm_total_ms"), report.get("total_ms"));
        System.out.println("VmMigrationTest: timeline " + report.get("vm_timeline") + " stop " + report.get("downtime_breakdown_ms"));

        // the guest runs on the destination now, on MC 2's export; it checks every block it ever wrote
        long after = writes(dst.awaitMarker("WRITER-PROGRESS ", WAIT));
        assertThat(after).isGreaterThan(before);
        dst.send("verify");
        String verdict = dst.awaitMarker("VERIFY ", WAIT);
        assertThat(verdict).as(String.join("\n", dst.lines())).startsWith("VERIFY ok");
        assertThat(Long.parseLong(verdict.replaceAll(".*writes=(\\d+).*", "$1"))).isGreaterThan(after - 1);
        assertThat(src.lines()).noneMatch(l -> l.startsWith("WRITER-ERROR"));
        assertThat(dst.lines()).noneMatch(l -> l.startsWith("WRITER-ERROR"));
        try (Qmp q = src.qmp()) {
            assertThat(((Map<String, Object>) q.command("query-status", Map.of())).get("status")).isEqualTo("postmigrate");
        }
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    @SuppressWarnings("unchecked")
    void aDestinationQemuThatDiesBeforeMigrateContinueLeavesTheVmRunningOnTheSource() throws Exception {
        dev.nvmelm.vm.GuestPanics.retryOnce(this::aDestinationQemuThatDiesBeforeMigrateContinueLeavesTheVmRunningOnTheSourceOnce, this::afresh);
    }

    @SuppressWarnings("unchecked")
    private void aDestinationQemuThatDiesBeforeMigrateContinueLeavesTheVmRunningOnTheSourceOnce() throws Exception {
        QemuVm src = vm("src", "c1n1", true);
        Path mig = dir.resolve("mig.sock");
        QemuVm dst = vm("dst", "c2n1", true, "-incoming", "unix:" + mig);
        src.awaitMarker("WRITER-PROGRESS ", WAIT);
        long before = writes(src.awaitMarker("WRITER-PROGRESS ", WAIT));

        List<String> seen = new ArrayList<>();
        var vm = new VmSwitchover.Settings(src.qmpSocket(), "unix:" + mig, dst.qmpSocket(), 10L << 30, 50, Duration.ofSeconds(60), status -> {
            seen.add(status);
            if (status.equals("pre-switchover")) dst.kill();   // the vCPUs are stopped, nothing committed yet
        });
        var settings = new MigrationRun.Settings(null, null, server.deviceString() + "#1", server.deviceString() + "#2", 1, 4096, null,
                MediaMigration.Options.defaults().withOnStall(MediaMigration.OnStall.FORCE), Verifier.Mode.FULL, true, false);
        StringWriter out = new StringWriter(), err = new StringWriter();
        assertThatThrownBy(() -> new MigrationRun(settings, new PrintWriter(out, true), new PrintWriter(err, true)).withVm(vm).run())
                .isInstanceOf(CliException.class)
                .hasMessageContaining("the destination QEMU is gone before migrate-continue")
                .hasMessageContaining("the source controller is resumed and its data intact");
        assertThat(seen).contains("pre-switchover").last().isEqualTo("cancelled");
        assertThat(dst.alive()).isFalse();

        // the VM runs on the source again, on MC 1, and everything it ever wrote is there
        try (Qmp q = src.qmp()) {
            assertThat(((Map<String, Object>) q.command("query-status", Map.of())).get("status")).isEqualTo("running");
        }
        long mark = writes(src.awaitMarker("WRITER-PROGRESS ", WAIT));
        long later = writes(src.awaitMarker("WRITER-PROGRESS ", WAIT));
        assertThat(later).isGreaterThan(mark).isGreaterThan(before);
        src.send("verify");
        String verdict = src.awaitMarker("VERIFY ", WAIT);
        assertThat(verdict).as(String.join("\n", src.lines())).startsWith("VERIFY ok");
        assertThat(src.lines()).noneMatch(l -> l.startsWith("WRITER-ERROR"));
    }
}
