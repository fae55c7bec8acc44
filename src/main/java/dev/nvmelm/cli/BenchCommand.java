package dev.nvmelm.cli;

import dev.nvmelm.bench.CopyScenario;
import dev.nvmelm.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks side by side with the tools users would otherwise pick; results go to bench/results/",
        subcommands = BenchCommand.Copy.class)
final class BenchCommand {

    /** Options every scenario shares. */
    static final class Common {
        @Option(names = "--size", converter = Numbers.Size.class, defaultValue = "1G", description = "Image size (default: ${DEFAULT-VALUE})")
        long sizeBytes;

        @Option(names = "--runs", defaultValue = "5", description = "Runs per tool, interleaved (default: ${DEFAULT-VALUE})")
        int runs;

        @Option(names = "--quick", description = "Small sizes and one run: checks that the harness works, measures nothing")
        boolean quick;

        @Option(names = "--work-dir", paramLabel = "DIR", description = "Where to put the images (default: a temporary directory)")
        Path workDir;

        @Option(names = "--results", paramLabel = "DIR", defaultValue = "bench/results", description = "Where to write the JSON result (default: ${DEFAULT-VALUE})")
        Path resultsDir;
    }

    @Command(name = "copy", mixinStandardHelpOptions = true,
            description = "Dense and sparse images copied file to file: nvme-lm vs cp, dd, qemu-img convert, nbdcopy")
    static final class Copy implements Callable<Integer>, Main.HasGlobals {
        @Mixin
        Common c;
        @Mixin
        GlobalOptions g;
        @Spec
        CommandSpec spec;

        @Override
        public GlobalOptions globals() {
            return g;
        }

        @Override
        public Integer call() throws Exception {
            long size = c.quick ? 16L << 20 : c.sizeBytes;
            int runs = c.quick ? 1 : c.runs;
            if (runs < 1) throw new CliException("--runs must be at least 1");
            if (size < 1 << 20) throw new CliException("--size must be at least 1M");
            Path dir = c.workDir != null ? Files.createDirectories(c.workDir) : Files.createTempDirectory("nvme-lm-bench");
            PrintWriter err = spec.commandLine().getErr();
            try {
                var scenario = new CopyScenario(dir, size, runs, CopyScenario.peers(), err);
                Map<String, Object> result = scenario.run();
                Path saved = CopyScenario.save(c.resultsDir, result);
                if (g.format() == OutputFormat.JSON) spec.commandLine().getOut().println(Json.pretty(result));
                else spec.commandLine().getOut().println("wrote " + saved);
            } catch (IllegalStateException e) {
                throw new CliException(e.getMessage());
            } finally {
                if (c.workDir == null) deleteTree(dir);
            }
            return 0;
        }
    }

    static void deleteTree(Path dir) throws java.io.IOException {
        if (!Files.exists(dir)) return;
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
