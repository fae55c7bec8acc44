package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import dev.nvmelm.host.Completion;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.foreign.MemorySegment;
import java.util.Map;

@Command(name = "delete-cdq", mixinStandardHelpOptions = true, description = "Delete Controller Data Queue")
final class LmDeleteCdq extends DeviceCommand {
    @Option(names = {"-C", "--cdqid"}, converter = Numbers.class, required = true, description = "Controller Data Queue ID")
    long cdqid;

    @Override
    Prepared prepare() {
        return new Prepared(new ControllerDataQueueCommand.Delete(field("--cdqid", cdqid, 16)).toSqe(), 0, null);
    }

    @Override
    void report(Completion c, MemorySegment data, OutputFormat format) {
        if (format == OutputFormat.JSON) out().println(Json.pretty(Map.of("cdqid", cdqid)));
        else out().printf("Delete CDQ Successful: CDQID=0x%04x%n", cdqid);
    }
}
