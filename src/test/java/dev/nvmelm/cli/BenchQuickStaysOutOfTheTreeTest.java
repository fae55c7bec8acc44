package dev.nvmelm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 19 item 11: a quick run measures nothing, so neither it nor the test suite may write into
 * the repository tree (bench/results, docs/benchmarks.md, docs/img). Tests run with the module
 * directory as the working directory, where the relative defaults point.
 */
class BenchQuickStaysOutOfTheTreeTest {
    @Test
    void aQuickScenarioWithoutResultsSavesNothing() throws Exception {
        List<String> before = listing(Path.of("bench")), docsBefore = listing(Path.of("docs"));
        CliRunner r = CliRunner.run("bench", "cdq", "--quick", "-o", "json");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("\"quick\": true");
        assertThat(listing(Path.of("bench"))).isEqualTo(before);
        assertThat(listing(Path.of("docs"))).isEqualTo(docsBefore);
    }

    @Test
    void benchAllQuickPutsResultsAndReportInAScratchDirectory(@TempDir Path tmp) {
        var quick = BenchCommand.All.Targets.of(true, null, null, () -> tmp);
        assertThat(quick.results()).isEqualTo(tmp.resolve("results"));
        assertThat(quick.report()).isEqualTo(tmp.resolve("benchmarks.md"));
        assertThat(quick.scratch()).isEqualTo(tmp);

        var full = BenchCommand.All.Targets.of(false, null, null, () -> { throw new AssertionError("no scratch for a full run"); });
        assertThat(full.results()).isEqualTo(Path.of("bench/results"));
        assertThat(full.report()).isEqualTo(Path.of("docs/benchmarks.md"));
        assertThat(full.scratch()).isNull();

        var told = BenchCommand.All.Targets.of(true, tmp.resolve("r"), tmp.resolve("b.md"), () -> { throw new AssertionError("told where"); });
        assertThat(told.results()).isEqualTo(tmp.resolve("r"));
        assertThat(told.report()).isEqualTo(tmp.resolve("b.md"));
    }

    /** Every file under {@code dir} with its size and modification time. */
    private static List<String> listing(Path dir) throws IOException {
        if (!Files.exists(dir)) return List.of();
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).map(p -> {
                try {
                    return p + " " + Files.size(p) + " " + Files.getLastModifiedTime(p).toMillis();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).sorted().toList();
        }
    }
}
