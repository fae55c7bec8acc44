package dev.nvmelm.bench;

import java.util.List;
import java.util.Map;

/**
 * Tables of what a user gets, for {@link BenchReport}: whole {@code nvme-lm migrate} processes
 * against nbdcopy --flush, cp and qemu-img convert ({@code bench copy}), and the downtime of cold
 * CLI migrations against their budget ({@code bench migrate}). Every row names its command and
 * every goal says met or NOT met.
 */
public final class ProcessReport {
    private ProcessReport() {}

    /** The goals of issue 17 for the whole process, as ratios to nbdcopy --flush. */
    static final double WALL_GOAL = 1.1, CPU_GOAL = 1.5, WALL_GOAL_VERIFIED = 1.6;

    @SuppressWarnings("unchecked")
    static String copyTable(Map<String, Object> result) {
        if (!(result.get("processes") instanceof List<?> images)) return "";
        long size = ((Number) result.get("size_bytes")).longValue();
        StringBuilder sb = new StringBuilder();
        for (Object o : images) {
            Map<String, Object> img = (Map<String, Object>) o;
            List<Object> rows = (List<Object>) img.get("results");
            Map<String, Object> ref = row(rows, "nbdcopy --flush");
            double refWall = num(ref, "median_wall_s"), refCpu = num(ref, "median_cpu_s");
            sb.append(String.format("%nwhole processes, %s image, %s (%s of data), a new process per run, median of %s runs%n", img.get("image"),
                    mib(size), mib(((Number) img.get("data_bytes")).longValue()), result.get("runs")));
            sb.append(String.format("| %-30s | %8s | %8s | %8s | %8s | %9s | %s%n", "tool", "wall s", "x nbdcopy", "CPU s", "x nbdcopy", "peak RSS", "command"));
            sb.append("|").append("-".repeat(32)).append("|").append("-".repeat(10)).append("|").append("-".repeat(11)).append("|")
                    .append("-".repeat(10)).append("|").append("-".repeat(11)).append("|").append("-".repeat(11)).append("|-----\n");
            for (Object r : rows) {
                Map<String, Object> row = (Map<String, Object>) r;
                double w = num(row, "median_wall_s"), c = num(row, "median_cpu_s");
                sb.append(String.format("| %-30s | %8.3f | %8.2fx | %8.2f | %8.2fx | %9s | %s%n", row.get("tool"), w, w / refWall, c, c / refCpu,
                        mib(((Number) row.get("median_peak_rss_bytes")).longValue()), row.get("command")));
            }
            Map<String, Object> none = row(rows, "nvme-lm migrate --verify none"), full = row(rows, "nvme-lm migrate --verify full");
            if (none != null) {
                double w = num(none, "median_wall_s") / refWall, c = num(none, "median_cpu_s") / refCpu;
                sb.append(String.format("goal: nvme-lm migrate --verify none <= %.1fx nbdcopy --flush wall: %.2fx %s; <= %.1fx its CPU: %.2fx %s%n",
                        WALL_GOAL, w, met(w <= WALL_GOAL), CPU_GOAL, c, met(c <= CPU_GOAL)));
            }
            if (full != null) {
                double w = num(full, "median_wall_s") / refWall;
                sb.append(String.format("goal: nvme-lm migrate --verify full <= %.1fx nbdcopy --flush wall: %.2fx %s%n", WALL_GOAL_VERIFIED, w,
                        met(w <= WALL_GOAL_VERIFIED)));
            }
        }
        return sb.toString();
    }

    /** Cold CLI migrations per budget: the downtime distribution, runs over budget, prediction error. */
    @SuppressWarnings("unchecked")
    public static String coldStopTable(Map<String, Object> cold) {
        StringBuilder sb = new StringBuilder(String.format("%ncold CLI migrations (a new process per run): %s, guest %s, %s runs per budget%n",
                cold.get("image"), cold.get("workload"), cold.get("runs")));
        sb.append("command: ").append(cold.get("command")).append("\n");
        sb.append(String.format("| %9s | %6s | %8s | %6s | %6s | %12s | %20s | %24s |%n", "budget ms", "min ms", "median ms", "p90 ms", "max ms",
                "over budget", "suspend+get state med", "actual / predicted med (range)"));
        sb.append("|-----------|--------|-----------|--------|--------|--------------|-----------------------|--------------------------------|\n");
        for (Object o : (List<Object>) cold.get("budgets")) {
            Map<String, Object> b = (Map<String, Object>) o;
            sb.append(String.format("| %9s | %6.1f | %9.1f | %6.1f | %6.1f | %5s of %-4s | %21.2f | %8.2f (%.2f-%.2f) |%n", b.get("budget_ms"),
                    num(b, "min_ms"), num(b, "median_ms"), num(b, "p90_ms"), num(b, "max_ms"), b.get("over_budget_runs"), b.get("runs"),
                    num(b, "median_suspend_get_state_ms"), num(b, "median_actual_over_predicted"), num(b, "min_actual_over_predicted"),
                    num(b, "max_actual_over_predicted")));
        }
        for (Object o : (List<Object>) cold.get("budgets")) {
            Map<String, Object> b = (Map<String, Object>) o;
            if (b.get("median_breakdown_ms") instanceof Map<?, ?> laps && !laps.isEmpty()) {
                StringBuilder l = new StringBuilder();
                laps.forEach((k, v) -> l.append(l.isEmpty() ? "" : ", ").append(k).append(' ').append(String.format("%.2f", ((Number) v).doubleValue())));
                sb.append(String.format("median laps at %s ms (ms): %s%n", b.get("budget_ms"), l));
            }
        }
        for (Object o : (List<Object>) cold.get("budgets")) {
            Map<String, Object> b = (Map<String, Object>) o;
            long over = ((Number) b.get("over_budget_runs")).longValue();
            double med = num(b, "median_ms"), lo = num(b, "min_actual_over_predicted"), hi = num(b, "max_actual_over_predicted");
            sb.append(String.format("goal at %s ms: no run over budget: %d over %s; median <= 10 ms: %.1f ms %s; actual within 2x of predicted: %.2f-%.2f %s%n",
                    b.get("budget_ms"), over, met(over == 0), med, met(med <= 10), lo, hi, met(lo >= 0.5 && hi <= 2)));
        }
        return sb.toString();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> row(List<Object> rows, String tool) {
        for (Object r : rows) if (tool.equals(((Map<String, Object>) r).get("tool"))) return (Map<String, Object>) r;
        return null;
    }

    private static double num(Map<String, Object> m, String key) {
        return m == null || !(m.get(key) instanceof Number n) ? Double.NaN : n.doubleValue();
    }

    private static String met(boolean ok) {
        return ok ? "(met)" : "(NOT met)";
    }

    private static String mib(long bytes) {
        return bytes >= 1L << 30 ? String.format("%.2f GiB", bytes / 1073741824.0) : String.format("%.1f MiB", bytes / 1048576.0);
    }
}
