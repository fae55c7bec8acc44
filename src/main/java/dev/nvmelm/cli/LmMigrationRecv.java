package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import dev.nvmelm.host.Completion;
import dev.nvmelm.spec.ControllerState;
import dev.nvmelm.spec.IoCqState;
import dev.nvmelm.spec.IoSqState;
import dev.nvmelm.spec.MigrationReceiveCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

@Command(name = "migration-recv", description = "Migration Receive (Get Controller State)")
final class LmMigrationRecv extends DeviceCommand {
    // nvme-cli uses -V for --csvi, so only --help (not --version) is mixed in here
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = {"-s", "--sel"}, converter = Numbers.class, description = "Select: 0 = Get Controller State")
    Long sel;

    @Option(names = {"-c", "--cntlid"}, converter = Numbers.class, defaultValue = "0", description = "Controller ID (CDW11[15:0])")
    long cntlid;

    @Option(names = {"-U", "--csuuidi"}, converter = Numbers.class, defaultValue = "0", description = "Controller State UUID Index (CDW11[23:16])")
    long csuuidi;

    @Option(names = {"-V", "--csvi"}, converter = Numbers.class, defaultValue = "0", description = "Controller State Version Index (MOS[7:0])")
    long csvi;

    @Option(names = {"-u", "--uidx"}, converter = Numbers.class, defaultValue = "0", description = "UUID Index (CDW14[6:0])")
    long uidx;

    @Option(names = {"-O", "--offset"}, converter = Numbers.class, defaultValue = "0", description = "Offset in bytes (CDW12/13)")
    long offset;

    @Option(names = {"-n", "--numd"}, converter = Numbers.class, defaultValue = "1023",
            description = "Number of dwords to read, 0's based (default 1023: a 4 KiB buffer)")
    long numd;

    @Option(names = {"-f", "--output-file"}, paramLabel = "FILE", description = "Write the raw controller state here")
    Path outputFile;

    @Option(names = {"-H", "--human-readable"}, description = "Decode attribute bit fields")
    boolean humanReadable;

    @Override
    Prepared prepare() {
        if (sel == null) throw new CliException("Select field required (--sel)");
        if (sel != MigrationReceiveCommand.SEL_GET_CONTROLLER_STATE) throw new CliException("--sel=" + sel + " is not defined (0 = Get Controller State)");
        if (offset != 0 && outputFile == null && g.format() != OutputFormat.BINARY) {
            throw new CliException("a non-zero --offset returns part of the state; use -o binary or --output-file");
        }
        var cmd = new MigrationReceiveCommand(field("--cntlid", cntlid, 16), field("--csvi", csvi, 8),
                field("--csuuidi", csuuidi, 8), 0, offset, field("--uidx", uidx, 7), field("--numd", numd, 32));
        return new Prepared(cmd.toSqe(), cmd.lengthBytes(), null);
    }

    @Override
    void report(Completion c, MemorySegment data, OutputFormat format) throws IOException {
        byte[] raw = data.toArray(ValueLayout.JAVA_BYTE);
        boolean csup = (c.dw0() & MigrationReceiveCommand.CSUP) != 0;
        if (outputFile != null) {
            Files.write(outputFile, raw);
        }
        if (format == OutputFormat.BINARY) {
            writeBinary(raw);
            return;
        }
        if (outputFile != null || offset != 0) {
            out().printf("CDW0: 0x%x: Controller %sSuspended%n", c.dw0(), csup ? "" : "NOT ");
            return;
        }
        ControllerState.Header h = ControllerState.Header.decode(raw);
        if (h.totalBytes() > raw.length) {
            spec.commandLine().getErr().printf("WARNING: controller state truncated: %d of %d bytes (raise --numd)%n", raw.length, h.totalBytes());
            if (format == OutputFormat.JSON) out().println(Json.pretty(headerJson(h, csup)));
            else out().printf("CDW0: 0x%x: Controller %sSuspended%n%s", c.dw0(), csup ? "" : "NOT ", headerText(h));
            return;
        }
        if (h.nvmeStateDwords() == 0) {   // CSVI 0: the header is the whole state
            if (format == OutputFormat.JSON) out().println(Json.pretty(headerJson(h, csup)));
            else out().printf("CDW0: 0x%x: Controller %sSuspended%n%s", c.dw0(), csup ? "" : "NOT ", headerText(h));
            return;
        }
        ControllerState s = ControllerState.decode(raw);
        if (format == OutputFormat.JSON) {
            Map<String, Object> m = headerJson(h, csup);
            Map<String, Object> st = new LinkedHashMap<>();
            st.put("version", s.stateVersion());
            st.put("niosq", s.sqs().size());
            st.put("niocq", s.cqs().size());
            List<Object> sqs = new ArrayList<>();
            for (IoSqState q : s.sqs()) sqs.add(sqJson(q));
            List<Object> cqs = new ArrayList<>();
            for (IoCqState q : s.cqs()) cqs.add(cqJson(q));
            st.put("io_submission_queues", sqs);
            st.put("io_completion_queues", cqs);
            m.put("nvme_controller_state", st);
            out().println(Json.pretty(m));
        } else {
            StringBuilder sb = new StringBuilder();
            sb.append(String.format("CDW0: 0x%x: Controller %sSuspended%n", c.dw0(), csup ? "" : "NOT "));
            sb.append(headerText(h));
            sb.append("NVMe Controller State Data Structure:\n");
            line(sb, "Version (VER)", s.stateVersion());
            line(sb, "Number of I/O Submission Queues (NIOSQ)", s.sqs().size());
            line(sb, "Number of I/O Completion Queues (NIOCQ)", s.cqs().size());
            for (int i = 0; i < s.sqs().size(); i++) {
                IoSqState q = s.sqs().get(i);
                sb.append("NVMe I/O Submission Queue Data [").append(i).append("]:\n");
                line(sb, "PRP Entry 1 (IOSQPRP1)", q.prp1());
                line(sb, "Queue Size (IOSQQSIZE)", q.qsizeZeroBased());
                line(sb, "Identifier (IOSQQID)", q.qid());
                line(sb, "Completion Queue Identifier (IOSQCQID)", q.cqid());
                line(sb, "Attributes (IOSQA)", q.attributes());
                if (humanReadable) sb.append(String.format("  %-43s: %s, QPRIO %d%n", "", q.physicallyContiguous() ? "PC" : "not PC", q.qprio()));
                line(sb, "Head Pointer (IOSQHP)", q.head());
                line(sb, "Tail Pointer (IOSQTP)", q.tail());
            }
            for (int i = 0; i < s.cqs().size(); i++) {
                IoCqState q = s.cqs().get(i);
                sb.append("NVMe I/O Completion Queue Data [").append(i).append("]:\n");
                line(sb, "PRP Entry 1 (IOCQPRP1)", q.prp1());
                line(sb, "Queue Size (IOCQQSIZE)", q.qsizeZeroBased());
                line(sb, "Identifier (IOCQQID)", q.qid());
                line(sb, "Head Pointer (IOCQHP)", q.head());
                line(sb, "Tail Pointer (IOCQTP)", q.tail());
                line(sb, "Attributes (IOCQA)", Integer.toUnsignedLong(q.attributes()));
                if (humanReadable) sb.append(String.format("  %-43s: %s, IEN %d, phase %d, IV %d%n", "",
                        q.physicallyContiguous() ? "PC" : "not PC", q.interruptsEnabled() ? 1 : 0, q.producerPhase() ? 1 : 0, q.interruptVector()));
            }
            out().print(sb);
        }
    }

    private static void line(StringBuilder sb, String name, long v) {
        sb.append(String.format("  %-45s: 0x%x%n", name, v));
    }

    private static String headerText(ControllerState.Header h) {
        StringBuilder sb = new StringBuilder("Header:\n");
        line(sb, "Version (VER)", h.version());
        line(sb, "Controller State Attributes (CSATTR)", h.suspended() ? 1 : 0);
        line(sb, "NVMe Controller State Size (NVMECSS)", h.nvmeStateDwords());
        line(sb, "Vendor Specific Size (VSS)", h.vendorSpecificDwords());
        return sb.toString();
    }

    private static Map<String, Object> headerJson(ControllerState.Header h, boolean csup) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("controller_suspended", csup);
        m.put("version", h.version());
        m.put("controller_state_attributes", h.suspended() ? 1 : 0);
        m.put("nvme_controller_state_size", h.nvmeStateDwords());
        m.put("vendor_specific_size", h.vendorSpecificDwords());
        return m;
    }

    private static Map<String, Object> sqJson(IoSqState q) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prp1", q.prp1());
        m.put("qsize", q.qsizeZeroBased());
        m.put("qid", q.qid());
        m.put("cqid", q.cqid());
        m.put("attributes", q.attributes());
        m.put("head", q.head());
        m.put("tail", q.tail());
        return m;
    }

    private static Map<String, Object> cqJson(IoCqState q) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prp1", q.prp1());
        m.put("qsize", q.qsizeZeroBased());
        m.put("qid", q.qid());
        m.put("head", q.head());
        m.put("tail", q.tail());
        m.put("attributes", Integer.toUnsignedLong(q.attributes()));
        return m;
    }
}
