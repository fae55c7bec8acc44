package dev.nvmelm.cli;

import dev.nvmelm.bench.BenchReport;
import dev.nvmelm.bench.CopyScenario;
import dev.nvmelm.bench.CdqScenario;
import dev.nvmelm.bench.SparseScenario;
import dev.nvmelm.bench.LiveScenario;
import dev.nvmelm.bench.OurContenders;
import dev.nvmelm.bench.MigrateScenario;
import dev.nvmelm.bench.NbdScenario;
import dev.nvmelm.bench.NetScenario;
import dev.nvmelm.migrate.MediaMigration;
import dev.nvmelm.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks side by side with the tools users would otherwise pick; results go to bench/results/",
        subcommands = {BenchCommand.Copy.class, BenchCommand.Migrate.class, BenchCommand.Live.class, BenchCommand.Served.class, BenchCommand.Sparse.class, BenchCommand.Cdq.class,
                BenchCommand.Nbd.class, BenchCommand.Net.class, BenchCommand.Vm.class, BenchCommand.All.class, BenchCommand.Report.class})
final class BenchCommand {

    /** Options every scenario shares. */
    static final class Common {
        @Option(names = "--size", converter = Numbers.Size.class, defaultValue = "1G", description = "Image size (default: ${DEFAULT-VALUE})")
        long sizeBytes;

        @Option(names = "--runs", defaultValue = "5", description = "Runs per tool, interleaved (default: ${DEFAULT-VALUE})")
        int runs;

        @Option(names = "--quick", description = "Small sizes and one run: checks that the harness works, measures nothing")
        boolean quick;

        @Mixin
        Place place;

        /** One measurement in a work directory: returns the JSON result. */
        interface Scenario {
            Map<String, Object> run(Path dir, long sizeBytes, int runs) throws Exception;
        }

        /** Runs a scenario (small and once with --quick) in --work-dir or a temporary directory, saves and prints the result. */
        int run(CliCommand cmd, long quickSizeBytes, Scenario scenario, java.util.function.Function<Map<String, Object>, String> table) throws Exception {
            long size = quick ? quickSizeBytes : sizeBytes;
            int n = quick ? 1 : runs;
            if (n < 1) throw new CliException("--runs must be at least 1");
            if (size < 1 << 20) throw new CliException("--size must be at least 1M");
            return place.run(cmd, quick, dir -> scenario.run(dir, size, n), table);
        }
    }

    static final String RESULTS = "bench/results", REPORT = "docs/benchmarks.md";

    /** Where a scenario works (its own directory, or a temporary one deleted after) and where its result goes. */
    static final class Place {
        @Option(names = "--work-dir", paramLabel = "DIR", description = "Where to put the images and other files (default: a temporary directory)")
        Path workDir;

        @Option(names = "--results", paramLabel = "DIR",
                description = "Where to write the JSON result (default: " + RESULTS + "; a --quick run saves nothing unless given)")
        Path resultsDir;

        /**
         * Runs a measurement here, saves the result and prints it as JSON or a table. A quick
         * run measures nothing, so it writes into bench/results only when told to (issue 19
         * item 11: quick numbers overwrote the tracked results and report).
         */
        int run(CliCommand cmd, boolean quick, InDir scenario, java.util.function.Function<Map<String, Object>, String> table) throws Exception {
            Path dir = workDir != null ? Files.createDirectories(workDir) : Files.createTempDirectory("nvme-lm-bench");
            try {
                Map<String, Object> result = scenario.run(dir);
                if (quick) {
                    result = new java.util.LinkedHashMap<>(result);
                    result.put("quick", true);
                }
                Path results = resultsDir != null ? resultsDir : quick ? null : Path.of(RESULTS);
                Path saved = results == null ? null : CopyScenario.save(results, result);
                if (cmd.g.format() == OutputFormat.JSON) cmd.out().println(Json.pretty(result));
                else cmd.out().print(table.apply(result) + (saved == null ? "quick run: nothing saved (--results DIR keeps it)" : "wrote " + saved) + "\n");
            } catch (IllegalStateException | IllegalArgumentException e) {   // a bad setting, a missing peer: one line
                throw new CliException(e.getMessage());
            } finally {
                if (workDir == null) deleteTree(dir);
            }
            return 0;
        }
    }

    /** One measurement in a work directory (its own or a temporary one): returns the JSON result. */
    interface InDir {
        Map<String, Object> run(Path dir) throws Exception;
    }


    @Command(name = "copy", mixinStandardHelpOptions = true,
            description = "Dense and sparse images copied file to file: nvme-lm vs cp, dd, qemu-img convert, nbdcopy")
    static final class Copy extends CliCommand {
        @Mixin
        Common c;

        @Option(names = "--only", paramLabel = "WHAT", defaultValue = "all",
                description = "processes (whole nvme-lm migrate processes vs nbdcopy --flush, cp, qemu-img), tools (in-process copier and peers), or all (default: ${DEFAULT-VALUE})")
        String only;

        @Override
        public Integer call() throws Exception {
            if (!List.of("all", "processes", "tools").contains(only)) throw new CliException("--only must be all, processes or tools, not '" + only + "'");
            return c.run(this, 16L << 20, (dir, size, runs) -> {
                List<CopyScenario.Contender> contenders = new java.util.ArrayList<>();
                if (!only.equals("processes")) {
                    contenders.addAll(OurContenders.all(dir));
                    contenders.addAll(CopyScenario.peers());
                }
                List<dev.nvmelm.bench.ProcessCopies.Tool> processes = only.equals("tools") ? List.of()
                        : dev.nvmelm.bench.ProcessCopies.tools(dev.nvmelm.bench.ProcessCopies.launcher(Main.class));
                return new CopyScenario(dir, size, runs, contenders, processes, spec.commandLine().getErr()).run();
            }, BenchReport::copyTable);
        }
    }

    @Command(name = "migrate", mixinStandardHelpOptions = true,
            description = {"Live migration on the embedded controller under a guest writing random 4 KiB blocks.",
                    "A: a 500 IOPS guest (bytes moved, passes, downtime and its breakdown, total time).",
                    "B: a 30k IOPS guest, or as fast as this machine drives it (convergence verdict, time to verdict).",
                    "Prints a table (or the JSON with -o json) and writes bench/results/migrate-<time>.json."})
    static final class Migrate extends CliCommand {
        @Option(names = "--size", converter = Numbers.Size.class, defaultValue = "1G", description = "Namespace size (default: ${DEFAULT-VALUE})")
        long sizeBytes;

        @Option(names = "--iops-a", defaultValue = "500", description = "Scenario A guest write IOPS (default: ${DEFAULT-VALUE})")
        int iopsA;

        @Option(names = "--iops-b", defaultValue = "30000", description = "Scenario B guest write IOPS, 0 = as fast as possible (default: ${DEFAULT-VALUE})")
        int iopsB;

        @Option(names = "--qd-b", defaultValue = "16", description = "Scenario B guest queue depth (default: ${DEFAULT-VALUE})")
        int qdB;

        @Option(names = "--rate", converter = Numbers.Size.class, defaultValue = "100M",
                description = "Copy rate cap in bytes/s, 0 = none (default: ${DEFAULT-VALUE}, the reference's mirror speed)")
        long rate;

        @Option(names = "--max-downtime", paramLabel = "MS", defaultValue = "50", description = "Downtime budget in ms (default: ${DEFAULT-VALUE})")
        long maxDowntimeMs;

        @Option(names = "--verdict-timeout", paramLabel = "SECONDS", defaultValue = "120",
                description = "Most seconds before the stall policy applies (default: ${DEFAULT-VALUE})")
        long verdictTimeout;

        @Option(names = "--on-stall-b", defaultValue = "abort", description = "Scenario B when not converging: abort|force|throttle (default: ${DEFAULT-VALUE})")
        String onStallB;

        @Option(names = "--qemu", description = "Also run QEMU's live mirror (qemu-storage-daemon + fio) with the same writers and speed cap")
        boolean qemu;

        @Option(names = "--quick", description = "8 MiB, slow writers, short: checks that the harness works, measures nothing")
        boolean quick;

        @Option(names = "--cold-runs", defaultValue = "20",
                description = "Cold CLI migrations (a new process each) per downtime budget, 50 and 20 ms; 0 = none (default: ${DEFAULT-VALUE}; 2 with --quick)")
        int coldRuns;

        @Option(names = "--cold-only", description = "Only the cold CLI migrations (the stop's downtime against its budget)")
        boolean coldOnly;

        @Mixin
        Place place;

        @Override
        public Integer call() throws Exception {
            MediaMigration.OnStall stall = switch (onStallB) {
                case "abort" -> MediaMigration.OnStall.ABORT;
                case "force" -> MediaMigration.OnStall.FORCE;
                case "throttle" -> MediaMigration.OnStall.THROTTLE;
                default -> throw new CliException("--on-stall-b must be abort, force or throttle, not '" + onStallB + "'");
            };
            if (coldRuns < 0) throw new CliException("--cold-runs must be >= 0");
            if (coldOnly && coldRuns == 0) throw new CliException("--cold-only needs --cold-runs of at least 1");
            int cold = quick ? Math.min(coldRuns, 2) : coldRuns;
            return place.run(this, quick, dir -> {
                Map<String, Object> result;
                if (coldOnly) {
                    result = new java.util.LinkedHashMap<>();
                    result.put("scenario", "migrate");
                    result.put("machine", dev.nvmelm.bench.Machine.probe(List.of()).toJson());
                } else {
                    MigrateScenario.Settings q = MigrateScenario.Settings.quick();
                    var settings = quick
                            ? new MigrateScenario.Settings(q.sizeBytes(), q.iopsA(), q.iopsB(), q.queueDepthB(), q.copyRateBytes(), maxDowntimeMs,
                            q.verdictTimeoutSeconds(), stall, qemu, q.warmupMillis())
                            : new MigrateScenario.Settings(sizeBytes, iopsA, iopsB, qdB, rate, maxDowntimeMs, verdictTimeout, stall, qemu, 1000);
                    result = new java.util.LinkedHashMap<>(new MigrateScenario(dir, settings, spec.commandLine().getErr()).run());
                }
                if (cold > 0) {
                    var cs = dev.nvmelm.bench.ColdStops.Settings.defaults(cold);
                    if (quick) cs = new dev.nvmelm.bench.ColdStops.Settings(16L << 20, cs.guestIops(), cold, cs.budgetsMs());
                    result.put("cold", dev.nvmelm.bench.ColdStops.run(dir, cs, dev.nvmelm.bench.ProcessCopies.launcher(Main.class), spec.commandLine().getErr()));
                }
                return result;
            }, r -> (r.containsKey("a") ? MigrateScenario.table(r) : "")
                    + (r.get("cold") instanceof Map<?, ?> c ? dev.nvmelm.bench.ProcessReport.coldStopTable(BenchCommand.cast(c)) : ""));
        }
    }

    @Command(name = "live", mixinStandardHelpOptions = true,
            description = {"Live migration under fio, nvme-lm beside QEMU, through the same kind of path for both.",
                    "fio uses the nbd engine, 4 KiB random writes at each --iops rate. nvme-lm: device serve --nbd in process, MC 1 -> MC 2 of the served subsystem; QEMU: qemu-storage-daemon's NBD export, blockdev-mirror.",
                    "The same copy-rate cap for both. Records bytes moved, total time, downtime, guest IOPS, the verdict and its time,",
                    "timelines of bytes remaining and guest IOPS, and checks the destination equals the source (fio stopped)."})
    static final class Live extends CliCommand {
        @Option(names = "--size", converter = Numbers.Size.class, defaultValue = "1G", description = "Namespace size (default: ${DEFAULT-VALUE})")
        long sizeBytes;

        @Option(names = "--iops", split = ",", defaultValue = "500,5000,0", description = "fio write rates, 0 = as fast as possible (default: ${DEFAULT-VALUE})")
        List<Integer> iops;

        @Option(names = "--qd-unlimited", defaultValue = "16", description = "fio queue depth of the unlimited writer (default: ${DEFAULT-VALUE}; 4 for the rated ones)")
        int qd;

        @Option(names = "--max-rate", converter = Numbers.Size.class, defaultValue = "100M", description = "Copy rate cap for both tools, bytes/s (default: ${DEFAULT-VALUE})")
        long rate;

        @Option(names = "--max-downtime", paramLabel = "MS", defaultValue = "50", description = "nvme-lm's downtime budget in ms (default: ${DEFAULT-VALUE})")
        long maxDowntimeMs;

        @Option(names = "--verdict-timeout", paramLabel = "SECONDS", defaultValue = "60",
                description = "nvme-lm: most seconds before the stall policy (abort) applies (default: ${DEFAULT-VALUE})")
        long verdictTimeout;

        @Option(names = "--mirror-timeout", paramLabel = "SECONDS", defaultValue = "60",
                description = "QEMU: cancel the mirror when not READY by then (default: ${DEFAULT-VALUE})")
        double mirrorTimeout;

        @Option(names = "--quick", description = "16 MiB, 200 IOPS and unlimited, short timeouts: checks that the harness works, measures nothing")
        boolean quick;

        @Mixin
        Place place;

        @Override
        public Integer call() throws Exception {
            return place.run(this, quick, dir -> new LiveScenario(dir, quick ? LiveScenario.Settings.quick()
                    : new LiveScenario.Settings(sizeBytes, iops, qd, rate, maxDowntimeMs, verdictTimeout, mirrorTimeout, 2000, 250),
                    spec.commandLine().getErr()).run(), BenchReport::liveTable);
        }
    }

    @Command(name = "served", mixinStandardHelpOptions = true,
            description = {"The dirty passes and the stop of a served controller, measured as a user runs them.",
                    "device serve --nbd runs in its own process, fio writes random 4 KiB blocks at each --iops rate through MC 1's export,",
                    "and migrate --source sim:D#1 --dest sim:D#2 runs as a new process per run. Records the dirty passes' MB/s and",
                    "ranges/s, passes, downtime and its breakdown."})
    static final class Served extends CliCommand {
        @Option(names = "--size", converter = Numbers.Size.class, defaultValue = "64M", description = "Namespace size, random data (default: ${DEFAULT-VALUE})")
        long sizeBytes;

        @Option(names = "--iops", split = ",", defaultValue = "200,450,2000", description = "fio write rates (default: ${DEFAULT-VALUE})")
        List<Integer> iops;

        @Option(names = "--runs", defaultValue = "3", description = "Runs per rate (default: ${DEFAULT-VALUE})")
        int runs;

        @Option(names = "--max-downtime", paramLabel = "MS", defaultValue = "50", description = "Downtime budget in ms (default: ${DEFAULT-VALUE})")
        long maxDowntimeMs;

        @Option(names = "--verify", defaultValue = "full", description = "migrate's --verify (default: ${DEFAULT-VALUE})")
        String verify;

        @Option(names = "--quick", description = "8 MiB, 200 IOPS, one run: checks that the harness works, measures nothing")
        boolean quick;

        @Mixin
        Place place;

        @Override
        public Integer call() throws Exception {
            return place.run(this, quick, dir -> new dev.nvmelm.bench.ServedScenario(dir, quick ? dev.nvmelm.bench.ServedScenario.Settings.quick()
                    : new dev.nvmelm.bench.ServedScenario.Settings(sizeBytes, iops, runs, maxDowntimeMs, 2000, verify),
                    dev.nvmelm.bench.ProcessCopies.launcher(Main.class), spec.commandLine().getErr()).run(), dev.nvmelm.bench.ServedScenario::table);
        }
    }

    @Command(name = "sparse", mixinStandardHelpOptions = true,
            description = {"A 1 TiB sparse namespace migrated file to file by nvme-lm and by QEMU, beside a 1 GiB dense one.",
                    "The sparse namespace has 1 GiB of data in spread 1 MiB extents; QEMU runs blockdev-mirror (defaults, and with unmap). It records time and destination allocation, and a 1 GiB dense image the same way for the goal \"1 TiB sparse <= 2x the time of 1 GiB dense\". Checks free space first."})
    static final class Sparse extends CliCommand {
        @Option(names = "--size", converter = Numbers.Size.class, defaultValue = "1T", description = "Sparse namespace size (default: ${DEFAULT-VALUE})")
        long sizeBytes;

        @Option(names = "--allocated", converter = Numbers.Size.class, defaultValue = "1G", description = "Data in it, and the dense image's size (default: ${DEFAULT-VALUE})")
        long allocated;

        @Option(names = "--mirror-timeout", paramLabel = "SECONDS", defaultValue = "900", description = "Cancel a mirror job after this long (default: ${DEFAULT-VALUE})")
        double timeout;

        @Option(names = "--quick", description = "1 GiB with 8 MiB of data: checks that the harness works, measures nothing")
        boolean quick;

        @Mixin
        Place place;

        @Override
        public Integer call() throws Exception {
            return place.run(this, quick, dir -> new SparseScenario(dir, quick ? SparseScenario.Settings.quick()
                    : new SparseScenario.Settings(sizeBytes, allocated, timeout, 8), spec.commandLine().getErr()).run(), BenchReport::sparseTable);
        }
    }

    @Command(name = "cdq", mixinStandardHelpOptions = true,
            description = {"The CDQ consumer's JMH benchmarks (CdqConsumerBench, DirtyExtentsMemoryBench) as a bench result.",
                    "It records entries/s per workload on one thread, and MiB per TiB of dirty extents at each write count, with their goals."})
    static final class Cdq extends CliCommand {
        @Option(names = "--quick", description = "One short iteration of two workloads, the smallest write count: checks that the harness works, measures nothing")
        boolean quick;

        @Mixin
        Place place;

        @Override
        public Integer call() throws Exception {
            CdqScenario.Settings settings = quick ? CdqScenario.Settings.quick() : CdqScenario.Settings.defaults();
            return place.run(this, quick, dir -> new CdqScenario(dir, settings, spec.commandLine().getErr()).run(), BenchReport::cdqTable);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> cast(Map<?, ?> m) {
        return (Map<String, Object>) m;
    }

    static void deleteTree(Path dir) throws java.io.IOException {
        if (!Files.exists(dir)) return;
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    @Command(name = "nbd", mixinStandardHelpOptions = true,
            description = "fio random 4 KiB writes through device serve --nbd, our NBD server on a file, and qemu-nbd on the same file")
    static final class Nbd extends CliCommand {
        @Mixin
        Common c;

        @Option(names = "--seconds", defaultValue = "10", description = "fio run time per target and run (default: ${DEFAULT-VALUE})")
        int seconds;

        @Option(names = "--iodepth", defaultValue = "16", description = "fio queue depth (default: ${DEFAULT-VALUE})")
        int iodepth;

        @Override
        public Integer call() throws Exception {
            if (seconds < 1 || iodepth < 1) throw new CliException("--seconds and --iodepth must be at least 1");
            return c.run(this, 16L << 20, (dir, size, runs) ->
                    new NbdScenario(dir, size, runs, c.quick ? 1 : seconds, iodepth, spec.commandLine().getErr()).run(), BenchReport::nbdTable);
        }
    }

    @Command(name = "net", aliases = "tls", mixinStandardHelpOptions = true,
            description = "The agents' data path over loopback: TLS 1.3 with mutual authentication versus plaintext (also named tls)")
    static final class Net extends CliCommand {
        @Mixin
        Common c;

        @Override
        public Integer call() throws Exception {
            return c.run(this, 32L << 20, (dir, size, runs) ->
                    new NetScenario(dir, size / (1 << 20) * (1 << 20), runs, spec.commandLine().getErr()).run(), BenchReport::netTable);
        }
    }

    @Command(name = "vm", mixinStandardHelpOptions = true,
            description = {"A real guest (QEMU, TCG) writing verifiable 4 KiB blocks, migrated live with its RAM at each --iops rate.",
                    "It moves the libvirt way between two hosts (network namespaces; blockdev-mirror background and write-blocking to",
                    "the destination QEMU's NBD export, pause-before-switchover) and by nvme-lm migrate --to --vm-qmp (device serve on",
                    "host A to the serve --nbd agent on host B, TLS). Total time, bytes, VM downtime, guest latency and IOPS, the guest's own verify."})
    static final class Vm extends CliCommand {
        @Option(names = "--size", converter = Numbers.Size.class, defaultValue = "64M", description = "Guest disk size (default: ${DEFAULT-VALUE})")
        long sizeBytes;

        @Option(names = "--iops", split = ",", defaultValue = "200,2000", description = "Guest write rates (default: ${DEFAULT-VALUE})")
        List<Integer> iops;

        @Option(names = "--guest-cache", paramLabel = "DIR", defaultValue = "target/guest",
                description = "Where scripts/guest-build.sh keeps the guest (default: ${DEFAULT-VALUE})")
        Path guestCache;

        @Option(names = "--quick", description = "16 MiB, 100 IOPS, every mode once: checks that the harness works, measures nothing")
        boolean quick;

        @Mixin
        Place place;

        @Override
        public Integer call() throws Exception {
            if (sizeBytes < 1 << 20 || sizeBytes % 4096 != 0) throw new CliException("--size must be a multiple of 4 KiB of at least 1M");
            if (iops.isEmpty() || iops.stream().anyMatch(i -> i < 1)) throw new CliException("--iops must be positive rates");
            Path root = Path.of("").toAbsolutePath();
            if (!Files.isExecutable(root.resolve("scripts/guest-build.sh"))) throw new CliException("bench vm runs from the repository's top directory (it builds the guest with scripts/guest-build.sh)");
            Path cache = guestCache.toAbsolutePath();
            var settings = quick ? dev.nvmelm.bench.VmScenario.Settings.quick(root, cache)
                    : new dev.nvmelm.bench.VmScenario.Settings(sizeBytes, iops, List.of(dev.nvmelm.bench.VmScenario.Mode.values()), 256,
                    java.time.Duration.ofSeconds(4), cache, root);
            return place.run(this, quick, dir -> new dev.nvmelm.bench.VmScenario(dir, settings,
                    dev.nvmelm.bench.ProcessCopies.launcher(Main.class), spec.commandLine().getErr()).run(), dev.nvmelm.bench.VmReport::table);
        }
    }

    @Command(name = "all", mixinStandardHelpOptions = true,
            description = {"Every scenario at full size, one after the other, then the report: what docs/benchmarks.md is rendered from.",
                    "copy --size 1G --runs 3; migrate --qemu; live; sparse; cdq; nbd; tls --size 1G --runs 3; report.",
                    "About 12 minutes on a 2-core machine plus the whole-process copies and cold stops (a few minutes more), up to 20 GiB free in the work directory; stops at the first scenario that fails."})
    static final class All extends CliCommand {
        @Option(names = "--quick", description = "Every scenario in its quick mode (checks the harness, measures nothing)")
        boolean quick;

        @Mixin
        Place place;   // --work-dir holds a directory per scenario

        @Option(names = "--out", paramLabel = "FILE",
                description = "Report to write (default: " + REPORT + "; with --quick a temporary directory, deleted after)")
        Path out;

        /** Where the results and the report go: a quick run keeps out of the repository unless told otherwise. */
        record Targets(Path results, Path report, Path scratch) {
            static Targets of(boolean quick, Path results, Path report, java.util.function.Supplier<Path> scratch) {
                Path tmp = quick && (results == null || report == null) ? scratch.get() : null;
                return new Targets(results != null ? results : quick ? tmp.resolve("results") : Path.of(RESULTS),
                        report != null ? report : quick ? tmp.resolve("benchmarks.md") : Path.of(REPORT), tmp);
            }
        }

        /** The scenarios at full size, as docs/benchmarks.md documents them. */
        static final List<List<String>> FULL = List.of(
                List.of("copy", "--size", "1G", "--runs", "3"),
                List.of("migrate", "--qemu"),
                List.of("live"),
                List.of("sparse"),
                List.of("cdq"),
                List.of("nbd"),
                List.of("tls", "--size", "1G", "--runs", "3"));

        @Override
        public Integer call() throws Exception {
            PrintWriter err = spec.commandLine().getErr();
            Targets t = Targets.of(quick, place.resultsDir, out, () -> {
                try {
                    return Files.createTempDirectory("nvme-lm-bench-quick");
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            try {
                return runAll(err, t);
            } finally {
                if (t.scratch() != null) deleteTree(t.scratch());
            }
        }

        private int runAll(PrintWriter err, Targets t) throws Exception {
            long start = System.nanoTime();
            for (List<String> step : FULL) {
                List<String> args = new java.util.ArrayList<>(List.of("bench"));
                args.addAll(quick ? List.of(step.getFirst(), "--quick") : step);
                args.addAll(List.of("--results", t.results().toString()));
                if (place.workDir != null && !step.getFirst().equals("cdq")) args.addAll(List.of("--work-dir", place.workDir.resolve(step.getFirst()).toString()));
                err.printf("== nvme-lm %s%n", String.join(" ", args));
                err.flush();
                long t0 = System.nanoTime();
                int rc = Main.run(args.toArray(String[]::new), spec.commandLine().getOut(), err);
                err.printf("== %s: exit %d after %.0f s%n", step.getFirst(), rc, (System.nanoTime() - t0) / 1e9);
                err.flush();
                if (rc != 0) throw new CliException("bench " + step.getFirst() + " failed; the results so far are in " + t.results());
            }
            int rc = Main.run(new String[]{"bench", "report", "--results", t.results().toString(), "--out", t.report().toString()}, spec.commandLine().getOut(), err);
            if (t.scratch() != null) err.printf("== quick run: results and report were in %s (deleted; --results/--out keep them)%n", t.scratch());
            err.printf("== all scenarios and the report in %.1f minutes%n", (System.nanoTime() - start) / 60e9);
            return rc;
        }
    }

    @Command(name = "report", mixinStandardHelpOptions = true,
            description = "Render docs/benchmarks.md (tables with ratios and goals, PNG plots) from the newest result of each scenario")
    static final class Report extends CliCommand {
        @Option(names = "--results", paramLabel = "DIR", defaultValue = "bench/results", description = "Results to read (default: ${DEFAULT-VALUE})")
        Path resultsDir;

        @Option(names = "--out", paramLabel = "FILE", defaultValue = "docs/benchmarks.md", description = "Report to write (default: ${DEFAULT-VALUE}); plots go next to it in img/")
        Path out;

        @Override
        public Integer call() throws Exception {
            if (!Files.isDirectory(resultsDir)) throw new CliException("no results in " + resultsDir + "; run nvme-lm bench copy / bench migrate first");
            List<Path> written = BenchReport.write(resultsDir, out);
            for (Path p : written) spec.commandLine().getOut().println("wrote " + p);
            return 0;
        }
    }
}
