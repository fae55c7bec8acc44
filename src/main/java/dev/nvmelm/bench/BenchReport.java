package dev.nvmelm.bench;

import dev.nvmelm.util.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * {@code nvme-lm bench report}: docs/benchmarks.md from the newest result of each scenario in
 * bench/results — tables with ratios against the peers, every goal with its measured value and
 * whether it is met, and PNG plots (XChart). Nothing here measures; it only renders JSON.
 */
public final class BenchReport {
    private BenchReport() {}

    /** The copy scenario as a text table (for the terminal and the report). */
    @SuppressWarnings("unchecked")
    public static String copyTable(Map<String, Object> result) {
        StringBuilder sb = new StringBuilder(ProcessReport.copyTable(result));   // what a user gets comes first
        long size = ((Number) result.get("size_bytes")).longValue();
        for (Object o : (List<Object>) result.getOrDefault("images", List.of())) {
            Map<String, Object> img = (Map<String, Object>) o;
            Map<String, Double> med = medians(img);
            if (sb.length() > 0 && sb.indexOf("in-process") < 0) sb.append(String.format("%nin-process copier and peers (the benchmark JVM, warmed up by earlier runs):%n"));
            double nbdcopy = med.getOrDefault("nbdcopy", Double.NaN), cp = med.getOrDefault("cp", Double.NaN);
            sb.append(String.format("%n%s image, %s (%s of data), median of %s runs%n", img.get("image"), mib(size),
                    mib(((Number) img.get("data_bytes")).longValue()), result.get("runs")));
            sb.append(String.format("| %-30s | %9s | %9s | %11s | %7s | %11s | %14s |%n", "tool", "median s", "MiB/s", "vs nbdcopy", "vs cp",
                    "copy only s", "dest allocated"));
            sb.append("|").append("-".repeat(32)).append("|").append("-".repeat(11)).append("|").append("-".repeat(11)).append("|")
                    .append("-".repeat(13)).append("|").append("-".repeat(9)).append("|").append("-".repeat(13)).append("|").append("-".repeat(16)).append("|\n");
            for (Object r : (List<Object>) img.get("results")) {
                Map<String, Object> row = (Map<String, Object>) r;
                double s = ((Number) row.get("median_s")).doubleValue();
                Object copyOnly = row.get("median_copy_only_s");   // absent in results from before durable timing
                sb.append(String.format("| %-30s | %9.3f | %9.0f | %10.2fx | %6.2fx | %11s | %14s |%n", row.get("tool"), s, size / 1048576.0 / s,
                        s / nbdcopy, s / cp, copyOnly == null ? "-" : String.format("%.3f", ((Number) copyOnly).doubleValue()),
                        mib(((Number) row.get("dest_allocated_bytes")).longValue())));
            }
            double ours = med.getOrDefault("nvme-lm copier", Double.NaN);
            sb.append(String.format("goal: nvme-lm copier <= 0.90x nbdcopy: %.2fx %s; <= 1.10x cp: %.2fx %s%n",
                    ours / nbdcopy, met(ours / nbdcopy <= 0.9), ours / cp, met(ours / cp <= 1.1)));
        }
        return sb.toString();
    }

    /** The net scenario as a text table with its goal line. */
    @SuppressWarnings("unchecked")
    public static String netTable(Map<String, Object> result) {
        StringBuilder sb = new StringBuilder(String.format("%nagent data path over loopback, %s streamed, median of %s runs%n",
                mib(((Number) result.get("size_bytes")).longValue()), result.get("runs")));
        sb.append(String.format("| %-34s | %10s |%n", "transport", "MiB/s"));
        sb.append("|").append("-".repeat(36)).append("|").append("-".repeat(12)).append("|\n");
        double tls = Double.NaN, plain = Double.NaN;
        for (Object o : (List<Object>) result.get("results")) {
            Map<String, Object> r = (Map<String, Object>) o;
            double v = ((Number) r.get("median_mib_per_s")).doubleValue();
            if (String.valueOf(r.get("transport")).startsWith("TLS")) tls = v;
            else plain = v;
            sb.append(String.format("| %-34s | %10.0f |%n", r.get("transport"), v));
        }
        sb.append(String.format("goal: TLS >= 0.80x plaintext: %.2fx %s%n", tls / plain, met(tls / plain >= 0.8)));
        if (result.get("median_extra_seconds_for_outage") instanceof Number extra) {
            sb.append(String.format("a 3 s cut half way cost %.2f s more and resent %s; goal: <= 3.5 s %s%n", extra.doubleValue(),
                    mib(((Number) result.get("median_bytes_resent")).longValue()), met(extra.doubleValue() <= 3.5)));
        }
        if (result.get("compression") instanceof List<?> rows && !rows.isEmpty()) {   // absent in results from before --compress
            sb.append(String.format("%n--compress (over TLS): median MiB/s of namespace data, and the share of DATA bytes on the wire%n"));
            sb.append(String.format("| %-46s | %10s | %10s |%n", "stream", "MiB/s", "on wire"));
            sb.append("|").append("-".repeat(48)).append("|").append("-".repeat(12)).append("|").append("-".repeat(12)).append("|\n");
            for (Object o : rows) {
                Map<String, Object> r = (Map<String, Object>) o;
                sb.append(String.format("| %-46s | %10.0f | %10.2f |%n", r.get("transport"), ((Number) r.get("median_mib_per_s")).doubleValue(),
                        ((Number) r.get("median_wire_fraction")).doubleValue()));
            }
        }
        return sb.toString();
    }

    /** The live scenario as text: one table per writer rate, nvme-lm beside the mirror, with the goal lines. */
    @SuppressWarnings("unchecked")
    public static String liveTable(Map<String, Object> result) {
        Map<String, Object> st = (Map<String, Object>) result.get("settings");
        StringBuilder sb = new StringBuilder(String.format("%nlive migration of a %s namespace under fio 4 KiB random writes, copy capped at %s/s for both%n",
                mib(num(st, "size_bytes").longValue()), mib(num(st, "copy_rate_bytes_per_s").longValue())));
        for (Object o : (List<Object>) result.get("levels")) {
            Map<String, Object> lv = (Map<String, Object>) o;
            Map<String, Object> a = (Map<String, Object>) lv.get("nvme_lm"), q = (Map<String, Object>) lv.get("qemu_mirror");
            int iops = num(lv, "iops_requested").intValue();
            sb.append(String.format("%nwriter: %s (iodepth %s)%n", iops == 0 ? "as fast as possible" : iops + " IOPS", lv.get("iodepth")));
            sb.append(String.format("| %-36s | %-22s | %-22s |%n", "", "nvme-lm", "QEMU mirror"));
            sb.append("|").append("-".repeat(38)).append("|").append("-".repeat(24)).append("|").append("-".repeat(24)).append("|\n");
            String[][] rows = {{"converged", "converged"}, {"time to verdict / READY (s)", "time_to_verdict_s"}, {"switched over", "switched_over"},
                    {"bytes moved / size", "copied_per_size"}, {"bytes moved / (size + dirtied)", "copied_per_size_plus_dirtied"},
                    {"downtime (ms)", "downtime_ms"}, {"guest's longest write (ms)", "guest_max_write_latency_ms"}, {"total (s)", "total_s"}, {"guest IOPS alone", "guest_iops_alone"},
                    {"guest IOPS during migration", "guest_iops_during"}, {"destination equals source", "identical"}};
            for (String[] r : rows) sb.append(String.format("| %-36s | %-22s | %-22s |%n", r[0], cell(a.get(r[1])), cell(q.get(r[1]))));
            sb.append("nvme-lm verdict: ").append(a.get("verdict")).append("\n");
            sb.append("QEMU: ").append(q.get("verdict")).append("\n");
            for (String goal : liveGoals(iops, a, q)) sb.append("goal (").append(iops == 0 ? "unlimited writer" : iops + " IOPS").append("): ").append(goal).append("\n");
        }
        return sb.toString();
    }

    /** The goal lines that apply to one writer rate, each with the measured value and met or NOT met. */
    static List<String> liveGoals(int iops, Map<String, Object> a, Map<String, Object> q) {
        List<String> g = new ArrayList<>();
        boolean ours = Boolean.TRUE.equals(a.get("switched_over")), theirs = Boolean.TRUE.equals(q.get("switched_over"));
        if (ours) {
            double r = num(a, "copied_per_size_plus_dirtied").doubleValue();
            g.add(String.format("bytes moved <= 1.05x (disk + dirtied): %.3fx %s", r, met(r <= 1.05)));
        }
        if (iops > 0 && iops <= 500) {
            double d = num(a, "downtime_ms").doubleValue();
            g.add(ours ? String.format("downtime <= 20 ms at %d IOPS: %.1f ms %s", iops, d, met(d <= 20))
                    : String.format("downtime <= 20 ms at %d IOPS: no switchover (NOT met)", iops));
        }
        if (ours && theirs) {
            double r = num(a, "total_s").doubleValue() / num(q, "total_s").doubleValue();
            g.add(String.format("total time <= 0.6x the mirror at the same cap: %.2fx %s", r, met(r <= 0.6)));
        } else if (ours) {
            g.add(String.format("total time <= 0.6x the mirror at the same cap: the mirror never switched over (nvme-lm %.1f s; met)", num(a, "total_s").doubleValue()));
        }
        if (iops == 0) {
            if (!ours) {
                double v = num(a, "time_to_verdict_s").doubleValue();
                g.add(String.format("verdict within 10 s for a non-converging writer: %.1f s %s", v, met(v <= 10)));
            } else {
                g.add("verdict within 10 s for a non-converging writer: this writer converged, so the goal is not exercised");
            }
        }
        return g;
    }

    private static String cell(Object v) {
        if (v == null) return "–";
        if (v instanceof Double d) return String.format("%.3f", d);
        return String.valueOf(v);
    }

    /** The sparse scenario as text, with the goal line. */
    @SuppressWarnings("unchecked")
    public static String sparseTable(Map<String, Object> result) {
        Map<String, Object> st = (Map<String, Object>) result.get("settings");
        long sparse = num(st, "sparse_size_bytes").longValue(), alloc = num(st, "allocated_bytes").longValue();
        StringBuilder sb = new StringBuilder(String.format("%nsparse: %s with %s of data in 1 MiB extents (source allocated %s); dense: %s of random data; file system %s%n",
                mib(sparse), mib(alloc), mib(num(result, "source_allocated_bytes").longValue()), mib(alloc), st.get("file_system")));
        sb.append(String.format("| %-24s | %-14s | %10s | %16s | %-9s |%n", "tool", "image", "seconds", "dest allocated", "identical"));
        sb.append("|").append("-".repeat(26)).append("|").append("-".repeat(16)).append("|").append("-".repeat(12)).append("|")
                .append("-".repeat(18)).append("|").append("-".repeat(11)).append("|\n");
        Map<String, Map<String, Object>> by = new LinkedHashMap<>();
        List<String> notes = new ArrayList<>();
        for (Object o : (List<Object>) result.get("results")) {
            Map<String, Object> r = (Map<String, Object>) o;
            by.put(r.get("tool") + "/" + r.get("image"), r);
            boolean done = Boolean.TRUE.equals(r.get("completed"));
            sb.append(String.format("| %-24s | %-14s | %10s | %16s | %-9s |%n", r.get("tool"), r.get("image"),
                    done ? String.format("%.3f", num(r, "seconds").doubleValue()) : "not done",
                    mib(num(r, "dest_allocated_bytes").longValue()), done ? r.get("identical") : "–"));
            if (!done) notes.add(r.get("tool") + ", " + r.get("image") + ": " + r.get("why"));
            if (r.get("note") != null) notes.add(r.get("tool") + ", " + r.get("image") + ": " + r.get("note"));
        }
        for (String n : notes) sb.append(n).append("\n");
        for (String tool : List.of("nvme-lm", "QEMU mirror, defaults", "QEMU mirror, unmap")) {
            Map<String, Object> sp = by.getOrDefault(tool + "/sparse", by.get(tool + "/sparse-smaller")), de = by.get(tool + "/dense");
            if (sp == null || de == null) continue;
            String label = String.format("%s: %s sparse <= 2x the time of %s dense", tool, mib(num(sp, "size_bytes").longValue()), mib(alloc));
            if (Boolean.TRUE.equals(sp.get("completed")) && Boolean.TRUE.equals(de.get("completed"))) {
                double ratio = num(sp, "seconds").doubleValue() / num(de, "seconds").doubleValue();
                sb.append(String.format("%s %s: %.2fx %s%n", tool.equals("nvme-lm") ? "goal:" : "for comparison,", label, ratio, met(ratio <= 2)));
            } else {
                sb.append(String.format("%s %s: did not complete (NOT met)%n", tool.equals("nvme-lm") ? "goal:" : "for comparison,", label));
            }
        }
        return sb.toString();
    }

    /** The cdq scenario as text, with the goal lines. */
    @SuppressWarnings("unchecked")
    public static String cdqTable(Map<String, Object> result) {
        StringBuilder sb = new StringBuilder(String.format("%nCDQ consumer, one thread, a 2 MiB ring (65536 entries) per pass into the dirty extents of a 1 TiB namespace (JMH: %s)%n",
                result.get("jmh_consumer_args")));
        sb.append(String.format("| %-14s | %16s | %14s | %20s | %-9s |%n", "workload", "entries/s", "± (99.9 %)", "entries per CPU s", "goal"));
        sb.append("|").append("-".repeat(16)).append("|").append("-".repeat(18)).append("|").append("-".repeat(16)).append("|")
                .append("-".repeat(22)).append("|").append("-".repeat(11)).append("|\n");
        boolean all = true;
        double worst = Double.MAX_VALUE;
        for (Object o : (List<Object>) result.get("consumer")) {
            Map<String, Object> r = (Map<String, Object>) o;
            double v = num(r, "entries_per_s").doubleValue();
            worst = Math.min(worst, v);
            all &= v >= 20e6;
            sb.append(String.format("| %-14s | %14.1f M | %14s | %20s | %-9s |%n", r.get("workload"), v / 1e6,
                    r.get("entries_per_s_error") instanceof Number e ? String.format("%.1f M", e.doubleValue() / 1e6) : "–",
                    r.get("entries_per_cpu_s") instanceof Number c ? String.format("%.1f M", c.doubleValue() / 1e6) : "–", met(v >= 20e6)));
        }
        sb.append(String.format("goal: >= 20 M entries/s on one core (wall clock, every workload): slowest %.1f M %s%n", worst / 1e6, met(all)));
        sb.append(String.format("%nDirtyExtents memory for a 1 TiB namespace after N random 4 KiB writes (JMH: %s)%n", result.get("jmh_memory_args")));
        sb.append(String.format("| %12s | %-6s | %10s | %14s | %14s | %14s |%n", "writes", "mode", "extents", "estimate MiB", "retained MiB", "peak MiB"));
        sb.append("|").append("-".repeat(14)).append("|").append("-".repeat(8)).append("|").append("-".repeat(12)).append("|")
                .append("-".repeat(16)).append("|").append("-".repeat(16)).append("|").append("-".repeat(16)).append("|\n");
        double most = 0;
        for (Object o : (List<Object>) result.get("memory")) {
            Map<String, Object> r = (Map<String, Object>) o;
            double e = num(r, "estimate_mib_per_tib").doubleValue(), h = num(r, "retained_heap_mib_per_tib").doubleValue(), p = num(r, "peak_estimate_mib_per_tib").doubleValue();
            most = Math.max(most, Math.max(e, Math.max(h, p)));
            sb.append(String.format("| %12s | %-6s | %10s | %14.2f | %14.2f | %14.2f |%n", r.get("writes"), r.get("mode"), r.get("extents"), e, h, p));
        }
        sb.append(String.format("goal: <= 32 MiB per TiB (the largest of estimate, retained heap and peak while adding, every write count): %.2f MiB %s%n", most, met(most <= 32)));
        return sb.toString();
    }

    /** The nbd scenario as a text table. */
    @SuppressWarnings("unchecked")
    public static String nbdTable(Map<String, Object> result) {
        StringBuilder sb = new StringBuilder(String.format("%nfio randwrite 4 KiB, iodepth %s, %s s per run, median of %s runs, %s namespace%n",
                result.get("iodepth"), result.get("seconds"), result.get("runs"), mib(((Number) result.get("size_bytes")).longValue())));
        sb.append(String.format("| %-40s | %11s | %14s | %11s |%n", "target", "write IOPS", "mean lat (us)", "vs qemu-nbd"));
        sb.append("|").append("-".repeat(42)).append("|").append("-".repeat(13)).append("|").append("-".repeat(16)).append("|").append("-".repeat(13)).append("|\n");
        double qemu = Double.NaN;
        for (Object o : (List<Object>) result.get("results")) {
            Map<String, Object> r = (Map<String, Object>) o;
            if (String.valueOf(r.get("target")).startsWith("qemu-nbd")) qemu = ((Number) r.get("median_write_iops")).doubleValue();
        }
        for (Object o : (List<Object>) result.get("results")) {
            Map<String, Object> r = (Map<String, Object>) o;
            double iops = ((Number) r.get("median_write_iops")).doubleValue();
            sb.append(String.format("| %-40s | %11.0f | %14.1f | %10.2fx |%n", r.get("target"), iops, ((Number) r.get("median_write_lat_us")).doubleValue(), iops / qemu));
        }
        return sb.toString();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Double> medians(Map<String, Object> img) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (Object r : (List<Object>) img.get("results")) {
            Map<String, Object> row = (Map<String, Object>) r;
            m.put((String) row.get("tool"), ((Number) row.get("median_s")).doubleValue());
        }
        return m;
    }

    private static String met(boolean ok) {
        return ok ? "(met)" : "(NOT met)";
    }

    static String mib(long bytes) {
        return bytes >= 1L << 30 ? String.format("%.2f GiB", bytes / 1073741824.0) : String.format("%.1f MiB", bytes / 1048576.0);
    }

    /** The newest {@code <scenario>-<timestamp>.json}, if any. */
    static Optional<Path> newest(Path dir, String scenario) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().matches(scenario + "-\\d{8}-\\d{6}\\.json"))
                    .max(Comparator.comparing(p -> p.getFileName().toString()));
        }
    }

    /** The newest result of {@code scenario} that has {@code key} (a --cold-only run has no A/B scenarios). */
    static Optional<Path> newestWith(Path dir, String scenario, String key) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> all = files.filter(p -> p.getFileName().toString().matches(scenario + "-\\d{8}-\\d{6}\\.json"))
                    .sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed()).toList();
            for (Path p : all) if (load(p).containsKey(key)) return Optional.of(p);
            return Optional.empty();
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> load(Path p) throws IOException {
        return (Map<String, Object>) Json.parse(Files.readString(p));
    }

    /** Writes the report and its plots; returns the files written. */
    public static List<Path> write(Path resultsDir, Path out) throws IOException {
        List<Path> written = new ArrayList<>();
        Path img = out.toAbsolutePath().getParent().resolve("img");
        Files.createDirectories(img);
        StringBuilder md = new StringBuilder();
        md.append("# Benchmarks\n\n");
        md.append("Rendered by `./nvme-lm bench report` from the newest result of each scenario in `bench/results/`;\n");
        md.append("every number below comes from those JSON files, measured on the machine they name, with the\n");
        md.append("peers run in the same process tree, on the same data, interleaved. Reproduce on a clean clone:\n\n");
        md.append("```\n./scripts/install-deps.sh\n./nvme-lm bench all\n```\n\n");
        md.append("`bench all` runs, one after the other, `bench copy --size 1G --runs 3`, `bench migrate --qemu`, `bench live`,\n");
        md.append("`bench sparse`, `bench cdq`, `bench nbd` and `bench tls --size 1G --runs 3` (each writes\n");
        md.append("`bench/results/<scenario>-<time>.json`), then `bench report`, which writes this file and the plots in\n");
        md.append("`docs/img/`. It took 11.9 minutes on this 2-core machine (live about 3, nbd about 3,\n");
        md.append("migrate, cdq and tls under 2 each, copy and sparse under 1) and needs up to 20 GiB free in the temporary directory, most of it\n");
        md.append("for QEMU's defaults in `sparse`, which are sized to the free space (`--work-dir DIR` puts the images\n");
        md.append("elsewhere). Any scenario can be run alone, then `bench report`.\n");
        md.append("Every peer tool is checked first; a missing one is an error naming its package, never a skipped row.\n\n");
        md.append("Speed is never asserted in unit tests; every scenario's `--quick` mode (small sizes, one run) runs\n");
        md.append("in the test suite only so the harness cannot rot, and checks outcomes (results written with their\n");
        md.append("fields, destinations equal to their sources). A goal that is not met is shown as such.\n");
        Optional<Path> copy = newest(resultsDir, "copy");
        if (copy.isPresent()) {
            Map<String, Object> r = load(copy.get());
            Optional<Path> tools = r.containsKey("images") ? Optional.empty() : newestWith(resultsDir, "copy", "images");
            if (tools.isPresent()) r.put("images", load(tools.get()).get("images"));   // a --only processes run: the tools' rows from the one before
            md.append("\n## Copy: nvme-lm's bulk copier and NBD server vs cp, dd, qemu-img convert, nbdcopy\n\n");
            md.append("Source `").append(resultsDir.relativize(copy.get())).append("`");
            tools.ifPresent(t -> md.append(" (in-process copier and peers: `").append(resultsDir.relativize(t)).append("`)"));
            md.append("; ").append(machine(r)).append("\n");
            md.append("First what a user gets: whole processes, a new one per run (`nvme-lm migrate` through the launcher, with its\n");
            md.append("start-up cache, against `nbdcopy --flush`, cp and qemu-img convert; wall, user+system CPU and peak RSS from GNU\n");
            md.append("time; each row names its command; images dense and with 10 % of it in holes). Then the in-process copier\n");
            md.append("inside the benchmark JVM, warmed up by the runs before it, beside the same peers.\n");
            md.append("Dense: every block random data. Sparse: 10 % data in scattered extents, the rest holes.\n");
            md.append("Every copy is checked byte for byte against its source before its time counts. Times are until the copy is\n");
            md.append("durable: each tool's run plus an fsync of its destination done by the harness, the same for every tool\n");
            md.append("(cp, dd, qemu-img and nbdcopy return with the data in the page cache; \"copy only s\" is the run alone).\n");
            md.append("Each copy starts with its source read once into the page cache, untimed, so no tool pays for the kernel's\n");
            md.append("proactive reclaim (DAMON) having evicted it during the previous one.\n");
            md.append("\n```").append(copyTable(r)).append("```\n");
            written.addAll(BenchPlots.copyPlots(r, img));
            for (Path p : written) md.append("\n![").append(p.getFileName()).append("](img/").append(p.getFileName()).append(")\n");
        } else {
            md.append("\n## Copy\n\nNo result yet: run `./nvme-lm bench copy`.\n");
        }
        Optional<Path> stop = newestWith(resultsDir, "migrate", "cold");
        if (stop.isPresent()) {   // the stop as users meet it, before the in-process scenarios
            Map<String, Object> r = load(stop.get());
            md.append("\n## The stop: cold CLI migrations against the downtime budget (`bench migrate`)\n\n");
            md.append("Source `").append(resultsDir.relativize(stop.get())).append("`; ").append(machine(r)).append("\n");
            md.append("Each run is a new `nvme-lm migrate` process (started through the launcher); budgets alternate. \"over budget\"\n");
            md.append("counts runs whose measured downtime exceeded `--max-downtime` (and runs that did not switch over);\n");
            md.append("\"actual / predicted\" is the measured stop over the prediction the engine made before stopping.\n");
            md.append("\n```").append(ProcessReport.coldStopTable((Map<String, Object>) r.get("cold"))).append("```\n");
        }
        Optional<Path> mig = newestWith(resultsDir, "migrate", "a");
        if (mig.isPresent()) {
            Map<String, Object> r = load(mig.get());
            md.append("\n## Live migration on the embedded controller (`bench migrate`): nvme-lm vs QEMU's block mirror\n\n");
            md.append("Source `").append(resultsDir.relativize(mig.get())).append("`; ").append(machine(r)).append("\n");
            md.append(migrateSection(r));
            Path p = BenchPlots.migratePlot(r, img);
            if (p != null) {
                written.add(p);
                md.append("\n![").append(p.getFileName()).append("](img/").append(p.getFileName()).append(")\n");
            }
        } else {
            md.append("\n## Live migration\n\nNo result yet: run `./nvme-lm bench migrate --qemu`.\n");
        }
        Optional<Path> nbd = newest(resultsDir, "nbd");
        if (nbd.isPresent()) {
            Map<String, Object> r = load(nbd.get());
            md.append("\n## NBD: fio through our exports vs qemu-nbd\n\n");
            md.append("Source `").append(resultsDir.relativize(nbd.get())).append("`; ").append(machine(r)).append("\n");
            md.append("The NVMe path turns every NBD request into a command on a migratable controller's I/O queue of the\n");
            md.append("software subsystem (what a guest's writes cost while a migration could be tracking them).\n");
            md.append("Note: the NVMe path writes a fresh sparse namespace file of a new subsystem each run, while the\n");
            md.append("two file targets overwrite the dense image; part of the difference may be that, not the path.\n");
            md.append("\n```").append(nbdTable(r)).append("```\n");
        }
        Optional<Path> net = newest(resultsDir, "net");
        if (net.isPresent()) {
            Map<String, Object> r = load(net.get());
            md.append("\n## Agents: TLS 1.3 versus plaintext (`bench tls`, also named `bench net`)\n\n");
            md.append("Source `").append(resultsDir.relativize(net.get())).append("`; ").append(machine(r)).append("\n");
            md.append("Random data streamed through the source's remote device into an agent writing a file (every extent\n");
            md.append("read back and CRC-checked as written), then FLUSH and COMMIT; no controller at the agent.\n");
            md.append("\n```").append(netTable(r)).append("```\n");
        }
        Optional<Path> live = newest(resultsDir, "live");
        md.append("\n## Live: nvme-lm vs QEMU's mirror under fio, same path, same cap (`bench live`)\n\n");
        {
            md.append("A 1 GiB namespace, fio at 500, 5000 IOPS and as fast as it goes, copy capped at 100 MiB/s for both.\n");
            md.append("The same seeded random namespace for both; fio's nbd engine writes random 4 KiB blocks (`--thread`,\n");
            md.append("`--rate_iops` at each level, iodepth 4; unlimited at iodepth 16) through an NBD export. nvme-lm: `device serve`\n");
            md.append("(in process) with two migratable controllers; fio writes through MC 1's namespace export (each request an\n");
            md.append("NVMe command on MC 1's queues) and the engine migrates MC 1 to MC 2 over the sim: socket, as\n");
            md.append("`migrate --source sim:D#1 --dest sim:D#2` does; the server hands fio's queues to MC 2 at the switchover.\n");
            md.append("QEMU: qemu-storage-daemon exports the source; blockdev-mirror to a raw file with `speed` = the cap;\n");
            md.append("job-complete as soon as READY, which pivots the export to the target. fio keeps writing through both\n");
            md.append("switchovers and stops 250 ms after. Downtime: ours is suspend on the source to resume on the destination\n");
            md.append("(the engine's report); the mirror's is job-complete to BLOCK_JOB_COMPLETED, which includes up to one 100 ms\n");
            md.append("idle slice of the job before it notices (the guest's pause is the drain and flush inside it). The guest's\n");
            md.append("longest write (fio's latency max over the whole run) shows the stall as the guest saw it. Bytes remaining: ours is what the\n");
            md.append("bulk pass has not reached plus the dirty backlog (sampled every 100 ms); the mirror's is `len - offset` of\n");
            md.append("query-block-jobs (every 100 ms). Guest IOPS: fio's `--write_iops_log` averaged over each window.\n");
            md.append("\"Destination equals source\": with fio stopped, every block compared except those the guest wrote\n");
            md.append("after the switchover (ours: logged by the destination's CDQ; the mirror: a 4 KiB dirty bitmap added to the\n");
            md.append("target node at READY, read with `nbdinfo --map`, which also leaves out the mirror's last copies).\n");
        }
        if (live.isPresent()) {
            Map<String, Object> r = load(live.get());
            md.append("\nSource `").append(resultsDir.relativize(live.get())).append("`; ").append(machine(r)).append(" ").append(tools(r)).append("\n");
            md.append("\n```").append(liveTable(r)).append("```\n");
            for (Path p : BenchPlots.livePlots(r, img)) {
                written.add(p);
                md.append("\n![").append(p.getFileName()).append("](img/").append(p.getFileName()).append(")\n");
            }
        } else {
            md.append("\nNo result yet: run `./nvme-lm bench live`.\n");
        }
        Optional<Path> sparse = newest(resultsDir, "sparse");
        md.append("\n## Sparse: a 1 TiB namespace with 1 GiB of data (`bench sparse`)\n\n");
        {
            md.append("1 GiB of random data in 1 MiB extents at seeded random places of a 1 TiB file, the rest holes; and a 1 GiB\n");
            md.append("dense image, migrated the same way in the same run. nvme-lm: the `migrate --source-image/--dest-image` path\n");
            md.append("(embedded subsystems on both files, no guest, no rate cap), timed from opening to closing both.\n");
            md.append("QEMU: blockdev-mirror through qemu-storage-daemon to a new sparse raw file, job-complete at READY, with\n");
            md.append("its defaults and with `discard=unmap,detect-zeroes=unmap` on the target nodes (QEMU 7.2's blockdev-mirror\n");
            md.append("has no `unmap` argument; it always unmaps where the target allows). The defaults write zeroes into every\n");
            md.append("hole of the target (fallocate ZERO_RANGE: tens of GiB a second), so they run on the full size only where it\n");
            md.append("fits in a quarter of the free space, otherwise on a smaller sparse image with the same data (labelled).\n");
            md.append("Allocation is st_blocks x 512 of the destination; every completed copy is compared byte for byte.\n");
        }
        if (sparse.isPresent()) {
            Map<String, Object> r = load(sparse.get());
            md.append("\nSource `").append(resultsDir.relativize(sparse.get())).append("`; ").append(machine(r)).append(" ").append(tools(r)).append("\n");
            md.append("\n```").append(sparseTable(r)).append("```\n");
        } else {
            md.append("\nNo result yet: run `./nvme-lm bench sparse`.\n");
        }
        Optional<Path> cdq = newest(resultsDir, "cdq");
        md.append("\n## CDQ consumer: entries/s and dirty-extent memory (`bench cdq`, JMH)\n\n");
        {
            md.append("`bench cdq` runs the JMH benchmarks `CdqConsumerBench` and `DirtyExtentsMemoryBench` (docs/cdq.md describes\n");
            md.append("them) and keeps their scores. Entries/s is wall clock on one thread; \"per CPU s\" divides by the consuming\n");
            md.append("thread's CPU time, which stays put when other work shares the cores. Memory is for a 1 TiB namespace, so\n");
            md.append("MiB is MiB per TiB. Goals: >= 20 M entries/s on one core; <= 32 MiB per TiB.\n");
        }
        if (cdq.isPresent()) {
            Map<String, Object> r = load(cdq.get());
            md.append("\nSource `").append(resultsDir.relativize(cdq.get())).append("`; ").append(machine(r))
                    .append(" JMH ").append(r.get("jmh_version")).append(" on ").append(r.get("benchmark_jvm")).append(".\n");
            md.append("\n```").append(cdqTable(r)).append("```\n");
        } else {
            md.append("\nNo result yet: run `./nvme-lm bench cdq`.\n");
        }
        Optional<Path> vm = newest(resultsDir, "vm");
        md.append("\n## A real guest, side by side: nvme-lm vs the libvirt way (`bench vm`)\n\n").append(VmReport.intro());
        if (vm.isPresent()) {
            Map<String, Object> r = load(vm.get());
            md.append("\nSource `").append(resultsDir.relativize(vm.get())).append("`; ").append(machine(r)).append("\n");
            md.append("\n```").append(VmReport.table(r)).append("```\n");
            for (Path p : VmReport.plots(r, img)) {
                written.add(p);
                md.append("\n![").append(p.getFileName()).append("](img/").append(p.getFileName()).append(")\n");
            }
        } else {
            md.append("\nNo result yet: run `./nvme-lm bench vm`.\n");
        }
        // every goal line of the sections above, gathered after the introduction
        StringBuilder goals = new StringBuilder("\n## Goals at a glance\n\nEvery goal line below, as measured in the newest result of its scenario:\n\n```\n");
        int n = 0;
        for (String line : md.toString().lines().toList()) {
            if (line.startsWith("goal")) {
                goals.append(line).append("\n");
                n++;
            }
        }
        goals.append(n == 0 ? "no results yet\n" : "");
        for (String scenario : List.of("copy", "migrate", "live", "sparse", "cdq", "nbd", "net")) {
            if (newest(resultsDir, scenario).isEmpty()) goals.append("bench ").append(scenario.equals("net") ? "tls" : scenario).append(": no result yet, its goals are not measured\n");
        }
        goals.append("```\n");
        int at = md.indexOf("\n## ");
        md.insert(at < 0 ? md.length() : at, goals);
        Files.writeString(out, md.toString());
        written.addFirst(out);
        return written;
    }

    @SuppressWarnings("unchecked")
    private static String machine(Map<String, Object> r) {
        Map<String, Object> m = (Map<String, Object>) r.get("machine");
        if (m == null) return "machine not recorded.";
        return String.format("%s cores, %.0f GiB, kernel %s, Java %s.", m.get("cores"), ((Number) m.get("memory_bytes")).doubleValue() / (1L << 30),
                m.get("kernel"), m.get("java"));
    }

    @SuppressWarnings("unchecked")
    private static String tools(Map<String, Object> r) {
        Map<String, Object> m = (Map<String, Object>) r.get("machine");
        if (m == null || !(m.get("tools") instanceof Map<?, ?> t) || t.isEmpty()) return "";
        StringBuilder sb = new StringBuilder("Tools: ");
        boolean first = true;
        for (var e : ((Map<String, Object>) t).entrySet()) {
            if (!first) sb.append("; ");
            sb.append(e.getKey()).append(" `").append(e.getValue()).append("`");
            first = false;
        }
        return sb.append(".").toString();
    }

    @SuppressWarnings("unchecked")
    private static String migrateSection(Map<String, Object> r) {
        Map<String, Object> s = (Map<String, Object>) r.get("settings"), a = (Map<String, Object>) r.get("a"), b = (Map<String, Object>) r.get("b");
        Map<String, Object> qm = (Map<String, Object>) r.getOrDefault("qemu_measured", Map.of());
        Map<String, Object> qa = (Map<String, Object>) qm.getOrDefault("a", Map.of()), qb = (Map<String, Object>) qm.getOrDefault("b", Map.of());
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%nA %s namespace; copy rate capped at %s/s for both; downtime budget %s ms.%n", mib(num(s, "size_bytes").longValue()),
                mib(num(s, "copy_rate_bytes_per_s").longValue()), s.get("max_downtime_ms")));
        sb.append("\n### A: a 4 KiB random writer at ").append(a.get("guest_iops_requested")).append(" IOPS\n\n");
        sb.append("| | nvme-lm | QEMU mirror (same run) | goal |\n|---|---|---|---|\n");
        double ratio = num(a, "copied_per_size_plus_dirtied").doubleValue();
        sb.append(String.format("| bytes copied / disk size | %.3f | %s | |%n", num(a, "copied_per_size").doubleValue(), qa.getOrDefault("copied_per_size", "–")));
        sb.append(String.format("| bytes copied / (disk + bytes dirtied) | %.3f | – | <= 1.05 %s |%n", ratio, met(ratio <= 1.05)));
        double down = num(a, "downtime_ms").doubleValue();
        sb.append(String.format("| downtime (suspend to resume on the destination; the mirror: job-complete) | %.1f ms | %s | <= 20 ms %s |%n", down,
                qa.containsKey("switchover_s") ? String.format("%.0f ms", num(qa, "switchover_s").doubleValue() * 1000) : "–", met(down <= 20)));
        double total = num(a, "total_ms").doubleValue() / 1000;
        String qTotal = qa.containsKey("total_s") ? String.format("%.2f s", num(qa, "total_s").doubleValue()) : "–";
        String totalGoal = qa.containsKey("total_s") ? String.format("<= 0.6x: %.2fx %s", total / num(qa, "total_s").doubleValue(),
                met(total / num(qa, "total_s").doubleValue() <= 0.6)) : "<= 0.6x the mirror";
        sb.append(String.format("| total time | %.2f s | %s | %s |%n", total, qTotal, totalGoal));
        sb.append(String.format("| dirty passes | %s | – | |%n", a.get("passes")));
        sb.append(String.format("| verified | %s | %s | |%n", a.get("verified"), qa.getOrDefault("identical", "–")));
        sb.append(String.format("| guest IOPS alone / during | %s / %s | %s | |%n", a.get("guest_iops_alone"), a.get("guest_iops_during_migration"), qa.getOrDefault("fio_iops", "–")));
        Map<String, Object> br = (Map<String, Object>) a.get("downtime_breakdown_ms");
        if (br != null) sb.append("\nDowntime breakdown (ms): ").append(br).append("\n");
        sb.append("\n### B: an unthrottled writer (asked ").append(b.get("guest_iops_requested")).append(" IOPS)\n\n");
        double verdictS = num(b, "time_to_verdict_ms").doubleValue() / 1000;
        sb.append("| | nvme-lm | QEMU mirror (same run) | goal |\n|---|---|---|---|\n");
        sb.append(String.format("| guest write IOPS achieved alone / during | %s / %s | %s | |%n", b.get("guest_iops_alone"), b.get("guest_iops_during_migration"), qb.getOrDefault("fio_iops", "–")));
        sb.append(String.format("| outcome | %s | %s | |%n", Boolean.TRUE.equals(b.get("converged")) ? "converged" : "not converging, aborted, source kept running",
                Boolean.TRUE.equals(qb.get("converged")) ? "converged" : "never ready"));
        sb.append(String.format("| time to the verdict | %.1f s | %s | <= 10 s %s |%n", verdictS,
                qb.containsKey("total_s") ? String.format("gave up at %.0f s", num(qb, "total_s").doubleValue()) : "–", met(verdictS <= 10)));
        sb.append(String.format("| bytes copied / disk size | %.2f | %s | |%n", num(b, "copied_per_size").doubleValue(), qb.getOrDefault("copied_per_size", "–")));
        sb.append("\nVerdict text: `").append(b.get("verdict")).append("`\n");
        sb.append("\n```\n");
        sb.append(String.format("goal (bench migrate A): bytes copied <= 1.05x (disk + dirtied): %.3fx %s%n", ratio, met(ratio <= 1.05)));
        sb.append(String.format("goal (bench migrate A): downtime <= 20 ms at %s IOPS: %.1f ms %s%n", a.get("guest_iops_requested"), down, met(down <= 20)));
        if (qa.containsKey("total_s")) {
            double tr = total / num(qa, "total_s").doubleValue();
            sb.append(String.format("goal (bench migrate A): total <= 0.6x the mirror: %.2fx %s%n", tr, met(tr <= 0.6)));
        }
        if (!Boolean.TRUE.equals(b.get("converged"))) {
            sb.append(String.format("goal (bench migrate B): verdict within 10 s for a non-converging writer: %.1f s %s%n", verdictS, met(verdictS <= 10)));
        }
        sb.append("```\n");
        Object ref = r.get("qemu_reference");
        if (ref != null) sb.append("\nQEMU's mirror, measured by hand earlier (not this run): `").append(Json.compact(ref)).append("`\n");
        return sb.toString();
    }

    static Number num(Map<String, Object> m, String k) {
        Object v = m.get(k);
        return v instanceof Number n ? n : Double.NaN;
    }
}
