package dev.nvmelm.bench;

import dev.nvmelm.util.Json;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code nvme-lm bench cdq}: the CDQ consumer's JMH benchmarks (src/test/java/dev/nvmelm/jmh),
 * run as a subprocess and turned into a bench result: {@code CdqConsumerBench} (entries/s on one
 * thread per workload, wall clock and per CPU second of the consuming thread) and
 * {@code DirtyExtentsMemoryBench} (memory of the dirty extents of a 1 TiB namespace after N
 * random 4 KiB writes: estimate, retained heap measured around full GCs, peak while adding).
 * Goals: >= 20 M entries/s on one core; <= 32 MiB per TiB.
 *
 * <p>The runner is the JVM's own classpath when it holds JMH and the benchmarks (the test suite),
 * otherwise {@code scripts/jmh.sh} of the source tree this jar was built from (Maven compiles the
 * benchmarks first).
 */
public final class CdqScenario {
    public static final double GOAL_ENTRIES_PER_S = 20e6, GOAL_MIB_PER_TIB = 32;

    /** JMH arguments of the two runs (without -rf/-rff). */
    public record Settings(List<String> consumerArgs, List<String> memoryArgs) {
        public static Settings defaults() {
            return new Settings(List.of("CdqConsumerBench", "-f", "1", "-wi", "3", "-w", "2s", "-i", "5", "-r", "2s"),
                    List.of("DirtyExtentsMemoryBench", "-wi", "1", "-i", "1"));
        }

        /** One short iteration of two workloads and the smallest write count: checks that the harness works, measures nothing. */
        public static Settings quick() {
            return new Settings(List.of("CdqConsumerBench", "-f", "1", "-wi", "0", "-i", "1", "-r", "200ms", "-p", "workload=random,sequential"),
                    List.of("DirtyExtentsMemoryBench", "-wi", "0", "-i", "1", "-p", "entries=100000"));
        }
    }

    private final Path workDir;
    private final Settings s;
    private final PrintWriter log;

    public CdqScenario(Path workDir, Settings settings, PrintWriter log) {
        this.workDir = workDir;
        this.s = settings;
        this.log = log;
    }

    public Map<String, Object> run() throws Exception {
        List<String> runner = runner();
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("scenario", "cdq");
        result.put("machine", Machine.probe(List.of()).toJson());
        result.put("runner", runner.getLast());
        result.put("jmh_consumer_args", String.join(" ", s.consumerArgs()));
        result.put("jmh_memory_args", String.join(" ", s.memoryArgs()));
        result.put("goal_entries_per_s", GOAL_ENTRIES_PER_S);
        result.put("goal_mib_per_tib", GOAL_MIB_PER_TIB);
        List<Object> consumer = jmh(runner, s.consumerArgs(), "consumer"), memory = jmh(runner, s.memoryArgs(), "memory");
        if (!consumer.isEmpty() && consumer.getFirst() instanceof Map<?, ?> first) {
            result.put("jmh_version", first.get("jmhVersion"));
            result.put("benchmark_jvm", first.get("vmName") + " " + first.get("vmVersion"));
        }
        result.put("consumer", consumer(consumer));
        result.put("memory", memory(memory));
        return result;
    }

    /** The command that runs org.openjdk.jmh.Main. */
    static List<String> runner() {
        try {
            Class.forName("org.openjdk.jmh.Main");
            if (CdqScenario.class.getClassLoader().getResource("META-INF/BenchmarkList") != null) {
                String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
                return List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), "org.openjdk.jmh.Main");
            }
        } catch (ClassNotFoundException e) {
            // not on this classpath: the source tree's script builds and runs them
        }
        Path script = sourceTree().resolve("scripts/jmh.sh");
        if (!Files.isExecutable(script)) {
            throw new IllegalStateException("bench cdq runs the JMH benchmarks from the source tree, and " + script + " is missing;"
                    + " run it from a clone of nvme-lm");
        }
        Tools.require(Tools.MVN);
        return List.of(script.toString());
    }

    /** The checkout this code was loaded from: target/nvme-lm.jar or target/classes lie two levels below it. */
    private static Path sourceTree() {
        try {
            Path p = Path.of(CdqScenario.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return p.getParent().getParent();
        } catch (Exception e) {
            return Path.of(".").toAbsolutePath();
        }
    }

    @SuppressWarnings("unchecked")
    private List<Object> jmh(List<String> runner, List<String> args, String name) throws IOException, InterruptedException {
        Path out = workDir.resolve("jmh-" + name + ".json"), text = workDir.resolve("jmh-" + name + ".log");
        List<String> cmd = new ArrayList<>(runner);
        cmd.addAll(args);
        cmd.addAll(List.of("-rf", "json", "-rff", out.toString()));
        log.printf("bench cdq: %s%n", String.join(" ", cmd.subList(runner.size() - 1, cmd.size())));
        log.flush();
        Process p = new ProcessBuilder(cmd).directory(sourceTreeOrWork().toFile()).redirectErrorStream(true).redirectOutput(text.toFile()).start();
        try {
            if (!p.waitFor(60, TimeUnit.MINUTES)) throw new IOException("JMH did not finish in 60 minutes");
        } finally {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        if (p.exitValue() != 0 || !Files.exists(out)) {
            List<String> lines = Files.readAllLines(text);
            throw new IOException("JMH " + args.getFirst() + " failed (exit " + p.exitValue() + "): "
                    + String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size())));
        }
        return (List<Object>) Json.parse(Files.readString(out));
    }

    private static Path sourceTreeOrWork() {
        Path t = sourceTree();
        return Files.isDirectory(t) ? t : Path.of(".").toAbsolutePath();
    }

    /** Per workload: entries/s (the score, with its error), and entries per CPU second of the consuming thread. */
    @SuppressWarnings("unchecked")
    static List<Object> consumer(List<Object> jmh) {
        List<Object> rows = new ArrayList<>();
        for (Object o : jmh) {
            Map<String, Object> b = (Map<String, Object>) o;
            Map<String, Object> pm = (Map<String, Object>) b.get("primaryMetric");
            Map<String, Object> sec = (Map<String, Object>) b.getOrDefault("secondaryMetrics", Map.of());
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("workload", ((Map<String, Object>) b.get("params")).get("workload"));
            double score = num(pm.get("score"));
            row.put("entries_per_s", Math.round(score));
            row.put("entries_per_s_error", Double.isFinite(num(pm.get("scoreError"))) ? Math.round(num(pm.get("scoreError"))) : null);
            double cpu = metric(sec, "cpuNanos"), entries = metric(sec, "entries");
            row.put("entries_per_cpu_s", cpu > 0 ? Math.round(entries / cpu * 1e9) : null);
            row.put("goal_met", score >= GOAL_ENTRIES_PER_S);
            rows.add(row);
        }
        return rows;
    }

    /** Per write count: the estimate, the measured retained heap and the peak, in MiB per TiB (the namespace is 1 TiB). */
    @SuppressWarnings("unchecked")
    static List<Object> memory(List<Object> jmh) {
        List<Object> rows = new ArrayList<>();
        for (Object o : jmh) {
            Map<String, Object> b = (Map<String, Object>) o;
            Map<String, Object> sec = (Map<String, Object>) b.getOrDefault("secondaryMetrics", Map.of());
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("writes", Long.parseLong(String.valueOf(((Map<String, Object>) b.get("params")).get("entries"))));
            double est = metric(sec, "estimateBytes"), heap = metric(sec, "heapRetainedBytes"), peak = metric(sec, "peakEstimateBytes");
            row.put("mode", metric(sec, "bitmapMode") > 0 ? "bitmap" : "exact");
            row.put("extents", Math.round(metric(sec, "extents")));
            row.put("estimate_mib_per_tib", round2(est / (1 << 20)));
            row.put("retained_heap_mib_per_tib", round2(heap / (1 << 20)));
            row.put("peak_estimate_mib_per_tib", round2(peak / (1 << 20)));
            row.put("goal_met", Math.max(est, Math.max(heap, peak)) / (1 << 20) <= GOAL_MIB_PER_TIB);
            rows.add(row);
        }
        return rows;
    }

    @SuppressWarnings("unchecked")
    private static double metric(Map<String, Object> sec, String name) {
        Object m = sec.get(name);
        return m instanceof Map<?, ?> mm ? num(((Map<String, Object>) mm).get("score")) : Double.NaN;
    }

    private static double num(Object o) {
        return o instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    private static double round2(double v) {
        return Double.isFinite(v) ? Math.round(v * 100) / 100.0 : -1;
    }
}
