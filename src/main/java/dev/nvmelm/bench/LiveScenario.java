package dev.nvmelm.bench;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.migrate.MediaMigration;
import dev.nvmelm.migrate.MigrationException;
import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.block.NvmeBlockDevice;
import dev.nvmelm.migrate.state.MigState;
import dev.nvmelm.nbd.BlockDeviceExport;
import dev.nvmelm.nbd.NbdServer;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code nvme-lm bench live}: the same namespace (seeded random data) migrated live by nvme-lm and
 * by QEMU's block mirror while fio's nbd engine writes random 4 KiB blocks through an NBD export
 * at each of several rates, with the same copy-rate cap for both.
 * <ul>
 *   <li>nvme-lm: a served subsystem ({@code device serve}, in process) with two migratable
 *       controllers; fio writes through the NBD export of MC 1's namespace (every request an NVMe
 *       command on MC 1's queues); the engine migrates MC 1 to MC 2 through the sim: socket, as
 *       {@code migrate --source sim:D#1 --dest sim:D#2} does, and the server hands fio's queues
 *       over at the switchover.</li>
 *   <li>QEMU: qemu-storage-daemon exports the source over NBD, fio writes to it, blockdev-mirror
 *       copies to a raw file and job-complete pivots the export to it once READY.</li>
 * </ul>
 * Per run: bytes moved, total time, downtime (ours: suspend to resume on the destination; the
 * mirror: job-complete to COMPLETED), guest IOPS alone and during, the convergence verdict and
 * its time, timelines of bytes remaining and guest IOPS, and whether the destination equals
 * the source (after fio stopped) except what the guest wrote after the switchover.
 */
public final class LiveScenario {
    public static final int LBA = 4096;
    static final List<Tools.Peer> PEERS = List.of(Tools.FIO, Tools.QSD, Tools.NBDINFO);

    /**
     * @param iopsLevels          fio rates; 0 = as fast as it goes at {@code unlimitedQd}
     * @param copyRateBytes       cap for both, bytes/s
     * @param verdictTimeoutS     nvme-lm's --max-time: the stall policy (abort) applies after it
     * @param mirrorReadyTimeoutS the mirror is cancelled when not READY by then ("never ready")
     */
    public record Settings(long sizeBytes, List<Integer> iopsLevels, int unlimitedQd, long copyRateBytes, long maxDowntimeMs,
                           long verdictTimeoutS, double mirrorReadyTimeoutS, long warmupMs, int logAvgMs) {
        public Settings {
            if (sizeBytes < 1 << 20 || sizeBytes % LBA != 0) throw new IllegalArgumentException("--size must be at least 1M and a multiple of 4096");
            if (iopsLevels.isEmpty() || iopsLevels.stream().anyMatch(i -> i < 0)) throw new IllegalArgumentException("--iops: one or more rates >= 0 (0 = as fast as possible)");
            if (copyRateBytes <= 0) throw new IllegalArgumentException("--max-rate must be positive: both tools run with the same cap");
            if (unlimitedQd < 1 || maxDowntimeMs < 1 || verdictTimeoutS < 1 || mirrorReadyTimeoutS < 1 || warmupMs < 300 || logAvgMs < 50) {
                throw new IllegalArgumentException("queue depth, downtime, timeouts must be positive; warm-up at least 300 ms; log window at least 50 ms");
            }
        }

        public static Settings defaults() {
            return new Settings(1L << 30, List.of(500, 5000, 0), 16, 100L << 20, 50, 60, 60, 2000, 250);
        }

        /** Small and short: checks that the harness works, measures nothing. */
        public static Settings quick() {
            return new Settings(16L << 20, List.of(200, 0), 16, 32L << 20, 50, 8, 8, 600, 100);
        }
    }

    private final Path workDir;
    private final Settings s;
    private final PrintWriter log;

    public LiveScenario(Path workDir, Settings settings, PrintWriter log) {
        this.workDir = workDir;
        this.s = settings;
        this.log = log;
    }

    public Map<String, Object> run() throws Exception {
        for (Tools.Peer p : PEERS) Tools.require(p);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("scenario", "live");
        result.put("machine", Machine.probe(PEERS).toJson());
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("size_bytes", s.sizeBytes());
        settings.put("iops_levels", new ArrayList<Object>(s.iopsLevels()));
        settings.put("unlimited_iodepth", s.unlimitedQd());
        settings.put("limited_iodepth", 4);
        settings.put("copy_rate_bytes_per_s", s.copyRateBytes());
        settings.put("max_downtime_ms", s.maxDowntimeMs());
        settings.put("verdict_timeout_s", s.verdictTimeoutS());
        settings.put("mirror_ready_timeout_s", s.mirrorReadyTimeoutS());
        settings.put("guest_warmup_ms", s.warmupMs());
        settings.put("fio_log_avg_ms", s.logAvgMs());
        result.put("settings", settings);
        Path seed = workDir.resolve("seed.img");
        log.printf("bench live: writing a %s random image (the same data for both tools)%n", MigrateScenario.human(s.sizeBytes()));
        log.flush();
        Images.dense(seed, s.sizeBytes(), 9);
        List<Object> levels = new ArrayList<>();
        try {
            for (int iops : s.iopsLevels()) {
                Map<String, Object> level = new LinkedHashMap<>();
                level.put("iops_requested", iops);
                level.put("iodepth", iops == 0 ? s.unlimitedQd() : 4);
                level.put("nvme_lm", ours(seed, iops));
                level.put("qemu_mirror", mirror(seed, iops));
                levels.add(level);
            }
        } finally {
            Files.deleteIfExists(seed);
        }
        result.put("levels", levels);
        return result;
    }

    private static String label(int iops) {
        return iops == 0 ? "unlimited" : iops + " IOPS";
    }

    private static void fill(Path seed, Path file) throws IOException {
        Files.copy(seed, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /** nvme-lm: MC 1 -> MC 2 of a served subsystem while fio writes through MC 1's NBD export. */
    private Map<String, Object> ours(Path seed, int iops) throws Exception {
        Path d = Files.createDirectories(workDir.resolve("nvme-lm-" + iops));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tool", "nvme-lm");
        try {
            Path src = d.resolve("source.img");
            fill(seed, src);
            int qd = iops == 0 ? s.unlimitedQd() : 4;
            log.printf("live %s, nvme-lm: fio through device serve --nbd, MC 1 -> MC 2, cap %s/s%n", label(iops), MigrateScenario.human(s.copyRateBytes()));
            log.flush();
            try (DeviceServer server = DeviceServer.start(new Subsystem.Config(d, s.sizeBytes(), 1, 2, LBA, src), 64L << 20, null);
                 NbdServer nbd = new NbdServer(List.of(new BlockDeviceExport("c1n1", new NvmeBlockDevice(server.device(1), 1), null)), line -> { })) {
                Path sock = d.resolve("nbd.sock");
                nbd.listen(UnixDomainSocketAddress.of(sock));
                try (FioWriter fio = new FioWriter("nbd+unix:///c1n1?socket=" + sock, s.sizeBytes(), iops, qd, d.resolve("fio.json"), d.resolve("fio"), s.logAvgMs());
                     SimNvmeDevice srcMmc = SimNvmeDevice.open(server.deviceString(), Duration.ofSeconds(60));
                     SimNvmeDevice dstMmc = SimNvmeDevice.open(server.deviceString(), Duration.ofSeconds(60))) {
                    Thread.sleep(s.warmupMs());
                    if (!fio.alive()) throw new IOException("fio exited early; see " + d.resolve("fio.json"));
                    var source = new MediaMigration.Side(srcMmc, 1, 1, new NvmeBlockDevice(srcMmc, srcMmc.sharedNsid(1, 1)));
                    var dest = new MediaMigration.Side(dstMmc, 2, 1, new NvmeBlockDevice(srcMmc, srcMmc.sharedNsid(2, 1)));
                    long[] switchNanos = {0};
                    MediaMigration.GuestHandover handover = new MediaMigration.GuestHandover() {
                        @Override public void toDestination() throws NvmeException {
                            switchNanos[0] = System.nanoTime();
                            srcMmc.handover(1, 2);
                        }

                        @Override public void backToSource() throws NvmeException {
                            srcMmc.handover(2, 1);
                        }
                    };
                    List<double[]> remaining = java.util.Collections.synchronizedList(new ArrayList<>());
                    MediaMigration.Options options = MediaMigration.Options.defaults().withOnStall(MediaMigration.OnStall.ABORT)
                            .withMaxDowntime(Duration.ofMillis(s.maxDowntimeMs())).withMaxTime(Duration.ofSeconds(s.verdictTimeoutS()))
                            .withCopy(Copier.Config.defaults().withRateLimit(s.copyRateBytes()));
                    long[] lastLog = {0};
                    MediaMigration mig = new MediaMigration(source, dest, handover, options, System::nanoTime, snap -> {
                        remaining.add(new double[]{snap.elapsedMs() / 1000.0, remainingBytes(snap)});
                        if (snap.elapsedMs() - lastLog[0] >= 2000) {
                            lastLog[0] = snap.elapsedMs();
                            log.printf("  %6.1f s  %-13s remaining %s  pass %d%n", snap.elapsedMs() / 1000.0,
                                    snap.phase().name().toLowerCase(Locale.ROOT), MigrateScenario.human(remainingBytes(snap)), snap.pass());
                            log.flush();
                        }
                    });
                    long t0 = System.nanoTime();
                    MediaMigration.Report r;
                    try (MediaMigration.Outcome out = mig.run()) {
                        long t1 = System.nanoTime();
                        remaining.add(new double[]{(t1 - t0) / 1e9, 0});
                        Thread.sleep(250);   // the guest keeps writing, now on MC 2
                        m.put("fio_iops_overall", Math.round(fio.stopAndReportIops()));
                        r = out.report();
                        m.put("switched_over", true);
                        m.put("switchover_start_s", round3((switchNanos[0] - t0) / 1e9));
                        m.put("switchover_end_s", round3((t1 - t0) / 1e9));
                        // fio stopped: the destination must equal the source except blocks the guest rewrote on MC 2 (its CDQ logged them)
                        Verifier.Result v = out.verify(Verifier.Mode.FULL, 1);
                        m.put("identical", v.ok());
                        m.put("compare", "source namespace vs destination namespace, every block, except blocks the guest rewrote after the switchover"
                                + " (logged by the destination's CDQ); and every extent the engine wrote read back against its CRC32C");
                        m.put("compare_bytes", v.bytesCompared());
                        m.put("compare_bytes_excluded", v.bytesSkipped());
                        m.put("converged", true);
                    } catch (MigrationException e) {
                        long t1 = System.nanoTime();
                        m.put("fio_iops_overall", Math.round(fio.stopAndReportIops()));
                        r = e.report();
                        m.put("switched_over", false);
                        m.put("aborted", e.getMessage());
                        m.put("source_running_after_abort", r != null && r.sourceStates != null && r.sourceStates.state() == MigState.RUNNING);
                        m.put("end_s", round3((t1 - t0) / 1e9));
                        m.put("converged", false);
                    }
                    if (r != null) {
                        MediaMigration.Verdict v = r.verdictDetail;
                        m.put("verdict", r.verdict);
                        if (v != null) m.put("time_to_verdict_s", round3(v.atMs() / 1000.0));
                        long moved = r.bytesCopied + r.bytesZero;
                        m.put("bytes_moved", moved);
                        m.put("copied_per_size", round3((double) moved / s.sizeBytes()));
                        m.put("bytes_dirtied_by_guest", r.cdqBytesDirtied);
                        m.put("copied_per_size_plus_dirtied", round3((double) moved / (s.sizeBytes() + r.cdqBytesDirtied)));
                        m.put("passes", r.passes);
                        if (Boolean.TRUE.equals(m.get("switched_over"))) {
                            m.put("downtime_ms", round3(r.downtimeMs));
                            m.put("downtime_breakdown_ms", new LinkedHashMap<String, Object>(r.downtimeBreakdownMs));
                        }
                        m.put("total_s", round3(r.totalMs / 1000.0));
                    }
                    double migEnd = m.containsKey("switchover_end_s") ? ((Number) m.get("switchover_end_s")).doubleValue() : ((Number) m.get("end_s")).doubleValue();
                    guestIops(m, fio, t0, migEnd);
                    m.put("timeline_remaining", points(remaining));
                }
            }
        } finally {
            MigrateScenario.BenchFiles.deleteTree(d);
        }
        log.printf("  nvme-lm: %s%n", summary(m));
        log.flush();
        return m;
    }

    /** Bytes still to copy: during the bulk pass what it has not reached plus the dirty backlog, after it the backlog. */
    static long remainingBytes(MediaMigration.Snapshot snap) {
        return switch (snap.phase()) {
            case SETUP, BULK -> Math.max(0, snap.bytesTotal() - snap.bytesCopied() - snap.bytesZero()) + snap.backlogBytes();
            case DONE -> 0;
            default -> snap.backlogBytes();
        };
    }

    /** QEMU: qemu-storage-daemon exports the source, fio writes to it, blockdev-mirror to a raw file, job-complete at READY. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> mirror(Path seed, int iops) throws Exception {
        Path d = Files.createDirectories(workDir.resolve("qemu-" + iops));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tool", "qemu-mirror");
        try {
            Path src = d.resolve("src.raw"), dst = d.resolve("dst.raw");
            fill(seed, src);
            try (var ch = java.nio.channels.FileChannel.open(dst, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(s.sizeBytes());
                ch.write(java.nio.ByteBuffer.wrap(new byte[1]), s.sizeBytes() - 1);
            }
            int qd = iops == 0 ? s.unlimitedQd() : 4;
            log.printf("live %s, QEMU: fio through qemu-storage-daemon's export, blockdev-mirror speed %s/s%n", label(iops), MigrateScenario.human(s.copyRateBytes()));
            log.flush();
            MirrorPeer.Result r;
            NavigableMapHolder after = new NavigableMapHolder();
            try (MirrorPeer peer = new MirrorPeer(d, src);
                 FioWriter fio = new FioWriter(peer.nbdUri(), s.sizeBytes(), iops, qd, d.resolve("fio.json"), d.resolve("fio"), s.logAvgMs())) {
                Thread.sleep(s.warmupMs());
                if (!fio.alive()) throw new IOException("fio exited early; see " + d.resolve("fio.json"));
                // once READY: a 4 KiB bitmap on the target records what is written to it from here on
                // (the pivot's last copies and the guest's writes after it), so the check can leave out exactly that
                r = peer.mirror(dst, new MirrorPeer.Job(s.copyRateBytes(), s.mirrorReadyTimeoutS(), Map.of(), null, () -> {
                    try {
                        peer.qmp("block-dirty-bitmap-add", Map.of("node", "dst", "name", "after", "granularity", LBA));
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                }, () -> false, 100));
                long tEnd = System.nanoTime();
                if (r.converged()) Thread.sleep(250);   // the guest keeps writing, now to the target
                m.put("fio_iops_overall", Math.round(fio.stopAndReportIops()));
                m.put("converged", r.converged());
                m.put("switched_over", r.converged());
                m.put("verdict", r.converged() ? String.format(Locale.ROOT, "READY after %.2f s, job-complete at once", r.readySeconds())
                        : String.format(Locale.ROOT, "never READY: cancelled after %.0f s, the source kept running", r.totalSeconds()));
                if (r.converged()) {
                    m.put("time_to_verdict_s", round3(r.readySeconds()));
                    m.put("downtime_ms", round3(r.switchoverSeconds() * 1000));
                    m.put("switchover_start_s", round3((r.completeNanos() - r.startNanos()) / 1e9));
                    m.put("switchover_end_s", round3(r.totalSeconds()));
                } else {
                    m.put("end_s", round3((tEnd - r.startNanos()) / 1e9));
                }
                m.put("bytes_moved", r.bytesCopied());
                m.put("copied_per_size", round3((double) r.bytesCopied() / s.sizeBytes()));
                m.put("total_s", round3(r.totalSeconds()));
                guestIops(m, fio, r.startNanos(), r.converged() ? r.totalSeconds() : (tEnd - r.startNanos()) / 1e9);
                List<double[]> rem = new ArrayList<>();
                for (double[] p : r.remainingTimeline()) rem.add(new double[]{p[0], p[1]});
                m.put("timeline_remaining", points(rem));
                if (r.converged()) {
                    peer.qmp("block-dirty-bitmap-disable", Map.of("node", "dst", "name", "after"));
                    peer.qmp("block-export-add", Map.of("type", "nbd", "id", "exp-after", "node-name", "dst", "name", "after",
                            "writable", false, "bitmaps", List.of("after")));
                    after.map = dirtyMap("nbd+unix:///after?socket=" + peer.nbdSocket());
                }
            }
            if (r.converged()) {
                Compare.Result c = Compare.files(src, dst, after.map);
                m.put("identical", c.equal());
                m.put("compare", "source file vs target file, every byte, except 4 KiB blocks written to the target after READY"
                        + " (a dirty bitmap on the target node, read with nbdinfo --map)");
                m.put("compare_bytes", c.bytesCompared());
                m.put("compare_bytes_excluded", c.bytesExcluded());
                if (!c.equal()) m.put("first_mismatch_offset", c.firstMismatch());
            }
        } finally {
            MigrateScenario.BenchFiles.deleteTree(d);
        }
        log.printf("  QEMU mirror: %s%n", summary(m));
        log.flush();
        return m;
    }

    private static final class NavigableMapHolder {
        java.util.NavigableMap<Long, Long> map = new TreeMap<>();
    }

    /** The dirty ranges of a qemu:dirty-bitmap context, read with nbdinfo --map. */
    static java.util.NavigableMap<Long, Long> dirtyMap(String uri) throws IOException {
        Tools.Result r = Tools.runOk(List.of("nbdinfo", "--map=qemu:dirty-bitmap:after", uri), Duration.ofSeconds(60));
        java.util.NavigableMap<Long, Long> out = new TreeMap<>();
        for (String line : r.output().lines().toList()) {
            String[] f = line.strip().split("\\s+");
            if (f.length < 3) continue;
            long off = Long.parseLong(f[0]), len = Long.parseLong(f[1]);
            if ((Long.parseLong(f[2]) & 1) != 0) out.put(off, off + len);
        }
        return out;
    }

    /** Guest IOPS from fio's log: alone (before the migration, first window left out) and during it; the timeline on the migration's clock. */
    private static void guestIops(Map<String, Object> m, FioWriter fio, long migrationStartNanos, double migrationEndS) throws IOException {
        m.put("guest_max_write_latency_ms", round3(fio.maxWriteLatencyMs()));
        double shift = (fio.startNanos() - migrationStartNanos) / 1e9;
        List<double[]> pts = new ArrayList<>();
        for (double[] p : fio.iopsTimeline()) pts.add(new double[]{p[0] + shift, p[1]});
        List<Double> alone = new ArrayList<>(), during = new ArrayList<>();
        for (int i = 0; i < pts.size(); i++) {
            double t = pts.get(i)[0];
            if (t <= 0 && i > 0) alone.add(pts.get(i)[1]);
            else if (t > 0 && t <= migrationEndS) during.add(pts.get(i)[1]);
        }
        m.put("guest_iops_alone", Math.round(alone.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN)));
        m.put("guest_iops_during", Math.round(during.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN)));
        m.put("timeline_iops", points(pts));
    }

    private static List<Object> points(List<double[]> pts) {
        List<Object> out = new ArrayList<>();
        synchronized (pts) {
            for (double[] p : pts) out.add(List.of(round3(p[0]), Math.round(p[1])));
        }
        return out;
    }

    private static String summary(Map<String, Object> m) {
        return String.format(Locale.ROOT, "%s; moved %s (%.3fx), total %s s, downtime %s ms, guest IOPS %s alone / %s during, identical %s",
                m.get("verdict"), m.containsKey("bytes_moved") ? MigrateScenario.human(((Number) m.get("bytes_moved")).longValue()) : "-",
                m.get("copied_per_size") instanceof Number n ? n.doubleValue() : Double.NaN, m.get("total_s"), m.getOrDefault("downtime_ms", "-"),
                m.get("guest_iops_alone"), m.get("guest_iops_during"), m.getOrDefault("identical", "n/a"));
    }

    static double round3(double v) {
        return Double.isFinite(v) ? Math.round(v * 1000) / 1000.0 : -1;
    }
}
