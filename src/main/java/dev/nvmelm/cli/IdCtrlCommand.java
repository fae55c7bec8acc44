package dev.nvmelm.cli;

import dev.nvmelm.host.Completion;
import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.IdentifyController;
import dev.nvmelm.util.Json;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@code nvme-lm id-ctrl <dev>}: Identify Controller (CNS 01h) with the HMLM fields (docs/spec.md, "Identify"). */
@Command(name = "id-ctrl", mixinStandardHelpOptions = true, description = "Send Identify Controller and print the result")
final class IdCtrlCommand extends DeviceCommand {

    @Override
    Prepared prepare() {
        return new Prepared(new AdminCommands.Identify(AdminCommands.CNS_CONTROLLER, 0, 0, 0).toSqe(), IdentifyController.SIZE, null);
    }

    @Override
    void report(Completion c, MemorySegment data, OutputFormat format) throws IOException {
        if (format == OutputFormat.BINARY) {
            writeBinary(data.toArray(ValueLayout.JAVA_BYTE));
            return;
        }
        IdentifyController id = IdentifyController.decode(data);
        Map<String, Object> m = fields(id);
        if (format == OutputFormat.JSON) {
            out().println(Json.pretty(m));
            return;
        }
        out().println("NVME Identify Controller:");
        for (Map.Entry<String, Object> e : m.entrySet()) {
            Object v = e.getValue();
            String text = v instanceof Integer i && !e.getKey().equals("hmlms") ? "0x" + Integer.toHexString(i) : String.valueOf(v);
            out().printf("%-9s : %s%n", e.getKey(), text);
        }
    }

    /** nvme-cli's id-ctrl names (lower case), in structure order. */
    static Map<String, Object> fields(IdentifyController id) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vid", id.vid());
        m.put("ssvid", id.ssvid());
        m.put("sn", id.serial());
        m.put("mn", id.model());
        m.put("fr", id.firmware());
        m.put("mdts", id.mdts());
        m.put("cntlid", id.cntlid());
        m.put("ver", id.version());
        m.put("ctratt", id.ctratt());
        m.put("oacs", id.oacs());
        m.put("hmlms", id.hmlms() ? 1 : 0);
        m.put("aerl", id.aerl());
        m.put("lpa", id.lpa());
        m.put("cmmrtd", id.cmmrtd());
        m.put("nmmrtd", id.nmmrtd());
        m.put("minmrtg", id.minmrtg());
        m.put("maxmrtg", id.maxmrtg());
        m.put("trattr", id.trattr());
        m.put("mcudmq", id.mcudmq());
        m.put("mnsudmq", id.mnsudmq());
        m.put("mcmr", id.mcmr());
        m.put("nmcmr", id.nmcmr());
        m.put("mcdqpc", id.mcdqpc());
        m.put("sqes", id.sqes());
        m.put("cqes", id.cqes());
        m.put("maxcmd", id.maxcmd());
        m.put("nn", id.nn());
        m.put("oncs", id.oncs());
        m.put("subnqn", id.subnqn());
        return m;
    }
}
