package dev.nvmelm.cli;

import dev.nvmelm.host.Completion;
import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.foreign.MemorySegment;
import java.util.Map;

/** {@code nvme-lm format <dev>}: Format NVM, with nvme-cli's option names. */
@Command(name = "format", mixinStandardHelpOptions = true, description = "Format NVM: erase a namespace (every LBA reads zeroes, deallocated)")
final class FormatCommand extends DeviceCommand {
    @Option(names = {"-n", "--namespace-id"}, converter = Numbers.class, required = true, description = "Namespace ID (0xffffffff: every namespace)")
    long nsid;

    @Option(names = {"-l", "--lbaf"}, converter = Numbers.class, defaultValue = "0", description = "LBA format index")
    long lbaf;

    @Option(names = {"-s", "--ses"}, converter = Numbers.class, defaultValue = "0", description = "Secure erase: 0 none, 1 user data erase, 2 crypto erase")
    long ses;

    @Option(names = {"-i", "--pi"}, converter = Numbers.class, defaultValue = "0", description = "Protection information type")
    long pi;

    @Option(names = {"-m", "--ms"}, converter = Numbers.class, defaultValue = "0", description = "Metadata settings (1: extended LBA)")
    long ms;

    @Override
    Prepared prepare() {
        var f = new AdminCommands.FormatNvm(field("--namespace-id", nsid, 32), field("--lbaf", lbaf, 6), field("--ms", ms, 1) == 1,
                field("--pi", pi, 3), false, field("--ses", ses, 3));
        return new Prepared(f.toSqe(), 0, null);
    }

    @Override
    void report(Completion c, MemorySegment data, OutputFormat format) {
        if (format == OutputFormat.JSON) out().println(Json.pretty(Map.of("result", "success")));
        else out().println("Success formatting namespace:" + Long.toHexString(nsid));
    }
}
