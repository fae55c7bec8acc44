package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code bench live|sparse|cdq|tls --quick}: each runs its peers for real on small sizes, writes
 * its JSON with every field the report reads, every destination that was switched to equals its
 * source, and the report renders it (goal lines, plots). Nothing here looks at a timing.
 */
class BenchLiveSparseCdqQuickTest {

    @SuppressWarnings("unchecked")
    private static Map<String, Object> runQuick(Path results, String... scenario) {
        String[] args = new String[scenario.length + 6];
        args[0] = "bench";
        System.arraycopy(scenario, 0, args, 1, scenario.length);
        System.arraycopy(new String[]{"--quick", "--results", results.toString(), "-o", "json"}, 0, args, scenario.length + 1, 5);
        CliRunner r = CliRunner.run(args);
        assertThat(r.exit()).as(r.err()).isZero();
        return (Map<String, Object>) Json.parse(r.out());
    }

    @SuppressWarnings("unchecked")
    private static String report(Path dir) throws Exception {
        CliRunner rep = CliRunner.run("bench", "report", "--results", dir.resolve("results").toString(), "--out", dir.resolve("bench.md").toString());
        assertThat(rep.exit()).as(rep.err()).isZero();
        return Files.readString(dir.resolve("bench.md"));
    }

    @Test
    @SuppressWarnings("unchecked")
    void liveRunsBothToolsAtEachRateWithTimelinesAndEqualDestinations(@TempDir Path dir) throws Exception {
        Map<String, Object> result = runQuick(dir.resolve("results"), "live");
        Map<String, Object> tools = (Map<String, Object>) ((Map<String, Object>) result.get("machine")).get("tools");
        assertThat(tools).containsKeys("fio", "qemu-storage-daemon", "nbdinfo");
        assertThat(tools.values()).noneMatch(v -> v.equals("not installed"));
        List<Object> levels = (List<Object>) result.get("levels");
        assertThat(levels).extracting(l -> ((Map<String, Object>) l).get("iops_requested")).containsExactly(200L, 0L);
        for (Object o : levels) {
            Map<String, Object> level = (Map<String, Object>) o;
            for (String tool : List.of("nvme_lm", "qemu_mirror")) {
                Map<String, Object> m = (Map<String, Object>) level.get(tool);
                assertThat(m).as(tool).containsKeys("converged", "switched_over", "verdict", "bytes_moved", "copied_per_size", "total_s",
                        "guest_iops_alone", "guest_iops_during", "fio_iops_overall", "guest_max_write_latency_ms", "timeline_remaining", "timeline_iops");
                assertThat((List<Object>) m.get("timeline_remaining")).as(tool + " bytes remaining over time").isNotEmpty();
                assertThat((List<Object>) m.get("timeline_iops")).as(tool + " guest IOPS over time").hasSizeGreaterThan(2);
                assertThat(((Number) m.get("bytes_moved")).longValue()).as(tool).isPositive();
                if (Boolean.TRUE.equals(m.get("switched_over"))) {
                    assertThat(m.get("identical")).as("%s at %s IOPS: destination equals source", tool, level.get("iops_requested")).isEqualTo(true);
                    // the check is not empty: at most a few blocks are left out as written after the switchover
                    assertThat(((Number) m.get("compare_bytes")).longValue()).as(tool).isGreaterThan((16L << 20) / 2);
                    assertThat(m).containsKeys("downtime_ms", "switchover_start_s", "switchover_end_s", "time_to_verdict_s");
                } else {
                    assertThat(m).as(tool).containsKey("end_s");
                }
            }
            Map<String, Object> ours = (Map<String, Object>) level.get("nvme_lm");
            if (Boolean.FALSE.equals(ours.get("switched_over"))) {
                assertThat(ours.get("source_running_after_abort")).isEqualTo(true);
                assertThat(ours).containsKey("time_to_verdict_s");
            }
        }
        Map<String, Object> slow = (Map<String, Object>) levels.getFirst();
        assertThat(((Map<String, Object>) slow.get("nvme_lm")).get("switched_over")).as("a 200 IOPS writer converges").isEqualTo(true);
        assertThat(((Map<String, Object>) slow.get("qemu_mirror")).get("switched_over")).as("for the mirror too").isEqualTo(true);
        String md = report(dir);
        assertThat(md).contains("## Live: nvme-lm vs QEMU's mirror", "goal (200 IOPS): bytes moved <= 1.05x (disk + dirtied)", "## Goals at a glance",
                "total time <= 0.6x the mirror at the same cap", "img/live-remaining-200iops.png", "img/live-iops-unlimited.png");
        assertThat(dir.resolve("img/live-remaining-unlimited.png")).isNotEmptyFile();
        assertThat(dir.resolve("img/live-iops-200iops.png")).isNotEmptyFile();
    }

    @Test
    @SuppressWarnings("unchecked")
    void sparseMigratesBothImagesWithEveryToolAndKeepsHoles(@TempDir Path dir) throws Exception {
        Map<String, Object> result = runQuick(dir.resolve("results"), "sparse");
        assertThat(((Map<String, Object>) ((Map<String, Object>) result.get("machine")).get("tools"))).containsKey("qemu-storage-daemon");
        List<Map<String, Object>> rows = (List<Map<String, Object>>) (List<?>) result.get("results");
        assertThat(rows).extracting(r -> r.get("tool") + "/" + r.get("image")).containsExactly("nvme-lm/dense", "nvme-lm/sparse",
                "QEMU mirror, defaults/dense", "QEMU mirror, defaults/sparse", "QEMU mirror, unmap/dense", "QEMU mirror, unmap/sparse");
        long sourceAllocated = ((Number) result.get("source_allocated_bytes")).longValue();
        for (Map<String, Object> r : rows) {
            assertThat(r).containsKeys("seconds", "dest_allocated_bytes", "completed", "size_bytes");
            assertThat(r.get("completed")).as("%s %s", r.get("tool"), r.get("image")).isEqualTo(true);
            assertThat(r.get("identical")).as("%s %s: destination equals source", r.get("tool"), r.get("image")).isEqualTo(true);
        }
        // nvme-lm keeps the holes: the destination holds what the source holds, not the namespace size
        assertThat(((Number) rows.get(1).get("dest_allocated_bytes")).longValue()).isLessThanOrEqualTo(sourceAllocated + (1 << 20));
        String md = report(dir);
        assertThat(md).contains("## Sparse:", "goal: nvme-lm:", "sparse <= 2x the time of", "QEMU mirror, unmap");
    }

    @Test
    @SuppressWarnings("unchecked")
    void cdqRunsTheJmhBenchmarksAndKeepsTheirScores(@TempDir Path dir) throws Exception {
        Map<String, Object> result = runQuick(dir.resolve("results"), "cdq");
        List<Map<String, Object>> consumer = (List<Map<String, Object>>) (List<?>) result.get("consumer");
        assertThat(consumer).extracting(r -> r.get("workload")).containsExactly("random", "sequential");
        for (Map<String, Object> r : consumer) {
            assertThat(((Number) r.get("entries_per_s")).longValue()).isPositive();
            assertThat(((Number) r.get("entries_per_cpu_s")).longValue()).isPositive();
            assertThat(r).containsKey("goal_met");
        }
        List<Map<String, Object>> memory = (List<Map<String, Object>>) (List<?>) result.get("memory");
        assertThat(memory).singleElement().satisfies(r -> {
            assertThat(r.get("writes")).isEqualTo(100000L);
            assertThat(r.get("mode")).isEqualTo("exact");
            assertThat(((Number) r.get("extents")).longValue()).isBetween(90_000L, 100_000L);
            assertThat(((Number) r.get("estimate_mib_per_tib")).doubleValue()).isPositive();
            assertThat(((Number) r.get("peak_estimate_mib_per_tib")).doubleValue()).isPositive();
        });
        String md = report(dir);
        assertThat(md).contains("## CDQ consumer", "goal: >= 20 M entries/s on one core", "goal: <= 32 MiB per TiB");
    }

    @Test
    @SuppressWarnings("unchecked")
    void tlsIsTheNetScenarioUnderTheIssuesName(@TempDir Path dir) throws Exception {
        Map<String, Object> result = runQuick(dir.resolve("results"), "tls");
        assertThat(result.get("scenario")).isEqualTo("net");
        assertThat((List<Object>) result.get("results")).extracting(x -> ((Map<String, Object>) x).get("transport"))
                .containsExactly("TLS 1.3 (mutual authentication)", "plaintext TCP");
        assertThat(report(dir)).contains("goal: TLS >= 0.80x plaintext");
    }
}
