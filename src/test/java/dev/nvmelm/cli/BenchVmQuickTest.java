package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import dev.nvmelm.vm.QemuVm;
import dev.nvmelm.vm.TwoHosts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.abort;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code bench vm --quick}: the harness runs every mode once on a real guest (the libvirt way
 * between two namespaces, background and write-blocking, and nvme-lm), each run judged by the
 * guest's own verify on the destination, and the report renders its section. Measures nothing.
 */
class BenchVmQuickTest {
    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    @SuppressWarnings("unchecked")
    void everyModeMigratesTheGuestAndTheReportRendersIt(@TempDir Path dir) throws Exception {
        String why = QemuVm.unavailable();
        assumeTrue(why == null, "bench vm test skipped: " + why);
        try {
            TwoHosts.create("nlmbq").close();
        } catch (TwoHosts.UnavailableException e) {
            abort("bench vm test skipped: " + e.getMessage());
        }
        Path results = dir.resolve("results");
        CliRunner r = dev.nvmelm.vm.GuestPanics.retryOnce(
                () -> CliRunner.run("bench", "vm", "--quick", "--results", results.toString(), "--work-dir", dir.resolve("work").toString(), "-o", "json"),
                run -> dev.nvmelm.vm.GuestPanics.in(run.out() + run.err()));
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        Map<String, Object> result = (Map<String, Object>) Json.parse(r.out());
        List<Map<String, Object>> runs = (List<Map<String, Object>>) result.get("runs");
        assertThat(runs).extracting(m -> m.get("mode")).containsExactly("mirror-background", "mirror-write-blocking", "nvme-lm");
        for (Map<String, Object> run : runs) {
            assertThat(run.get("guest_verify")).as(run.toString()).isEqualTo("ok");
            assertThat(run).containsKeys("total_ms", "guest_max_write_latency_ms", "guest_iops_during", "storage_over_disk", "timeline_latency_ms");
            // on a loaded machine nvme-lm may refuse to stop (not converging): then the guest stayed on the source, verified there
            if (Boolean.TRUE.equals(run.get("converged"))) {
                assertThat(run.get("verified")).isEqualTo(true);
                assertThat(run.get("vm_downtime_ms")).isInstanceOf(Number.class);
            }
        }
        assertThat(runs.subList(0, 2)).allSatisfy(m -> assertThat(((Number) m.get("bytes_link")).longValue()).isPositive());
        CliRunner rep = CliRunner.run("bench", "report", "--results", results.toString(), "--out", dir.resolve("bench.md").toString());
        assertThat(rep.exit()).as(rep.err()).isZero();
        String md = Files.readString(dir.resolve("bench.md"));
        assertThat(md).contains("(`bench vm`)", "mirror-write-blocking", "goal nvme-lm converges at 100 IOPS");
        assertThat(dir.resolve("img/vm-latency-100iops.png")).exists();
    }
}
