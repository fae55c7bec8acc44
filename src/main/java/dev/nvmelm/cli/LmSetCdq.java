package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import dev.nvmelm.host.Completion;
import dev.nvmelm.spec.CdqFeature;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

@Command(name = "set-cdq", mixinStandardHelpOptions = true, description = "Set Feature - Controller Data Queue (FID 21h)")
final class LmSetCdq extends DeviceCommand {
    @Option(names = {"-C", "--cdqid"}, converter = Numbers.class, defaultValue = "0", description = "Controller Data Queue ID")
    long cdqid;

    @Option(names = {"-H", "--hp"}, converter = Numbers.class, defaultValue = "0", description = "head pointer (slot index)")
    long hp;

    @Option(names = {"-T", "--tpt"}, converter = Numbers.class,
            description = "tail pointer trigger (slot index); setting it sets ETPT")
    Long tpt;

    @Override
    Prepared prepare() {
        // A TPT of 2^31 or more is a valid u32; nvme-cli stores it in an s32 and silently drops ETPT.
        int trigger = tpt == null ? 0 : field("--tpt", tpt, 32);
        var cmd = new CdqFeature.SetCdq(field("--cdqid", cdqid, 16), field("--hp", hp, 32), tpt != null, trigger);
        return new Prepared(cmd.toSqe(), 0, null);
    }

    @Override
    void report(Completion c, MemorySegment data, OutputFormat format) {
        if (format == OutputFormat.JSON) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("head_pointer", hp);
            if (tpt != null) m.put("tail_pointer_trigger", tpt);
            out().println(Json.pretty(m));
        } else {
            out().println("Success. Head Pointer: " + hp);
        }
    }
}
