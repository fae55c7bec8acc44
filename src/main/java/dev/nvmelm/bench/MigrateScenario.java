package dev.nvmelm.bench;

import dev.nvmelm.embedded.LiveMigrationRig;
import dev.nvmelm.migrate.MediaMigration;
import dev.nvmelm.migrate.MigrationException;
import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.migrate.state.MigState;
import dev.nvmelm.migrate.workload.Workload;
import dev.nvmelm.migrate.workload.WorkloadSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code nvme-lm bench migrate}: live migration on the embedded controller under a guest writing
 * random 4 KiB blocks through its own I/O queues. Scenario A: a modest writer (500 IOPS): how
 * many bytes move relative to the disk plus what the guest dirtied, the passes, the downtime and
 * where it went, the total time. Scenario B: a writer as fast as asked (30k IOPS, or what this
 * machine drives): the convergence verdict and the time to reach it. Every migration that
 * switches over is verified byte for byte and against the guest's own oracle. QEMU's mirror is
 * either run live ({@code --qemu}, with qemu-storage-daemon and fio) or quoted from the
 * reference's measurements, labelled as such.
 */
public final class MigrateScenario {
    public static final int LBA = 4096;

    /**
     * @param copyRateBytes cap on the copy (bytes/s, 0 = none); 100 MiB/s is the reference's mirror speed
     */
    public record Settings(long sizeBytes, int iopsA, int iopsB, int queueDepthB, long copyRateBytes, long maxDowntimeMs,
                           long verdictTimeoutSeconds, MediaMigration.OnStall onStallB, boolean qemu, long warmupMillis) {
        public Settings {
            if (sizeBytes < 1 << 20 || sizeBytes % LBA != 0) throw new IllegalArgumentException("--size must be at least 1M and a multiple of 4096");
            if (iopsA < 0 || iopsB < 0) throw new IllegalArgumentException("IOPS must be >= 0 (0 = as fast as possible)");
            if (queueDepthB < 1 || queueDepthB > 256) throw new IllegalArgumentException("--qd-b must be 1..256");
            if (copyRateBytes < 0) throw new IllegalArgumentException("--rate must be >= 0");
            if (maxDowntimeMs < 1) throw new IllegalArgumentException("--max-downtime must be at least 1 ms");
            if (verdictTimeoutSeconds < 1) throw new IllegalArgumentException("--verdict-timeout must be at least 1 s");
            if (warmupMillis < 100) throw new IllegalArgumentException("the guest needs at least 100 ms alone to measure its rate");
        }

        public static Settings defaults() {
            return new Settings(1L << 30, 500, 30_000, 16, 100L << 20, 50, 120, MediaMigration.OnStall.ABORT, false, 1000);
        }

        /** Small and short: checks that the harness works, measures nothing. */
        public static Settings quick() {
            return new Settings(8L << 20, 200, 4000, 8, 32L << 20, 50, 20, MediaMigration.OnStall.ABORT, false, 200);
        }
    }

    private final Path workDir;
    private final Settings s;
    private final PrintWriter log;

    public MigrateScenario(Path workDir, Settings settings, PrintWriter log) {
        this.workDir = workDir;
        this.s = settings;
        this.log = log;
    }

    public Map<String, Object> run() throws Exception {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("scenario", "migrate");
        List<Tools.Peer> peers = s.qemu() ? List.of(Tools.QSD, Tools.FIO) : List.of();
        result.put("machine", Machine.probe(peers).toJson());
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("size_bytes", s.sizeBytes());
        settings.put("iops_a", s.iopsA());
        settings.put("iops_b", s.iopsB());
        settings.put("queue_depth_b", s.queueDepthB());
        settings.put("copy_rate_bytes_per_s", s.copyRateBytes());
        settings.put("max_downtime_ms", s.maxDowntimeMs());
        settings.put("verdict_timeout_s", s.verdictTimeoutSeconds());
        settings.put("on_stall_b", s.onStallB().name().toLowerCase(Locale.ROOT));
        settings.put("guest_warmup_ms", s.warmupMillis());
        result.put("settings", settings);
        Path image = workDir.resolve("src.img");
        log.printf("bench migrate: writing a %s random image%n", human(s.sizeBytes()));
        log.flush();
        Images.dense(image, s.sizeBytes(), 1);
        result.put("a", migrate("A", image, s.iopsA(), 4, MediaMigration.OnStall.ABORT));
        Images.dense(image, s.sizeBytes(), 2);
        result.put("b", migrate("B", image, s.iopsB(), s.queueDepthB(), s.onStallB()));
        Files.deleteIfExists(image);
        if (s.qemu()) result.put("qemu_measured", qemu());
        result.put("qemu_reference", reference());
        return result;
    }

    private MediaMigration.Options options(MediaMigration.OnStall onStall) {
        return MediaMigration.Options.defaults().withOnStall(onStall).withMaxDowntime(Duration.ofMillis(s.maxDowntimeMs()))
                .withMaxTime(Duration.ofSeconds(s.verdictTimeoutSeconds()))
                .withCopy(Copier.Config.defaults().withRateLimit(s.copyRateBytes()));
    }

    /** One live migration of {@code image} under a guest at {@code iops}; the image is changed by the guest. */
    private Map<String, Object> migrate(String name, Path image, int iops, int qd, MediaMigration.OnStall onStall) throws Exception {
        Map<String, Object> m = new LinkedHashMap<>();
        Path dst = workDir.resolve(name.toLowerCase(Locale.ROOT) + "-dst.img");
        Files.deleteIfExists(dst);
        try (LiveMigrationRig rig = new LiveMigrationRig(image, dst, workDir.resolve(name.toLowerCase(Locale.ROOT) + "-rig"), s.sizeBytes(), LBA)) {
            WorkloadSpec spec = WorkloadSpec.parse("random-write:iops=" + iops + ",bs=4k,qd=" + qd + ",seed=" + (int) name.charAt(0));
            Workload guest = new Workload(rig.guest(), LiveMigrationRig.NSID, s.sizeBytes(), LBA, spec, System::nanoTime);
            guest.start();
            Thread.sleep(s.warmupMillis());   // the guest alone for a while: its baseline rate on this machine
            long w0 = guest.guestWrites(), t0 = System.nanoTime();
            double baseline = w0 / guest.elapsedSeconds();
            log.printf("scenario %s: guest asks for %d IOPS (qd %d), alone it does %.0f; migrating %s%n", name, iops, qd, baseline, human(s.sizeBytes()));
            log.flush();
            long[] lastLog = {0};
            MediaMigration mig = new MediaMigration(rig.sourceSide(), rig.destinationSide(), rig.handover(), options(onStall), System::nanoTime, snap -> {
                if (snap.elapsedMs() - lastLog[0] < 1000) return;
                lastLog[0] = snap.elapsedMs();
                log.printf("  %s %6.1f s  %-13s copied %s  backlog %s  pass %d  %s%n", name, snap.elapsedMs() / 1000.0,
                        snap.phase().name().toLowerCase(Locale.ROOT), human(snap.bytesCopied() + snap.bytesZero()), human(snap.backlogBytes()),
                        snap.pass(), snap.verdict());
                log.flush();
            });
            m.put("guest_iops_requested", iops);
            m.put("guest_queue_depth", qd);
            m.put("guest_iops_alone", Math.round(baseline));
            MediaMigration.Report r;
            boolean switched;
            try (MediaMigration.Outcome out = mig.run()) {
                long t1 = System.nanoTime(), w1 = guest.guestWrites();
                Thread.sleep(200);   // the guest keeps writing on the destination
                guest.stop();
                r = out.report();
                switched = true;
                m.put("guest_iops_during_migration", Math.round((w1 - w0) * 1e9 / (t1 - t0)));
                Verifier.Result v = out.verify(Verifier.Mode.FULL, 1);
                Workload.Check c = guest.check(rig.destinationData());
                m.put("verified", v.ok() && c.badBlocks() == 0 && guest.errors.get() == 0);
                m.put("verify_bytes_compared", v.bytesCompared());
                m.put("guest_blocks_checked", c.blocksChecked());
                m.put("guest_bad_blocks", c.badBlocks());
                m.put("guest_errors", guest.errors.get());
            } catch (MigrationException e) {
                long t1 = System.nanoTime(), w1 = guest.guestWrites();
                guest.stop();
                r = e.report();
                switched = false;
                m.put("guest_iops_during_migration", Math.round((w1 - w0) * 1e9 / (t1 - t0)));
                m.put("aborted", e.getMessage());
                m.put("source_running_after_abort", r != null && r.sourceStates.state() == MigState.RUNNING);
                m.put("guest_errors", guest.errors.get());
                m.put("guest_source_bad_blocks", guest.check(rig.sourceData()).badBlocks());
                if (r == null) return m;
            }
            m.put("switched_over", switched);
            MediaMigration.Verdict v = r.verdictDetail;
            m.put("converged", v != null && v.converged());
            m.put("verdict", r.verdict);
            if (v != null) {
                m.put("time_to_verdict_ms", v.atMs());
                m.put("dirty_rate_bytes_per_s", Math.round(v.dirtyRateBps()));
                m.put("copy_rate_bytes_per_s", Math.round(v.copyRateBps()));
                m.put("backlog_at_verdict_bytes", v.backlogBytes());
                m.put("predicted_stop_ms", round1(v.predictedStopMs()));
            }
            long moved = r.bytesCopied + r.bytesZero;
            m.put("bytes_total", s.sizeBytes());
            m.put("bytes_copied", moved);
            m.put("bytes_bulk", r.bytesBulk);
            m.put("bytes_dirty_copied", r.bytesDirty);
            m.put("bytes_in_stop", r.bytesFinal);
            m.put("bytes_ignored_ahead_of_bulk", r.bytesIgnoredAhead);
            m.put("bytes_dirtied_by_guest", r.cdqBytesDirtied);
            m.put("copied_per_size", round3((double) moved / s.sizeBytes()));
            m.put("copied_per_size_plus_dirtied", round3((double) moved / (s.sizeBytes() + r.cdqBytesDirtied)));
            m.put("passes", r.passes);
            m.put("cdq_entries", r.cdqEntries);
            m.put("tracking_restarts", r.trackingRestarts);
            m.put("throttle_iops", r.throttleIops);
            if (switched) {
                m.put("downtime_ms", round1(r.downtimeMs));
                m.put("downtime_breakdown_ms", new LinkedHashMap<String, Object>(r.downtimeBreakdownMs));
            }
            m.put("bulk_ms", r.bulkMs);
            m.put("total_ms", r.totalMs);
        } finally {
            Files.deleteIfExists(dst);
        }
        return m;
    }

    /** QEMU's live mirror with fio through its NBD export: the same two writers, the same speed cap. */
    private Map<String, Object> qemu() throws Exception {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("a", mirror("A", s.iopsA(), 30));
        m.put("b", mirror("B", 0, Math.min(60, s.verdictTimeoutSeconds())));
        return m;
    }

    private Map<String, Object> mirror(String name, int iops, double readyTimeoutSeconds) throws Exception {
        Path dir = Files.createDirectories(workDir.resolve("qemu-" + name.toLowerCase(Locale.ROOT)));
        Path src = dir.resolve("src.raw"), dst = dir.resolve("dst.raw");
        Images.dense(src, s.sizeBytes(), 3);
        try (var ch = java.nio.channels.FileChannel.open(dst, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(s.sizeBytes());
            ch.write(java.nio.ByteBuffer.wrap(new byte[1]), s.sizeBytes() - 1);
        }
        log.printf("qemu mirror %s: fio at %s, speed %s/s%n", name, iops == 0 ? "full speed (qd 16)" : iops + " IOPS", human(s.copyRateBytes()));
        log.flush();
        Map<String, Object> m = new LinkedHashMap<>();
        try (MirrorPeer peer = new MirrorPeer(dir, src);
             FioWriter fio = new FioWriter(peer.nbdUri(), s.sizeBytes(), iops, dir.resolve("fio.json"))) {
            Thread.sleep(2000);
            double[] fioIops = {Double.NaN};
            MirrorPeer.Result r = peer.mirror(dst, s.copyRateBytes(), 0, readyTimeoutSeconds, () -> {
                try {
                    fioIops[0] = fio.stopAndReportIops();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            if (Double.isNaN(fioIops[0])) fioIops[0] = fio.stopAndReportIops();
            m.put("fio_iops", Math.round(fioIops[0]));
            m.put("converged", r.converged());
            m.put("ready_s", round3(r.readySeconds()));
            m.put("switchover_s", round3(r.switchoverSeconds()));
            m.put("total_s", round3(r.totalSeconds()));
            m.put("bytes_copied", r.bytesCopied());
            m.put("copied_per_size", round3((double) r.bytesCopied() / s.sizeBytes()));
            m.put("identical", r.converged() && Files.mismatch(src, dst) == -1L);
        } finally {
            BenchFiles.deleteTree(dir);
        }
        return m;
    }

    /** Measured by hand before this harness could run QEMU (docs/benchmarks.md): QEMU 7.2 blockdev-mirror on the project machine, 1 GiB, fio 4 KiB randwrite, 100 MiB/s. */
    static Map<String, Object> reference() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("source", "QEMU 7.2 blockdev-mirror measured by hand on a machine of this kind before this harness ran it (docs/benchmarks.md), not by this run");
        m.put("D_500_iops_64k_granularity", Map.of("ready_s", 13.24, "copied_mib", 1412, "copied_per_size", 1.379, "switchover_s", 0.140));
        m.put("E_500_iops_4k_granularity", Map.of("ready_s", 11.29, "copied_mib", 1046, "copied_per_size", 1.021, "switchover_s", 0.077));
        m.put("F_unthrottled_qd16_37k_iops", Map.of("ready", "never (gave up at 40 s, remaining about 950 MiB throughout)", "copied_mib", 3712));
        m.put("J_500_iops_through_switchover", Map.of("guest_max_write_latency_ms", 108.6, "switchover_s", 0.110));
        return m;
    }

    /** The result as a table for people. */
    @SuppressWarnings("unchecked")
    public static String table(Map<String, Object> result) {
        StringBuilder b = new StringBuilder();
        Map<String, Object> settings = (Map<String, Object>) result.get("settings");
        b.append(String.format("nvme-lm bench migrate: %s namespace, copy capped at %s/s, downtime budget %s ms%n",
                human(num(settings.get("size_bytes"))), human(num(settings.get("copy_rate_bytes_per_s"))), settings.get("max_downtime_ms")));
        b.append(String.format("%-24s %14s %14s%n", "", "A", "B"));
        Map<String, Object> a = (Map<String, Object>) result.get("a"), bb = (Map<String, Object>) result.get("b");
        String[][] rows = {
                {"guest IOPS asked", "guest_iops_requested"}, {"guest IOPS alone", "guest_iops_alone"},
                {"guest IOPS migrating", "guest_iops_during_migration"}, {"converged", "converged"}, {"switched over", "switched_over"},
                {"verified", "verified"}, {"time to verdict ms", "time_to_verdict_ms"}, {"passes", "passes"},
                {"copied / size", "copied_per_size"}, {"copied / (size+dirtied)", "copied_per_size_plus_dirtied"},
                {"ignored ahead of bulk", "bytes_ignored_ahead_of_bulk"}, {"downtime ms", "downtime_ms"},
                {"bulk ms", "bulk_ms"}, {"total ms", "total_ms"}, {"dirty rate B/s", "dirty_rate_bytes_per_s"},
                {"copy rate B/s", "copy_rate_bytes_per_s"}};
        for (String[] r : rows) b.append(String.format("%-24s %14s %14s%n", r[0], cell(a.get(r[1])), cell(bb.get(r[1]))));
        for (var side : List.of(Map.entry("A", a), Map.entry("B", bb))) {
            Object bd = side.getValue().get("downtime_breakdown_ms");
            if (bd != null) b.append(String.format("downtime %s: %s%n", side.getKey(), bd));
            b.append(String.format("verdict %s: %s%n", side.getKey(), side.getValue().get("verdict")));
        }
        Object q = result.get("qemu_measured");
        if (q != null) b.append("QEMU mirror, measured now: ").append(q).append(System.lineSeparator());
        b.append("QEMU mirror, measured by hand earlier (not this run): D 500 IOPS 64K: READY 13.24 s, 1412 MiB copied (1.38x), switchover 140 ms;")
                .append(" E 4K: 1046 MiB (1.02x), 77 ms; F 37k IOPS: never READY").append(System.lineSeparator());
        return b.toString();
    }

    private static String cell(Object v) {
        if (v == null) return "-";
        if (v instanceof Double d) return String.format(Locale.ROOT, "%.3f", d);
        return String.valueOf(v);
    }

    private static long num(Object o) {
        return ((Number) o).longValue();
    }

    private static double round1(double v) {
        return Math.round(v * 10) / 10.0;
    }

    private static double round3(double v) {
        return Double.isFinite(v) ? Math.round(v * 1000) / 1000.0 : -1;
    }

    static String human(long b) {
        if (b < 1024) return b + " B";
        if (b < 1 << 20) return String.format(Locale.ROOT, "%.1f KiB", b / 1024.0);
        if (b < 1L << 30) return String.format(Locale.ROOT, "%.1f MiB", b / 1048576.0);
        return String.format(Locale.ROOT, "%.2f GiB", b / 1073741824.0);
    }

    /** Small file helpers. */
    static final class BenchFiles {
        private BenchFiles() {}

        static void deleteTree(Path dir) throws java.io.IOException {
            if (!Files.exists(dir)) return;
            try (var st = Files.walk(dir)) {
                for (Path p : st.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }
}
