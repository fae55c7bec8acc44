package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code bench migrate --quick}: both scenarios run, the JSON has every field, and what switched over verified. */
class BenchMigrateQuickTest {
    @Test
    @SuppressWarnings("unchecked")
    void migrateScenarioRunsBothWritersAndWritesAResult(@TempDir Path dir) throws Exception {
        CliRunner r = CliRunner.run("bench", "migrate", "--quick", "--results", dir.resolve("results").toString(), "-o", "json");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, Object> result = (Map<String, Object>) Json.parse(r.out());
        assertThat(result).containsKeys("machine", "settings", "a", "b", "qemu_reference", "cold");
        // cold CLI migrations, a new process each, per budget: the downtime distribution and runs over budget
        List<Object> budgets = (List<Object>) ((Map<String, Object>) result.get("cold")).get("budgets");
        assertThat(budgets).extracting(b -> ((Map<String, Object>) b).get("budget_ms")).containsExactly(50L, 20L);
        for (Object b : budgets) {
            Map<String, Object> m = (Map<String, Object>) b;
            assertThat(m).containsKeys("min_ms", "median_ms", "p90_ms", "max_ms", "over_budget_runs", "median_actual_over_predicted");
            assertThat(m.get("runs")).isEqualTo(2L);
        }
        for (String scenario : new String[]{"a", "b"}) {
            Map<String, Object> s = (Map<String, Object>) result.get(scenario);
            assertThat(s).containsKeys("verdict", "converged", "switched_over", "passes", "bytes_copied", "copied_per_size",
                    "copied_per_size_plus_dirtied", "bytes_dirtied_by_guest", "guest_iops_alone", "guest_iops_during_migration",
                    "time_to_verdict_ms", "total_ms");
            if (Boolean.TRUE.equals(s.get("switched_over"))) {
                assertThat(s.get("verified")).as("scenario %s", scenario).isEqualTo(true);
                assertThat((Map<String, Object>) s.get("downtime_breakdown_ms")).containsKeys("suspend+get_state", "drain_to_esa3",
                        "final_copy", "flush", "set_state", "handover", "resume");
                assertThat(((Number) s.get("downtime_ms")).doubleValue()).isPositive();
            } else {
                assertThat(s.get("source_running_after_abort")).as("scenario %s", scenario).isEqualTo(true);
                assertThat(s.get("guest_source_bad_blocks")).isEqualTo(0L);
            }
        }
        Map<String, Object> a = (Map<String, Object>) result.get("a");
        assertThat(a.get("switched_over")).as("a slow guest converges").isEqualTo(true);
        assertThat(((Number) a.get("bytes_copied")).longValue()).isGreaterThanOrEqualTo(8L << 20);
        try (var files = Files.list(dir.resolve("results"))) {
            assertThat(files.toList()).singleElement().satisfies(p -> assertThat(p.getFileName().toString()).startsWith("migrate-"));
        }
    }
}
