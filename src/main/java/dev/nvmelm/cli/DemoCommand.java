package dev.nvmelm.cli;

import dev.nvmelm.bench.Images;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.migrate.workload.WorkloadSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Run the main job on the embedded controller: a live migration under a writing guest, verified.",
                "A source namespace with data, a guest writing to it, a live migration to a destination subsystem with progress, verification and the report; then the images are removed (unless --keep).",
                "Unlike migrate, --on-stall defaults to throttle here, so the first run finishes on a busy machine."})
final class DemoCommand extends CliCommand {
    @Option(names = "--size", converter = Numbers.Size.class, defaultValue = "256M", description = "Namespace size (default: ${DEFAULT-VALUE})")
    long size;

    @Option(names = "--iops", defaultValue = "2000", description = "Guest 4 KiB random writes per second (default: ${DEFAULT-VALUE})")
    int iops;

    @Option(names = "--seconds", defaultValue = "0", description = "Guest runtime in seconds; 0 = until two seconds after switchover")
    double seconds;

    @Option(names = "--keep", paramLabel = "DIR", description = "Keep the images in DIR instead of a temporary directory")
    Path keep;

    @Mixin
    MigrateCommand.EngineOptions engine;

    @Option(names = "--vm", description = {"The real job with a real guest (QEMU): two hosts (network namespaces), the guest writing on host A,",
            "VM and namespace migrated to host B with migrate --vm-qmp, the guest verifying every write there (docs/vm.md)"})
    boolean vm;

    @Option(names = "--quick", description = "With --vm: a 16 MiB disk and a short workload (about a minute)")
    boolean quick;

    @Option(names = "--guest-cache", paramLabel = "DIR", defaultValue = "target/guest",
            description = "With --vm: where scripts/guest-build.sh keeps the guest (default: ${DEFAULT-VALUE})")
    Path guestCache;




    @Override
    public Integer call() throws Exception {
        OutputFormat f = g.format();
        if (quick && !vm) throw new CliException("--quick goes with --vm");
        if (vm) {
            Path root = Path.of("").toAbsolutePath();
            if (!Files.isExecutable(root.resolve("scripts/guest-build.sh"))) {
                throw new CliException("demo --vm runs from the repository's top directory (it builds the guest with scripts/guest-build.sh)");
            }
            return new VmDemo(VmDemo.Settings.of(quick, guestCache.toAbsolutePath(), root, f == OutputFormat.JSON),
                    spec.commandLine().getOut(), spec.commandLine().getErr()).run();
        }
        // The main job must succeed on the first try: on a loaded 2-core machine a
        // 2000-IOPS guest can outrun the copy of small ranges, and aborting leaves a new user
        // with nothing; slowing the guest (reported) lets the demo finish.
        if (!spec.commandLine().getParseResult().hasMatchedOption("--on-stall")) engine.onStall = "throttle";
        if (size < 16 << 20 || size % 4096 != 0) throw new CliException("--size must be at least 16M and a multiple of 4 KiB");
        if (iops < 0) throw new CliException("--iops must be >= 0");
        if (seconds < 0 || Double.isNaN(seconds)) throw new CliException("--seconds must be >= 0 (0 = until two seconds after switchover)");
        var options = engine.options();   // checked before a namespace is built
        Verifier.Mode verify = engine.verifyMode(Verifier.Mode.FULL);
        if (keep != null) {
            Path parent = keep.toAbsolutePath().getParent();
            if (Files.exists(keep) && !Files.isDirectory(keep)) throw new CliException("--keep " + keep + " is not a directory");
            if (parent != null && !Files.isDirectory(parent)) throw new CliException("--keep " + keep + ": directory " + parent + " does not exist");
        }
        Path dir = keep != null ? Files.createDirectories(keep) : Files.createTempDirectory("nvme-lm-demo");
        PrintWriter err = spec.commandLine().getErr();
        try {
            Path src = dir.resolve("source.img"), dst = dir.resolve("destination.img");
            Files.deleteIfExists(dst);
            if (f != OutputFormat.JSON) err.printf("nvme-lm demo: %s namespace in %s; the guest writes %d x 4 KiB/s while it moves%n",
                    MigrationRun.human(size), dir, iops);
            long data = Images.sparse(src, size, 0.6, 42);   // 60 % data, the rest holes: thin stays thin
            if (f != OutputFormat.JSON) err.printf("  source: %s of data, %s of holes%n", MigrationRun.human(data), MigrationRun.human(size - data));
            double run = seconds > 0 ? seconds : 0;
            WorkloadSpec w = iops == 0 && run == 0 ? null
                    : WorkloadSpec.parse("random-write:iops=" + iops + ",bs=4k,zeroes=0.02,trim=0.02" + (run > 0 ? ",seconds=" + run : ""));
            var settings = new MigrationRun.Settings(src, dst, 4096, w, options, verify,
                    f == OutputFormat.JSON, f != OutputFormat.JSON);
            return new MigrationRun(settings, spec.commandLine().getOut(), err).run();
        } finally {
            if (keep == null) BenchCommand.deleteTree(dir);
        }
    }
}
