package dev.nvmelm.cli;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.cdq.CdqAnomaly;
import dev.nvmelm.host.cdq.CdqConsumer;
import dev.nvmelm.host.cdq.CdqCounters;
import dev.nvmelm.host.cdq.CdqListener;
import dev.nvmelm.host.cdq.CdqMarker;
import dev.nvmelm.host.cdq.DirtyExtents;
import dev.nvmelm.host.cdq.LbaRange;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.IdentifyController;
import dev.nvmelm.spec.IdentifyNamespace;
import dev.nvmelm.spec.TrackSendCommand;
import dev.nvmelm.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code nvme-lm lm cdq-watch}: the whole CDQ life in one process — create a User Data
 * Migration Queue for a controller, start logging, consume it (host.cdq: phase test, batched
 * head reports, tail pointer trigger with re-scan), print the dirty ranges as the consumer
 * coalesces them (or a live stats line), and on SIGINT or --duration stop logging, drain to the
 * ESA 2 marker and delete the queue.
 */
@Command(name = "cdq-watch", mixinStandardHelpOptions = true, description = "Create a CDQ, track a controller's writes and print them until SIGINT or --duration")
final class LmCdqWatch extends CliCommand {
    @Parameters(index = "0", paramLabel = "<device>", description = "The migration management controller: /dev/nvmeX or sim:DIR/ctl.sock")
    String device;

    @Option(names = {"-c", "--cntlid"}, converter = Numbers.class, required = true, description = "Migratable controller to track")
    long cntlid;

    @Option(names = {"-s", "--size"}, converter = Numbers.class, defaultValue = "65536", description = "CDQ size in dwords (default: ${DEFAULT-VALUE}, 8192 entries)")
    long sizeDwords;

    @Option(names = {"-b", "--batch"}, converter = Numbers.class, defaultValue = "4096", description = "Most entries consumed per head report (default: ${DEFAULT-VALUE})")
    long batch;

    @Option(names = "--duration", paramLabel = "SECONDS", converter = Numbers.class, defaultValue = "0", description = "Stop after this long (default: until SIGINT)")
    long durationSeconds;

    @Option(names = "--stats", description = "Print a line per second (entries/s, dirty bytes, extents) instead of the ranges")
    boolean stats;




    @Override
    public Integer call() throws Exception {
        int c = DeviceCommand.field("--cntlid", cntlid, 16);
        if (sizeDwords < 16 || sizeDwords % 8 != 0) throw new CliException("--size=" + sizeDwords + " must be a multiple of 8 dwords (one entry), at least 16");
        if (batch < 1 || batch > 1 << 20) throw new CliException("--batch must be 1..1048576");
        if (g.dryRun()) throw new CliException("cdq-watch sends many commands; --dry-run is not available (see lm create-cdq --dry-run)");
        boolean json = g.format() == OutputFormat.JSON;
        PrintWriter out = spec.commandLine().getOut();
        CountDownLatch stop = new CountDownLatch(1);
        Signals.onTermination(stop::countDown);
        try (NvmeDevice dev = DeviceOpener.open(device, g)) {
            List<DirtyExtents> namespaces = namespacesOf(dev, c);
            CdqQueue q = dev.createCdq(c, sizeDwords * 4);
            try {
                Printer printer = new Printer(out, json);
                CdqConsumer consumer = CdqConsumer.builder(dev, q).namespaces(namespaces).listener(printer)
                        .config(new CdqConsumer.Config((int) batch, 1, Duration.ofMillis(50), g.timeout())).build();
                if (!q.loggingFollowsQueue()) {
                    dev.admin(new TrackSendCommand(TrackSendCommand.SEL_LOG_USER_DATA, TrackSendCommand.LACT_START, q.cdqid()).toSqe(), null)
                            .orThrow("Track Send (start) on CDQ " + q.cdqid());
                }
                if (!json) out.printf("watching CNTLID %d on CDQ 0x%04x (%d entries); Ctrl-C stops%n", c, q.cdqid(), q.entryCount());
                out.flush();
                consumer.start();
                long deadline = durationSeconds == 0 ? Long.MAX_VALUE : System.nanoTime() + TimeUnit.SECONDS.toNanos(durationSeconds);
                long lastEntries = 0, lastAt = System.nanoTime();
                while (System.nanoTime() < deadline && !stop.await(stats ? 1000 : 200, TimeUnit.MILLISECONDS)) {
                    if (consumer.failure().isPresent()) throw new CliException("CDQ consumer failed: " + consumer.failure().get());
                    if (stats) {
                        CdqCounters k = consumer.counters();
                        long now = System.nanoTime();
                        printer.stats(k.entries() - lastEntries, (now - lastAt) / 1e9, namespaces);
                        lastEntries = k.entries();
                        lastAt = now;
                    } else {
                        printer.ranges(namespaces);
                    }
                }
                consumer.close();
                boolean drained;
                if (q.loggingFollowsQueue()) {
                    consumer.pollOnce();   // the kernel stops logging when the queue is deleted: no ESA 2 to wait for
                    drained = true;
                } else {
                    dev.admin(new TrackSendCommand(TrackSendCommand.SEL_LOG_USER_DATA, TrackSendCommand.LACT_STOP, q.cdqid()).toSqe(), null)
                            .orThrow("Track Send (stop) on CDQ " + q.cdqid());
                    drained = consumer.drainUntilStopped(g.timeout()).isPresent();
                }
                if (!stats) printer.ranges(namespaces);
                printer.summary(q.cdqid(), consumer.counters(), namespaces, drained, consumer.trackingBroken());
                if (!drained) throw new CliException("logging stopped but the ESA 2 marker did not arrive within " + g.timeout().toMillis() + " ms");
            } finally {
                q.close();
            }
        }
        return 0;
    }

    /**
     * The tracked controller's namespaces. A served device reaches the MC directly (its NSIDs are
     * per controller there); otherwise NSIDs are subsystem-wide, as in NVMe, and the MMC answers.
     */
    private List<DirtyExtents> namespacesOf(NvmeDevice dev, int cntlid) throws NvmeException {
        if (SimNvmeDevice.handles(device)) {
            String base = device.contains("#") ? device.substring(0, device.lastIndexOf('#')) : device;
            try (NvmeDevice mc = SimNvmeDevice.open(base + "#" + cntlid, g.timeout())) {
                return identify(mc);
            }
        }
        return identify(dev);
    }

    private static List<DirtyExtents> identify(NvmeDevice dev) throws NvmeException {
        MemorySegment buf = dev.allocateBuffer(4096);
        dev.admin(new AdminCommands.Identify(AdminCommands.CNS_CONTROLLER, 0, 0, 0).toSqe(), buf).orThrow("Identify Controller");
        int nn = IdentifyController.decode(buf).nn();
        List<DirtyExtents> out = new ArrayList<>();
        for (int nsid = 1; nsid <= nn && nsid <= 1024; nsid++) {
            dev.admin(new AdminCommands.Identify(AdminCommands.CNS_NAMESPACE, 0, nsid, 0).toSqe(), buf).orThrow("Identify Namespace " + nsid);
            IdentifyNamespace ns = IdentifyNamespace.decode(buf);
            if (ns.nsze() > 0) out.add(new DirtyExtents(nsid, ns.nsze(), ns.lbaSizeBytes()));
        }
        if (out.isEmpty()) throw new CliException(dev.name() + " reports no namespaces to track");
        return out;
    }

    private static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    /** Prints markers and anomalies as the consumer reports them, and ranges as they are taken. */
    private static final class Printer implements CdqListener {
        private final PrintWriter out;
        private final boolean json;

        Printer(PrintWriter out, boolean json) {
            this.out = out;
            this.json = json;
        }

        @Override
        public synchronized void onMarker(CdqMarker m) {
            if (json) out.println(Json.compact(ordered("marker", m.kind().name().toLowerCase(), "esa", m.kind().esa, "slot", m.slot())));
            else out.printf("marker ESA %d (%s) at slot %d%n", m.kind().esa, m.kind().name().toLowerCase().replace('_', ' '), m.slot());
            out.flush();
        }

        @Override
        public synchronized void onAnomaly(CdqAnomaly a) {
            if (json) out.println(Json.compact(ordered("anomaly", a.toString())));
            else out.println("anomaly (entry refused, namespace marked fully dirty): " + a);
            out.flush();
        }

        synchronized void ranges(List<DirtyExtents> namespaces) {
            for (DirtyExtents d : namespaces) {
                while (!d.isEmpty()) {
                    for (LbaRange r : d.takeBatch(64L << 20)) {
                        // nvme-cli's and libnvme's names: nlb is 0's based, as in the entries cdq-read prints
                        if (json) out.println(Json.compact(ordered("nsid", d.nsid(), "slba", r.slba(), "nlb", r.count() - 1)));
                        else out.printf("nsid %d slba %d nlb %d (%d blocks)%n", d.nsid(), r.slba(), r.count() - 1, r.count());
                    }
                }
            }
            out.flush();
        }

        synchronized void stats(long entries, double seconds, List<DirtyExtents> namespaces) {
            long bytes = 0, extents = 0;
            for (DirtyExtents d : namespaces) {
                DirtyExtents.Stats s = d.stats();
                bytes += s.dirtyBytes();
                extents += s.extentCount();
            }
            double rate = seconds > 0 ? entries / seconds : 0;
            if (json) out.println(Json.compact(ordered("entries_per_s", Math.round(rate), "dirty_bytes", bytes, "extents", extents)));
            else out.printf("%,.0f entries/s  dirty %s in %d extents%n", rate, MigrationRun.human(bytes), extents);
            out.flush();
        }

        synchronized void summary(int cdqid, CdqCounters k, List<DirtyExtents> namespaces, boolean drained, boolean broken) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("cdqid", cdqid);
            m.put("entries", k.entries());
            m.put("ranges", k.changeEntries());
            m.put("markers", k.markers());
            m.put("anomalies", k.anomalies());
            m.put("bytes_dirtied", k.bytesDirtied());
            m.put("head_reports", k.headReports());
            m.put("stopped_marker", drained);
            m.put("tracking_broken", broken);
            if (json) {
                out.println(Json.compact(ordered("summary", m)));
            } else {
                out.printf("CDQ 0x%04x deleted: %d entries (%d ranges, %d markers, %d anomalies), %s dirtied, %d head reports%s%n",
                        cdqid, k.entries(), k.changeEntries(), k.markers(), k.anomalies(), MigrationRun.human(k.bytesDirtied()), k.headReports(),
                        broken ? "; QUEUE FULL: changes after it were not logged" : "");
            }
            out.flush();
        }
    }
}
