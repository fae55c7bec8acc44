package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import dev.nvmelm.host.Completion;
import dev.nvmelm.spec.CdqFeature;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;

@Command(name = "get-cdq", mixinStandardHelpOptions = true, description = "Get Feature - Controller Data Queue (FID 21h)")
final class LmGetCdq extends DeviceCommand {
    @Option(names = {"-C", "--cdqid"}, converter = Numbers.class, defaultValue = "0", description = "Controller Data Queue ID")
    long cdqid;

    @Override
    Prepared prepare() {
        return new Prepared(new CdqFeature.GetCdq(field("--cdqid", cdqid, 16)).toSqe(), CdqFeature.CdqFeatureData.SIZE, null);
    }

    @Override
    void report(Completion c, MemorySegment data, OutputFormat format) throws IOException {
        var d = CdqFeature.CdqFeatureData.decode(data, 0);
        switch (format) {
            case BINARY -> writeBinary(data.asSlice(0, CdqFeature.CdqFeatureData.SIZE).toArray(ValueLayout.JAVA_BYTE));
            case JSON -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("head_pointer", Integer.toUnsignedLong(d.headPointer()));
                m.put("tail_pointer_trigger", Integer.toUnsignedLong(d.tailPointerTrigger()));
                out().println(Json.pretty(m));
            }
            case NORMAL -> out().printf("Head Pointer: 0x%x%nTail Pointer Trigger: 0x%x%n", d.headPointer(), d.tailPointerTrigger());
        }
    }
}
