package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The benchmark harness in quick mode: it runs every peer, verifies every copy, writes JSON. */
class BenchQuickTest {
    @Test
    @SuppressWarnings("unchecked")
    void copyScenarioRunsEveryPeerAndWritesAResult(@TempDir Path dir) throws Exception {
        CliRunner r = CliRunner.run("bench", "copy", "--quick", "--results", dir.resolve("results").toString(), "-o", "json");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, Object> result = (Map<String, Object>) Json.parse(r.out());
        assertThat(((Map<String, Object>) result.get("machine")).get("cores")).isInstanceOf(Long.class);
        List<Object> images = (List<Object>) result.get("images");
        assertThat(images).hasSize(2);
        for (Object img : images) {
            List<Object> rows = (List<Object>) ((Map<String, Object>) img).get("results");
            assertThat(rows).extracting(x -> ((Map<String, Object>) x).get("tool"))
                    .contains("nvme-lm copier", "nbdcopy (nvme-lm NBD source)", "cp", "qemu-img convert", "nbdcopy");
            for (Object row : rows) assertThat((Double) ((Map<String, Object>) row).get("median_s")).isPositive();
        }
        // whole processes, a new one per run: wall, CPU and peak RSS of each, with its command
        List<Object> processes = (List<Object>) result.get("processes");
        assertThat(processes).hasSize(2);
        for (Object img : processes) {
            List<Object> rows = (List<Object>) ((Map<String, Object>) img).get("results");
            assertThat(rows).extracting(x -> ((Map<String, Object>) x).get("tool"))
                    .containsExactly("nvme-lm migrate --verify none", "nvme-lm migrate --verify full", "nbdcopy --flush", "cp", "qemu-img convert");
            for (Object row : rows) {
                Map<String, Object> m = (Map<String, Object>) row;
                assertThat((Double) m.get("median_wall_s")).isPositive();
                assertThat((Long) m.get("median_peak_rss_bytes")).isPositive();
                assertThat((String) m.get("command")).contains("SRC", "DST");
            }
        }
        try (var files = Files.list(dir.resolve("results"))) {
            assertThat(files.toList()).singleElement().satisfies(p -> assertThat(p.getFileName().toString()).startsWith("copy-"));
        }
        // the report renders it: table, goal lines, a plot per image
        CliRunner rep = CliRunner.run("bench", "report", "--results", dir.resolve("results").toString(), "--out", dir.resolve("bench.md").toString());
        assertThat(rep.exit()).as(rep.err()).isZero();
        assertThat(Files.readString(dir.resolve("bench.md"))).contains("nvme-lm copier", "goal: nvme-lm copier <= 0.90x nbdcopy", "img/copy-dense.png",
                "whole processes, dense image", "goal: nvme-lm migrate --verify none <= 1.1x nbdcopy --flush wall");
        assertThat(dir.resolve("img/copy-dense.png")).isNotEmptyFile();
    }

    @Test
    @SuppressWarnings("unchecked")
    void nbdScenarioRunsFioAgainstEveryTarget(@TempDir Path dir) throws Exception {
        CliRunner r = CliRunner.run("bench", "nbd", "--quick", "--results", dir.resolve("results").toString(), "-o", "json");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, Object> result = (Map<String, Object>) Json.parse(r.out());
        assertThat((List<Object>) result.get("results")).extracting(x -> ((Map<String, Object>) x).get("target"))
                .containsExactly("nvme-lm device serve --nbd (NVMe path)", "nvme-lm NBD server (file)", "qemu-nbd (file)");
        for (Object row : (List<Object>) result.get("results")) assertThat((Double) ((Map<String, Object>) row).get("median_write_iops")).isPositive();
    }

    @Test
    @SuppressWarnings("unchecked")
    void netScenarioMeasuresTlsAndPlaintext(@TempDir Path dir) throws Exception {
        CliRunner r = CliRunner.run("bench", "net", "--quick", "--results", dir.resolve("results").toString(), "-o", "json");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, Object> result = (Map<String, Object>) Json.parse(r.out());
        assertThat((List<Object>) result.get("results")).extracting(x -> ((Map<String, Object>) x).get("transport"))
                .containsExactly("TLS 1.3 (mutual authentication)", "plaintext TCP");
    }
}
