package dev.nvmelm.cli;

import dev.nvmelm.bench.Images;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A stop longer than --max-downtime is reported, never passed over silently (issue 19 item 5):
 * {@code downtime_over_budget} in JSON and an "over budget" line in normal output, exactly when
 * the measured downtime exceeds the budget. A 1 ms budget with a guest writing is forced through
 * ({@code --on-stall force}), so the stop is practically always over it.
 */
class DowntimeBudgetReportTest {
    @TempDir
    Path dir;

    private CliRunner migrate(String name, String... extra) throws Exception {
        Path src = dir.resolve(name + "-src.img");
        Images.dense(src, 8 << 20, 5);
        String[] base = {"migrate", "--source-image", src.toString(), "--dest-image", dir.resolve(name + "-dst.img").toString(),
                "--verify", "none", "--max-downtime", "1", "--on-stall", "force", "--max-passes", "3",
                "--workload", "random-write:iops=2000,bs=4k"};
        String[] args = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        CliRunner r = CliRunner.run(args);
        assertThat(r.exit()).as(r.err()).isZero();
        return r;
    }

    @Test
    void jsonSaysWhetherTheStopFitTheBudget() throws Exception {
        CliRunner r = migrate("json", "-o", "json");
        double downtime = number(r.out(), "\"downtime_ms\": ([0-9.]+)");
        assertThat(r.jsonLong("downtime_budget_ms")).isEqualTo(1);
        Matcher over = Pattern.compile("\"downtime_over_budget\": (true|false)").matcher(r.out());
        assertThat(over.find()).as(r.out()).isTrue();
        assertThat(Boolean.parseBoolean(over.group(1))).isEqualTo(downtime > 1);
        assertThat(r.out()).contains("\"predicted_stop_ms\"");
    }

    @Test
    void normalOutputHasALineWhenTheStopWasOverBudget() throws Exception {
        CliRunner r = migrate("text");
        double downtime = number(r.out(), "downtime +([0-9.]+) ms");
        assertThat(r.out().contains("over budget")).as(r.out()).isEqualTo(downtime > 1);
    }

    private static double number(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertThat(m.find()).as("%s in %s", regex, text).isTrue();
        return Double.parseDouble(m.group(1));
    }
}
