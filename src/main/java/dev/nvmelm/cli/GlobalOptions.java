package dev.nvmelm.cli;

import picocli.CommandLine.Option;

import java.time.Duration;

/** nvme-cli 3.0's global options, mixed into every leaf command. */
public final class GlobalOptions {
    @Option(names = {"-o", "--output-format"}, paramLabel = "FMT", defaultValue = "normal",
            description = "Output format: normal|json|binary")
    String outputFormat;

    @Option(names = {"-v", "--verbose"}, description = "Increase output verbosity (-vv prints stack traces)")
    boolean[] verbose = new boolean[0];

    @Option(names = "--timeout", paramLabel = "MS", converter = Numbers.class, defaultValue = "0",
            description = "Timeout value, in milliseconds (0 = the default, 60000 for admin and I/O commands)")
    long timeoutMs;

    @Option(names = "--dry-run", description = "Show the command that would be sent; open no device, send nothing")
    boolean dryRun;

    public OutputFormat format() {
        return OutputFormat.parse(outputFormat);
    }

    public int verbosity() {
        return verbose.length;
    }

    public boolean dryRun() {
        return dryRun;
    }

    public Duration timeout() {
        return timeoutMs == 0 ? Duration.ofSeconds(60) : Duration.ofMillis(timeoutMs);
    }
}
