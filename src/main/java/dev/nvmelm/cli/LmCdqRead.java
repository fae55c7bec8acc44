package dev.nvmelm.cli;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.cdq.CdqRingReader;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code nvme-lm lm cdq-read}: consumes the new entries of a CDQ that an earlier command created
 * (Base 2.2, section 8.1.6.2: an entry is new while its phase tag differs from the stale phase, which flips
 * when the head wraps), prints them, and reports the new head with Set Features FID 21h.
 */
@Command(name = "cdq-read", mixinStandardHelpOptions = true, description = "Read new entries of a Controller Data Queue and advance its head")
final class LmCdqRead extends DeviceCommand {
    @Option(names = {"-C", "--cdqid"}, converter = Numbers.class, required = true, description = "Controller Data Queue ID")
    long cdqid;

    @Option(names = {"-m", "--max"}, converter = Numbers.class, defaultValue = "0", description = "Read at most this many entries (default: all new ones)")
    long max;

    @Option(names = "--no-advance", description = "Print without consuming: the head stays where it was")
    boolean noAdvance;

    @Override
    Prepared prepare() {
        int id = field("--cdqid", cdqid, 16);
        // What a dry run shows: the head report that follows the read (head unknown until then).
        return new Prepared(new CdqFeature.SetCdq(id, 0, false, 0).toSqe(), 0, null);
    }

    @Override
    void execute(NvmeDevice dev, Prepared p, OutputFormat format) throws Exception {
        CdqQueue q = dev.attachCdq((int) cdqid);
        CdqQueue.Cursor start = q.cursor();
        CdqQueue.Cursor end = start;
        try {
            CdqRingReader reader = CdqRingReader.at(q, start);
            List<LbaMigrationEntry> read = reader.take((int) (max == 0 ? q.entryCount() : Math.min(max, q.entryCount())));
            int head = reader.head();
            if (!noAdvance && head != start.head()) {
                dev.waitFor(q.reportHead(dev, head, false, 0)).orThrow("Set Features (CDQ head " + head + ")");
                end = reader.cursor();
            }
            print(q, end.head(), read, format);
        } finally {
            q.detach(end);
        }
    }

    private void print(CdqQueue q, int head, List<LbaMigrationEntry> entries, OutputFormat format) {
        if (format == OutputFormat.JSON) {
            List<Object> list = new ArrayList<>();
            for (LbaMigrationEntry e : entries) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("nsid", Integer.toUnsignedLong(e.nsid()));
                m.put("slba", e.slba());
                m.put("nlb", e.nlb());
                m.put("esa", e.esa());
                m.put("lbaci", e.lbaci());
                m.put("dlba", e.dlba() ? 1 : 0);
                list.add(m);
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("cdqid", q.cdqid());
            m.put("head", head);
            m.put("entries", list);
            out().println(Json.pretty(m));
            return;
        }
        out().printf("CDQ 0x%04x: %d new entr%s, head %d%n", q.cdqid(), entries.size(), entries.size() == 1 ? "y" : "ies", head);
        for (LbaMigrationEntry e : entries) out().println("  " + describe(e));
    }

    static String describe(LbaMigrationEntry e) {
        String esa = switch (e.esa()) {
            case LbaMigrationEntry.ESA_FIRST -> " ESA 1 (logging started)";
            case LbaMigrationEntry.ESA_STOPPED -> " ESA 2 (logging stopped)";
            case LbaMigrationEntry.ESA_SUSPENDED -> " ESA 3 (controller suspended)";
            case LbaMigrationEntry.ESA_QUEUE_FULL -> " ESA 7 (queue full: changes after this were not logged)";
            case LbaMigrationEntry.ESA_MIDDLE -> "";
            default -> " ESA " + e.esa() + " (reserved)";
        };
        return switch (e.lbaci()) {
            case LbaMigrationEntry.LBACI_RANGE -> String.format("nsid %d slba %d nlb %d (%d blocks)%s%s", Integer.toUnsignedLong(e.nsid()), e.slba(), e.nlb(),
                    e.blockCount(), e.dlba() ? " deallocated" : "", esa);
            case LbaMigrationEntry.LBACI_NAMESPACE -> String.format("nsid %d: every LBA changed%s", Integer.toUnsignedLong(e.nsid()), esa);
            case LbaMigrationEntry.LBACI_NONE -> "marker" + esa;
            default -> "LBACI 3 (reserved)" + esa;
        };
    }

    @Override
    void report(Completion c, MemorySegment data, OutputFormat format) {
        throw new IllegalStateException("cdq-read reports in execute()");
    }
}
