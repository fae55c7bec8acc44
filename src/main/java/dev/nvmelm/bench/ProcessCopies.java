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
 * What a user gets: whole processes started fresh for every run, each measured by GNU time
 * (wall, user + system CPU, peak RSS) plus an fsync of the destination done here, so every row
 * is timed until the copy is durable. {@code nvme-lm migrate} is started the way a user starts
 * it (the launcher, with its start-up cache), beside {@code nbdcopy --flush}, cp and qemu-img
 * convert on the same files; runs alternate, medians are reported and every row keeps its
 * command line.
 */
public final class ProcessCopies {
    public static final Tools.Peer GNU_TIME = new Tools.Peer("time", "time", List.of("--version"));

    /** One tool as a command line; {@code {SRC}} and {@code {DST}} are replaced per run. */
    public record Tool(String name, List<String> argv) {
        List<String> argv(Path src, Path dst) {
            return argv.stream().map(a -> a.replace("{SRC}", src.toString()).replace("{DST}", dst.toString())).toList();
        }
    }

    /** One run of one tool. */
    record Sample(double wallSeconds, double cpuSeconds, long peakRssKib) {}

    private ProcessCopies() {}

    /** The tools, with nvme-lm started through {@code launcher} (a command prefix). */
    public static List<Tool> tools(List<String> launcher) {
        List<Tool> t = new ArrayList<>();
        t.add(new Tool("nvme-lm migrate --verify none", concat(launcher, "migrate", "--source-image", "{SRC}", "--dest-image", "{DST}", "--verify", "none")));
        t.add(new Tool("nvme-lm migrate --verify full", concat(launcher, "migrate", "--source-image", "{SRC}", "--dest-image", "{DST}", "--verify", "full")));
        t.add(new Tool("nbdcopy --flush", List.of("nbdcopy", "--flush", "{SRC}", "{DST}")));
        t.add(new Tool("cp", List.of("cp", "--sparse=auto", "{SRC}", "{DST}")));
        t.add(new Tool("qemu-img convert", List.of("qemu-img", "convert", "-f", "raw", "-O", "raw", "{SRC}", "{DST}")));
        return t;
    }

    /**
     * How to start nvme-lm as a user does: the launcher next to the jar this class came from
     * (it keeps the AOT cache fresh), else {@code java -jar} of this jar, else (classes, as in
     * the tests) java with this class path and {@code main}.
     */
    public static List<String> launcher(Class<?> main) {
        try {
            Path jar = Path.of(ProcessCopies.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path script = jar.getParent() == null || jar.getParent().getParent() == null ? null : jar.getParent().getParent().resolve("nvme-lm");
            if (script != null && Files.isExecutable(script) && jar.toString().endsWith(".jar")) return List.of(script.toString());
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            if (jar.toString().endsWith(".jar")) return List.of(java, "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-jar", jar.toString());
            return List.of(java, "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), main.getName());
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException("cannot locate nvme-lm's jar: " + e.getMessage());
        }
    }

    /** Alternating runs of every tool on {@code src}; the rows of one image. */
    static List<Object> measure(String kind, Path src, Path workDir, int runs, List<Tool> tools, PrintWriter log) throws IOException {
        Tools.require(GNU_TIME);
        Map<String, List<Sample>> samples = new LinkedHashMap<>();
        for (Tool t : tools) samples.put(t.name(), new ArrayList<>());
        Path dst = workDir.resolve("process-dst.img"), timing = workDir.resolve("time.txt");
        for (int run = 0; run < runs; run++) {
            for (Tool t : tools) {
                clean(dst);
                CopyScenario.warm(src);
                List<String> cmd = new ArrayList<>(List.of(Tools.which("time").toString(), "-f", "%e %U %S %M", "-o", timing.toString()));
                cmd.addAll(t.argv(src, dst));
                Tools.runOk(cmd, Duration.ofMinutes(30));
                double sync = CopyScenario.fsync(dst);
                if (Files.mismatch(src, dst) != -1L) throw new IOException(t.name() + " produced a copy that differs from " + src);
                String[] f = Files.readString(timing).strip().lines().reduce((a, b) -> b).orElse("").split(" ");
                Sample s = new Sample(Double.parseDouble(f[0]) + sync, Double.parseDouble(f[1]) + Double.parseDouble(f[2]), Long.parseLong(f[3]));
                samples.get(t.name()).add(s);
                log.printf("  %-6s run %d/%d  %-32s %7.3f s wall, %6.2f CPU-s, %6.0f MiB peak RSS%n", kind, run + 1, runs, t.name(),
                        s.wallSeconds(), s.cpuSeconds(), s.peakRssKib() / 1024.0);
                log.flush();
            }
        }
        clean(dst);
        Files.deleteIfExists(timing);
        List<Object> rows = new ArrayList<>();
        for (Tool t : tools) {
            List<Sample> xs = samples.get(t.name());
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("tool", t.name());
            r.put("command", String.join(" ", t.argv(Path.of("SRC"), Path.of("DST"))));
            r.put("median_wall_s", Stats.median(xs.stream().map(Sample::wallSeconds).toList()));
            r.put("median_cpu_s", Stats.median(xs.stream().map(Sample::cpuSeconds).toList()));
            r.put("median_peak_rss_bytes", (long) (Stats.median(xs.stream().map(x -> (double) x.peakRssKib()).toList()) * 1024));
            r.put("wall_s", new ArrayList<Object>(xs.stream().map(Sample::wallSeconds).toList()));
            r.put("cpu_s", new ArrayList<Object>(xs.stream().map(Sample::cpuSeconds).toList()));
            rows.add(r);
        }
        return rows;
    }

    /** The destination and what a migration leaves beside it. */
    private static void clean(Path dst) throws IOException {
        Files.deleteIfExists(dst);
        Files.deleteIfExists(dst.resolveSibling(dst.getFileName() + ".incomplete"));
    }

    private static List<String> concat(List<String> head, String... tail) {
        List<String> l = new ArrayList<>(head);
        l.addAll(List.of(tail));
        return l;
    }
}
