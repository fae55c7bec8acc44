package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code bench served --quick}: a device serve process, fio through its export and a migrate
 * process run for real; the result has the dirty passes' numbers from migrate's JSON and the
 * downtime breakdown, and the 200 IOPS run switched over verified. Nothing here looks at a timing.
 */
class BenchServedQuickTest {
    @Test
    @SuppressWarnings("unchecked")
    void aServedControllerMigratesUnderFioAndTheDirtyPassesAreReported(@TempDir Path dir) {
        CliRunner r = CliRunner.run("bench", "served", "--quick", "--results", dir.resolve("results").toString(), "-o", "json");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, Object> result = (Map<String, Object>) Json.parse(r.out());
        assertThat(result.get("scenario")).isEqualTo("served");
        List<Object> levels = (List<Object>) result.get("levels");
        assertThat(levels).hasSize(1);
        Map<String, Object> level = (Map<String, Object>) levels.getFirst();
        assertThat(level).containsKeys("converged_runs", "median_downtime_ms", "median_breakdown_ms", "median_dirty_pass_mb_per_s", "median_passes");
        Map<String, Object> run = (Map<String, Object>) ((List<Object>) level.get("each")).getFirst();
        assertThat(run.get("converged")).as("%s", run).isEqualTo(true);
        assertThat(run.get("verified")).isEqualTo(true);
        assertThat(run).containsKeys("dirty_pass_ranges", "dirty_pass_copy_ms", "dirty_pass_copy_bytes_per_s", "dirty_pass_ranges_per_s",
                "dirty_pass_copies", "downtime_breakdown_ms", "guest_write_iops", "guest_max_write_latency_ms");
        long ranges = 0;
        for (Object p : (List<Object>) run.get("dirty_pass_copies")) ranges += ((Number) ((List<Object>) p).getFirst()).longValue();
        assertThat(ranges).as("the per-pass list adds up to the total").isEqualTo(((Number) run.get("dirty_pass_ranges")).longValue());
        assertThat((Map<String, Object>) run.get("downtime_breakdown_ms")).containsKeys("suspend+get_state", "final_copy", "handover", "resume");
    }
}
