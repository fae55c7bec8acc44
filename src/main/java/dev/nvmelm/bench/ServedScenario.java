package dev.nvmelm.bench;


import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code nvme-lm bench served}: the dirty passes and the stop of a served controller as a user
 * runs them (issue 14). Per run, each a new set of processes: {@code nvme-lm device serve --nbd}
 * in its own process over a namespace of random data, fio writing random 4 KiB blocks at a
 * fixed rate through MC 1's NBD export (the guest), and {@code nvme-lm migrate --source
 * sim:D/ctl.sock#1 --dest sim:D/ctl.sock#2 -o json} as a new process. Reports what the dirty
 * passes' copies moved per second (bytes and ranges, time inside the copier), the passes, the
 * downtime with its breakdown, and the guest's slowest write.
 */
public final class ServedScenario {
    static final List<Tools.Peer> PEERS = List.of(Tools.FIO);

    public record Settings(long sizeBytes, List<Integer> iopsLevels, int runs, long maxDowntimeMs, long warmupMs, String verify) {
        public Settings {
            if (sizeBytes < 1 << 20 || sizeBytes % 4096 != 0) throw new IllegalArgumentException("--size must be at least 1M and a multiple of 4096");
            if (iopsLevels.isEmpty() || iopsLevels.stream().anyMatch(i -> i < 1)) throw new IllegalArgumentException("--iops: one or more rates >= 1");
            if (runs < 1 || maxDowntimeMs < 1 || warmupMs < 0) throw new IllegalArgumentException("--runs and --max-downtime must be positive");
        }

        public static Settings defaults() {
            return new Settings(64L << 20, List.of(200, 450, 2000), 3, 50, 2000, "full");
        }

        /**
         * Small and short: checks that the harness works, measures nothing. Its budget is 500 ms
         * (as demo --vm's): at 50 ms a loaded machine's slow round trips abort the one run "not
         * converging", which says nothing about the harness.
         */
        public static Settings quick() {
            return new Settings(8L << 20, List.of(200), 1, 500, 500, "full");
        }
    }

    private final Path workDir;
    private final Settings s;
    private final List<String> launcher;
    private final PrintWriter log;

    /** @param launcher how to start nvme-lm ({@link ProcessCopies#launcher}) */
    public ServedScenario(Path workDir, Settings settings, List<String> launcher, PrintWriter log) {
        this.workDir = workDir;
        this.s = settings;
        this.launcher = launcher;
        this.log = log;
    }

    public Map<String, Object> run() throws Exception {
        for (Tools.Peer p : PEERS) Tools.require(p);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("scenario", "served");
        result.put("machine", Machine.probe(PEERS).toJson());
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("size_bytes", s.sizeBytes());
        settings.put("iops_levels", new ArrayList<Object>(s.iopsLevels()));
        settings.put("runs", s.runs());
        settings.put("max_downtime_ms", s.maxDowntimeMs());
        settings.put("guest_warmup_ms", s.warmupMs());
        settings.put("guest", "fio --ioengine=nbd --rw=randwrite --bs=4k --iodepth=4 --rate_iops=IOPS through device serve --nbd (MC 1's export c1n1)");
        settings.put("serve_command", String.join(" ", launcher) + " device serve --dir D --ns-size SIZE --migratable 2 --nbd unix:D/nbd.sock");
        settings.put("migrate_command", String.join(" ", launcher) + " migrate --source sim:D/ctl.sock#1 --dest sim:D/ctl.sock#2 --verify " + s.verify()
                + " --max-downtime " + s.maxDowntimeMs() + " -o json");
        result.put("settings", settings);
        List<Object> levels = new ArrayList<>();
        for (int iops : s.iopsLevels()) {
            List<Map<String, Object>> runs = new ArrayList<>();
            for (int run = 0; run < s.runs(); run++) runs.add(once(iops, run));
            levels.add(summary(iops, runs));
        }
        result.put("levels", levels);
        return result;
    }

    /** One run: a fresh server, guest and migrate process. */
    private Map<String, Object> once(int iops, int run) throws IOException, InterruptedException {
        Path d = Files.createDirectories(workDir.resolve("served-" + iops + "-" + run));
        Map<String, Object> m = new LinkedHashMap<>();
        Process server = null;
        try {
            Images.dense(d.resolve("c1n1.img"), s.sizeBytes(), 31L * iops + run);
            List<String> serve = new ArrayList<>(launcher);
            serve.addAll(List.of("device", "serve", "--dir", d.toString(), "--ns-size", Long.toString(s.sizeBytes()), "--migratable", "2",
                    "--nbd", "unix:" + d.resolve("nbd.sock")));
            server = new ProcessBuilder(serve).redirectErrorStream(true).redirectOutput(d.resolve("serve.log").toFile()).start();
            awaitSocket(server, d.resolve("nbd.sock"), d.resolve("serve.log"));
            try (FioWriter fio = new FioWriter("nbd+unix:///c1n1?socket=" + d.resolve("nbd.sock"), s.sizeBytes(), iops, 4,
                    d.resolve("fio.json"), null, 0)) {
                Thread.sleep(s.warmupMs());
                if (!fio.alive()) throw new IOException("fio exited early; see " + d.resolve("fio.json"));
                List<String> cmd = new ArrayList<>(launcher);
                cmd.addAll(List.of("migrate", "--source", "sim:" + d.resolve("ctl.sock") + "#1", "--dest", "sim:" + d.resolve("ctl.sock") + "#2",
                        "--verify", s.verify(), "--max-downtime", Long.toString(s.maxDowntimeMs()), "-o", "json"));
                Tools.Result r = Tools.run(cmd, Duration.ofMinutes(5));
                m.put("guest_write_iops", Math.round(fio.stopAndReportIops()));
                m.put("guest_max_write_latency_ms", LiveScenario.round3(fio.maxWriteLatencyMs()));
                m.put("exit", r.exit());
                Map<String, Object> j = r.exit() == 0 ? CliOutput.report(r.output()) : null;
                if (j == null) {
                    m.put("converged", false);
                    m.put("error", CliOutput.lastLine(r.output()));
                } else {
                    m.put("converged", true);
                    for (String k : List.of("verified", "verdict", "passes", "dirty_pass_ranges", "dirty_pass_copy_ms", "dirty_pass_copy_bytes_per_s",
                            "dirty_pass_ranges_per_s", "dirty_pass_copies", "bytes_dirty_copied", "cdq_entries", "downtime_ms", "downtime_breakdown_ms", "total_ms")) {
                        if (j.containsKey(k)) m.put(k, j.get(k));
                    }
                }
            }
        } finally {
            if (server != null) {
                server.destroy();
                if (!server.waitFor(30, TimeUnit.SECONDS)) server.destroyForcibly().waitFor();
            }
            MigrateScenario.BenchFiles.deleteTree(d);
        }
        log.printf(Locale.ROOT, "  served %d IOPS run %d: %s%n", iops, run + 1, Boolean.TRUE.equals(m.get("converged"))
                ? String.format(Locale.ROOT, "downtime %s ms %s, %s passes, dirty passes %s MB/s (%s ranges/s)", m.get("downtime_ms"),
                m.get("downtime_breakdown_ms"), m.get("passes"), mb(m.get("dirty_pass_copy_bytes_per_s")), m.get("dirty_pass_ranges_per_s"))
                : "not switched over: " + m.get("error"));
        log.flush();
        return m;
    }

    private static String mb(Object bytesPerSecond) {
        return bytesPerSecond instanceof Number n ? String.format(Locale.ROOT, "%.1f", n.doubleValue() / 1e6) : "-";
    }

    private static void awaitSocket(Process server, Path socket, Path logFile) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(socket)) {
            if (!server.isAlive()) throw new IOException("device serve exited " + server.exitValue() + ": " + Files.readString(logFile).strip());
            if (System.nanoTime() > deadline) throw new IOException("device serve did not listen on " + socket + " within 60 s");
            Thread.sleep(20);   // a bench polling for another process's socket, not a test's synchronisation
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> summary(int iops, List<Map<String, Object>> runs) {
        List<Double> down = new ArrayList<>(), rate = new ArrayList<>(), rangesPerS = new ArrayList<>(), passes = new ArrayList<>(),
                latency = new ArrayList<>(), biggest = new ArrayList<>();
        Map<String, List<Double>> laps = new LinkedHashMap<>();
        int converged = 0;
        for (Map<String, Object> m : runs) {
            if (m.get("guest_max_write_latency_ms") instanceof Number n) latency.add(n.doubleValue());
            if (!Boolean.TRUE.equals(m.get("converged"))) continue;
            converged++;
            down.add(((Number) m.get("downtime_ms")).doubleValue());
            if (m.get("dirty_pass_copy_bytes_per_s") instanceof Number n && n.doubleValue() > 0) rate.add(n.doubleValue() / 1e6);
            if (m.get("dirty_pass_ranges_per_s") instanceof Number n && n.doubleValue() > 0) rangesPerS.add(n.doubleValue());
            passes.add(((Number) m.get("passes")).doubleValue());
            double best = 0;   // the pass with the most ranges: the copy's rate with a backlog to work on
            long most = -1;
            for (Object o : (List<Object>) m.getOrDefault("dirty_pass_copies", List.of())) {
                List<Object> p = (List<Object>) o;
                long ranges = ((Number) p.get(0)).longValue();
                double ms = ((Number) p.get(2)).doubleValue();
                if (ranges > most && ms > 0) {
                    most = ranges;
                    best = ((Number) p.get(1)).doubleValue() / ms / 1e3;
                }
            }
            if (most > 0) biggest.add(best);
            ((Map<String, Object>) m.get("downtime_breakdown_ms")).forEach((k, v) -> laps.computeIfAbsent(k, x -> new ArrayList<>()).add(((Number) v).doubleValue()));
        }
        Map<String, Object> l = new LinkedHashMap<>();
        l.put("iops", iops);
        l.put("runs", runs.size());
        l.put("converged_runs", converged);
        l.put("median_downtime_ms", median(down));
        l.put("max_downtime_ms", down.isEmpty() ? null : Stats.max(down));
        Map<String, Object> lapMedians = new LinkedHashMap<>();
        laps.forEach((k, v) -> lapMedians.put(k, Stats.median(v)));
        l.put("median_breakdown_ms", lapMedians);
        l.put("median_dirty_pass_mb_per_s", median(rate));
        l.put("median_largest_pass_mb_per_s", median(biggest));
        l.put("median_dirty_pass_ranges_per_s", median(rangesPerS));
        l.put("median_passes", median(passes));
        l.put("median_guest_max_write_latency_ms", median(latency));
        l.put("each", new ArrayList<Object>(runs));
        return l;
    }

    private static Double median(List<Double> xs) {
        return xs.isEmpty() ? null : Math.round(Stats.median(xs) * 100) / 100.0;
    }

    @SuppressWarnings("unchecked")
    public static String table(Map<String, Object> r) {
        StringBuilder b = new StringBuilder();
        Map<String, Object> settings = (Map<String, Object>) r.get("settings");
        b.append(String.format(Locale.ROOT, "served controller, %d MiB of random data, %s%n", ((Number) settings.get("size_bytes")).longValue() >> 20, settings.get("migrate_command")));
        b.append(String.format(Locale.ROOT, "| %-6s | %-9s | %-13s | %-13s | %-12s | %-8s | %-11s | %-14s | %s%n", "IOPS", "converged", "dirty MB/s",
                "largest pass", "ranges/s", "passes", "downtime ms", "guest max ms", "median breakdown ms"));
        b.append("|--------|-----------|---------------|---------------|--------------|----------|-------------|----------------|-----\n");
        for (Object o : (List<Object>) r.get("levels")) {
            Map<String, Object> l = (Map<String, Object>) o;
            b.append(String.format(Locale.ROOT, "| %-6s | %-9s | %-13s | %-13s | %-12s | %-8s | %-11s | %-14s | %s%n", l.get("iops"),
                    l.get("converged_runs") + "/" + l.get("runs"), l.get("median_dirty_pass_mb_per_s"), l.get("median_largest_pass_mb_per_s"),
                    l.get("median_dirty_pass_ranges_per_s"), l.get("median_passes"), l.get("median_downtime_ms") + " (max " + l.get("max_downtime_ms") + ")",
                    l.get("median_guest_max_write_latency_ms"), l.get("median_breakdown_ms")));
        }
        b.append("goal: dirty passes >= 50 MB/s with the guest running; downtime median < 50 ms at 200 IOPS\n");
        return b.toString();
    }
}
