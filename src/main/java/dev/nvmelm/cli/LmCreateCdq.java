package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.foreign.MemorySegment;
import java.util.Map;

@Command(name = "create-cdq", mixinStandardHelpOptions = true, description = "Create Controller Data Queue")
final class LmCreateCdq extends DeviceCommand {
    @Option(names = {"-s", "--size"}, converter = Numbers.class, required = true, description = "CDQ size in dwords")
    long size;

    @Option(names = {"-c", "--cntlid"}, converter = Numbers.class, defaultValue = "0", description = "migratable controller ID")
    long cntlid;

    @Option(names = {"-q", "--queue-type"}, converter = Numbers.class, defaultValue = "0",
            description = "queue type: 0 = User Data Migration Queue")
    long queueType;

    @Option(names = "--consent", hidden = true, description = "accepted for nvme-cli compatibility; nvme-lm keeps the queue in memory that lives as long as the CDQ")
    boolean consent;

    @Override
    Prepared prepare() {
        long dwords = field("--size", size, 32);
        // NVMe Base 2.1, Figure 164: the controller refuses a size that is not whole entries
        if (!ControllerDataQueueCommand.Create.wholeUdmqEntries(dwords)) {
            throw new CliException("--size=" + size + " dwords is not a whole number of 32-byte entries (a positive multiple of 8)");
        }
        var cmd = new ControllerDataQueueCommand.Create(field("--queue-type", queueType, 8), true,
                field("--cntlid", cntlid, 16), dwords, 0);
        return new Prepared(cmd.toSqe(), dwords * 4, null);
    }

    @Override
    void execute(NvmeDevice dev, Prepared p, OutputFormat format) throws Exception {
        if (queueType != 0) throw new CliException("--queue-type=" + queueType + " is not defined; only 0 (User Data Migration Queue) is");
        CdqQueue q = dev.createCdq((int) cntlid, size * 4);
        try {
            q.detach(CdqQueue.Cursor.START);
        } catch (Exception e) {
            q.close();   // a CDQ nobody can reach again must not stay on the controller
            throw e;
        }
        if (format == OutputFormat.JSON) out().println(Json.pretty(Map.of("cdqid", q.cdqid())));
        else out().printf("Create CDQ Successful: CDQID=0x%04x%n", q.cdqid());
    }

    @Override
    void report(Completion c, MemorySegment data, OutputFormat format) {
        throw new IllegalStateException("create-cdq reports in execute()");
    }
}
