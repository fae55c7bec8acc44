package dev.nvmelm.bench;


import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The stop as a user meets it (issue 17): {@code nvme-lm migrate} of an image under a guest
 * writing 4 KiB blocks, a new process per run (started as a user starts it, see
 * {@link ProcessCopies#launcher}), {@code runs} runs per downtime budget, budgets alternating.
 * Reports the distribution of the measured downtime against the budget, how many runs went over
 * it, suspend + get state, and the measured stop over the engine's prediction.
 */
public final class ColdStops {
    public record Settings(long sizeBytes, int guestIops, int runs, List<Long> budgetsMs) {
        public static Settings defaults(int runs) {
            return new Settings(128L << 20, 1000, runs, List.of(50L, 20L));
        }
    }

    private ColdStops() {}

    /** @param launcher how to start nvme-lm ({@link ProcessCopies#launcher}) */
    public static Map<String, Object> run(Path dir, Settings s, List<String> launcher, PrintWriter log) throws IOException {
        Path src = dir.resolve("cold-src.img"), dst = dir.resolve("cold-dst.img");
        Images.dense(src, s.sizeBytes(), 17);
        String workload = "random-write:iops=" + s.guestIops() + ",bs=4k";
        Map<Long, List<Map<String, Object>>> byBudget = new LinkedHashMap<>();
        Map<Long, Integer> failed = new LinkedHashMap<>();
        for (long b : s.budgetsMs()) {
            byBudget.put(b, new ArrayList<>());
            failed.put(b, 0);
        }
        for (int run = 0; run < s.runs(); run++) {
            for (long budget : s.budgetsMs()) {   // alternating: both budgets see the same machine
                Files.deleteIfExists(dst);
                Files.deleteIfExists(dir.resolve("cold-dst.img.incomplete"));
                List<String> cmd = new ArrayList<>(launcher);
                cmd.addAll(List.of("migrate", "--source-image", src.toString(), "--dest-image", dst.toString(), "--workload", workload,
                        "--verify", "none", "--max-downtime", Long.toString(budget), "-o", "json"));
                Tools.Result r = Tools.run(cmd, Duration.ofMinutes(5));
                Map<String, Object> m = r.exit() == 0 ? CliOutput.report(r.output()) : null;
                if (m == null) {
                    failed.merge(budget, 1, Integer::sum);
                    log.printf("  cold stop run %d/%d budget %d ms: exit %d: %s%n", run + 1, s.runs(), budget, r.exit(), CliOutput.lastLine(r.output()));
                } else {
                    byBudget.get(budget).add(m);
                    log.printf("  cold stop run %d/%d budget %d ms: downtime %s ms, predicted %s ms%n", run + 1, s.runs(), budget,
                            m.get("downtime_ms"), ((Map<?, ?>) m.get("verdict_detail")).get("predicted_stop_ms"));
                }
                log.flush();
            }
        }
        Files.deleteIfExists(src);
        Files.deleteIfExists(dst);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("image", (s.sizeBytes() >> 20) + " MiB random data");
        out.put("workload", s.guestIops() + " x 4 KiB random writes/s");
        out.put("runs", s.runs());
        out.put("command", String.join(" ", launcher) + " migrate --source-image SRC --dest-image DST --workload " + workload
                + " --verify none --max-downtime BUDGET -o json");
        List<Object> budgets = new ArrayList<>();
        for (long b : s.budgetsMs()) budgets.add(summary(b, byBudget.get(b), failed.get(b)));
        out.put("budgets", budgets);
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> summary(long budget, List<Map<String, Object>> runs, int failed) {
        List<Double> down = new ArrayList<>(), ratio = new ArrayList<>(), suspend = new ArrayList<>();
        Map<String, List<Double>> laps = new LinkedHashMap<>();   // where the stops went, lap by lap
        int over = 0;
        for (Map<String, Object> m : runs) {
            double d = ((Number) m.get("downtime_ms")).doubleValue();
            down.add(d);
            if (Boolean.TRUE.equals(m.get("downtime_over_budget"))) over++;
            Object p = ((Map<String, Object>) m.get("verdict_detail")).get("predicted_stop_ms");
            if (p instanceof Number n && n.doubleValue() > 0) ratio.add(d / n.doubleValue());
            Map<String, Object> breakdown = (Map<String, Object>) m.get("downtime_breakdown_ms");
            if (breakdown.get("suspend+get_state") instanceof Number n) suspend.add(n.doubleValue());
            breakdown.forEach((k, v) -> laps.computeIfAbsent(k, x -> new ArrayList<>()).add(((Number) v).doubleValue()));
        }
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("budget_ms", budget);
        b.put("runs", runs.size() + failed);
        b.put("failed_runs", failed);
        b.put("over_budget_runs", over + failed);   // a run that did not switch over did not fit either
        b.put("min_ms", down.isEmpty() ? null : Stats.min(down));
        b.put("median_ms", down.isEmpty() ? null : Stats.median(down));
        b.put("p90_ms", down.isEmpty() ? null : percentile(down, 0.9));
        b.put("max_ms", down.isEmpty() ? null : Stats.max(down));
        b.put("median_suspend_get_state_ms", suspend.isEmpty() ? null : Stats.median(suspend));
        b.put("median_actual_over_predicted", ratio.isEmpty() ? null : Stats.median(ratio));
        b.put("min_actual_over_predicted", ratio.isEmpty() ? null : Stats.min(ratio));
        b.put("max_actual_over_predicted", ratio.isEmpty() ? null : Stats.max(ratio));
        Map<String, Object> lapMedians = new LinkedHashMap<>();
        laps.forEach((k, v) -> lapMedians.put(k, Stats.median(v)));
        b.put("median_breakdown_ms", lapMedians);
        b.put("downtimes_ms", new ArrayList<Object>(down));
        b.put("actual_over_predicted", new ArrayList<Object>(ratio));
        return b;
    }

    /** Nearest-rank percentile. */
    static double percentile(List<Double> xs, double p) {
        List<Double> s = xs.stream().sorted().toList();
        return s.get(Math.max(0, (int) Math.ceil(p * s.size()) - 1));
    }
}
