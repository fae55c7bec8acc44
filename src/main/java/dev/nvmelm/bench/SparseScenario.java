package dev.nvmelm.bench;

import dev.nvmelm.embedded.LiveMigrationRig;
import dev.nvmelm.migrate.MediaMigration;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code nvme-lm bench sparse}: a large sparse namespace (1 TiB with 1 GiB of random data in 1 MiB
 * extents spread over it) migrated file to file by nvme-lm's engine (the {@code migrate
 * --source-image/--dest-image} path: embedded subsystems on both files, no guest) and by QEMU's
 * blockdev-mirror to a raw file, with default options and with unmap (discard=unmap and
 * detect-zeroes=unmap on the target nodes; QEMU 7.2's blockdev-mirror has no "unmap" argument and
 * always unmaps where the target allows it). Time, destination allocation
 * (st_blocks * 512) and a byte comparison; and a dense image of the allocated size migrated the
 * same way in the same run, for the goal "1 TiB sparse <= 2x the time of 1 GiB dense".
 *
 * <p>QEMU with default options fills the target's holes (write-zeroes without unmap is
 * fallocate ZERO_RANGE on ext4/xfs: tens of GiB allocated in a fraction of a second, too fast
 * for a guard to stop in time). So the defaults run on the full size only when a quarter of the
 * free space holds it, otherwise on a smaller sparse image with the same data, and the result
 * says so. Every mirror job also has a guard that cancels it once the target holds more than
 * expected ({@code guardFactor} times the source's allocation; the whole image for the
 * defaults), never more than a quarter of the free space.
 */
public final class SparseScenario {
    public static final int LBA = 4096;
    static final List<Tools.Peer> PEERS = List.of(Tools.QSD);

    /**
     * @param timeoutS each mirror job is cancelled after this long
     */
    public record Settings(long sparseBytes, long allocatedBytes, double timeoutS, int guardFactor) {
        public Settings {
            if (allocatedBytes < 1 << 20 || allocatedBytes % (1 << 20) != 0 || sparseBytes < 2 * allocatedBytes || sparseBytes % (1 << 20) != 0) {
                throw new IllegalArgumentException("--allocated must be whole MiB (at least 1M) and --size at least twice that, in whole MiB");
            }
            if (timeoutS < 1 || guardFactor < 2) throw new IllegalArgumentException("timeout at least 1 s, guard factor at least 2");
        }

        public static Settings defaults() {
            return new Settings(1L << 40, 1L << 30, 900, 8);
        }

        /** Small and short: checks that the harness works, measures nothing. */
        public static Settings quick() {
            return new Settings(1L << 30, 8L << 20, 60, 8);
        }
    }

    private final Path workDir;
    private final Settings s;
    private final PrintWriter log;

    public SparseScenario(Path workDir, Settings settings, PrintWriter log) {
        this.workDir = workDir;
        this.s = settings;
        this.log = log;
    }

    public Map<String, Object> run() throws Exception {
        for (Tools.Peer p : PEERS) Tools.require(p);
        // source sparse + dense source + at most two destinations of the allocated size live at once, plus the guard's room
        long need = 4 * s.allocatedBytes() + (long) s.guardFactor() * s.allocatedBytes() + (1L << 30);
        long free = Files.getFileStore(workDir).getUsableSpace();
        if (free < need) {
            throw new IllegalStateException("bench sparse needs about " + MigrateScenario.human(need) + " free in " + workDir + ", there are "
                    + MigrateScenario.human(free) + "; use --work-dir on a larger file system (ext4, xfs or tmpfs: sparse files)");
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("scenario", "sparse");
        result.put("machine", Machine.probe(PEERS).toJson());
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("sparse_size_bytes", s.sparseBytes());
        settings.put("allocated_bytes", s.allocatedBytes());
        settings.put("dense_size_bytes", s.allocatedBytes());
        settings.put("mirror_timeout_s", s.timeoutS());
        settings.put("guard_factor", s.guardFactor());
        settings.put("file_system", Files.getFileStore(workDir).type());
        result.put("settings", settings);

        Path sparse = workDir.resolve("sparse.img"), dense = workDir.resolve("dense.img");
        log.printf("bench sparse: a %s sparse image with %s of random data in 1 MiB extents, and a %s dense one%n",
                MigrateScenario.human(s.sparseBytes()), MigrateScenario.human(s.allocatedBytes()), MigrateScenario.human(s.allocatedBytes()));
        log.flush();
        long data = Images.sparse(sparse, s.sparseBytes(), (double) s.allocatedBytes() / s.sparseBytes(), 21);
        Images.dense(dense, s.allocatedBytes(), 22);
        result.put("source_data_bytes", data);
        result.put("source_allocated_bytes", Images.allocatedBytes(sparse));
        List<Object> rows = new ArrayList<>();
        try {
            rows.add(ours("nvme-lm", "dense", dense));
            rows.add(ours("nvme-lm", "sparse", sparse));
            rows.add(mirror("QEMU mirror, defaults", "dense", dense, false));
            // QEMU's defaults allocate every hole of the target (write-zeroes without unmap: fallocate ZERO_RANGE, tens of
            // GiB in a fraction of a second), faster than any guard can stop: run them on the full size only where it fits
            long defaultsSize = defaultsSize(Files.getFileStore(workDir).getUsableSpace());
            if (defaultsSize == s.sparseBytes()) {
                rows.add(mirror("QEMU mirror, defaults", "sparse", sparse, false, s.sparseBytes() + (64L << 20)));
            } else {
                Path smaller = workDir.resolve("sparse-smaller.img");
                try {
                    Images.sparse(smaller, defaultsSize, (double) s.allocatedBytes() / defaultsSize, 21);
                    Map<String, Object> r = mirror("QEMU mirror, defaults", "sparse-smaller", smaller, false, defaultsSize + (64L << 20));
                    r.put("note", "run on a " + MigrateScenario.human(defaultsSize) + " sparse image with the same data, not " + MigrateScenario.human(s.sparseBytes())
                            + ": QEMU's defaults allocate the whole target, which would not fit in the " + MigrateScenario.human(Files.getFileStore(workDir).getUsableSpace())
                            + " free here");
                    rows.add(r);
                } finally {
                    Files.deleteIfExists(smaller);
                }
            }
            rows.add(mirror("QEMU mirror, unmap", "dense", dense, true));
            rows.add(mirror("QEMU mirror, unmap", "sparse", sparse, true));
        } finally {
            Files.deleteIfExists(sparse);
            Files.deleteIfExists(dense);
        }
        result.put("results", rows);
        return result;
    }

    /** The sparse size on which the defaults (which allocate the whole target) can run: all of it if it fits with room to spare. */
    long defaultsSize(long free) {
        if (free / 4 >= s.sparseBytes() + (64L << 20)) return s.sparseBytes();
        long size = Long.highestOneBit(Math.max(free / 8, 2 * s.allocatedBytes()));
        return Math.max(Math.min(size, 16L << 30), 2 * s.allocatedBytes());
    }

    private Map<String, Object> row(String tool, String image, Path src) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tool", tool);
        m.put("image", image);
        m.put("size_bytes", Files.size(src));
        return m;
    }

    /** nvme-lm: a live migration of the file's namespace to a new file, no guest, no rate cap. */
    private Map<String, Object> ours(String tool, String image, Path src) throws Exception {
        Map<String, Object> m = row(tool, image, src);
        Path dst = workDir.resolve("ours-dst.img"), rig = workDir.resolve("ours-rig");
        Files.deleteIfExists(dst);
        try {
            long t0 = System.nanoTime();
            MediaMigration.Report r;
            try (LiveMigrationRig rigs = new LiveMigrationRig(src, dst, rig, Files.size(src), LBA);
                 MediaMigration.Outcome out = new MediaMigration(rigs.sourceSide(), rigs.destinationSide(), rigs.handover(),
                         MediaMigration.Options.defaults(), System::nanoTime, null).run()) {
                r = out.report();
            }
            double seconds = (System.nanoTime() - t0) / 1e9;   // includes opening both subsystems and closing (flushing) them
            m.put("seconds", LiveScenario.round3(seconds));
            m.put("engine_total_s", LiveScenario.round3(r.totalMs / 1000.0));
            m.put("downtime_ms", LiveScenario.round3(r.downtimeMs));
            m.put("bytes_data_copied", r.bytesCopied);
            m.put("bytes_zero_or_hole", r.bytesZero);
            finish(m, src, dst);
        } finally {
            Files.deleteIfExists(dst);
            MigrateScenario.BenchFiles.deleteTree(rig);
        }
        return m;
    }

    /** QEMU: blockdev-mirror of the file (through qemu-storage-daemon) to a new sparse raw file, job-complete at READY. */
    private Map<String, Object> mirror(String tool, String image, Path src, boolean unmap) throws Exception {
        return mirror(tool, image, src, unmap, s.guardFactor() * Images.allocatedBytes(src) + (64L << 20));
    }

    /** @param guardBytes the job is cancelled once the target holds more than this (never more than a quarter of the free space) */
    private Map<String, Object> mirror(String tool, String image, Path src, boolean unmap, long guardBytes) throws Exception {
        Map<String, Object> m = row(tool, image, src);
        Path d = Files.createDirectories(workDir.resolve("qemu"));
        Path dst = d.resolve("dst.raw");
        try {
            try (var f = new java.io.RandomAccessFile(dst.toFile(), "rw")) {
                f.setLength(Files.size(src));   // ftruncate, as qemu-img create -f raw: all hole
            }
            long srcAllocated = Images.allocatedBytes(src);
            long guard = Math.min(guardBytes, Files.getFileStore(workDir).getUsableSpace() / 4);
            Map<String, Object> target = unmap ? Map.of("discard", "unmap", "detect-zeroes", "unmap") : Map.of();
            // QEMU 7.2's blockdev-mirror has no "unmap" argument (drive-mirror has): it always passes unmap=true, which takes effect
            // only when the target node allows discards
            m.put("options", unmap ? "target nodes discard=unmap, detect-zeroes=unmap (blockdev-mirror always unmaps where the target allows)"
                    : "QEMU defaults (raw file target, no discard)");
            long t0 = System.nanoTime();
            MirrorPeer.Result r;
            try (MirrorPeer peer = new MirrorPeer(d, src)) {
                r = peer.mirror(dst, new MirrorPeer.Job(0, s.timeoutS(), target, null, () -> { }, () -> {
                    try {
                        return Images.allocatedBytes(dst) > guard;
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                }, 20));
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            m.put("seconds", LiveScenario.round3(r.converged() ? r.totalSeconds() : seconds));
            m.put("bytes_moved", r.bytesCopied());
            if (r.converged()) {
                finish(m, src, dst);
            } else {
                long alloc = Images.allocatedBytes(dst);
                m.put("completed", false);
                m.put("dest_allocated_bytes", alloc);
                m.put("why", r.stoppedEarly()
                        ? String.format(Locale.ROOT, "cancelled by the disk guard after %.1f s: the target held %s (the source has %s allocated), QEMU was allocating its holes",
                        seconds, MigrateScenario.human(alloc), MigrateScenario.human(srcAllocated))
                        : String.format(Locale.ROOT, "not done after %.0f s, cancelled", s.timeoutS()));
            }
        } finally {
            MigrateScenario.BenchFiles.deleteTree(d);
        }
        log.printf("  %-24s %-14s %s%n", tool, image, m.containsKey("why") ? m.get("why") : m.get("seconds") + " s, destination allocated "
                + MigrateScenario.human(((Number) m.get("dest_allocated_bytes")).longValue()));
        log.flush();
        return m;
    }

    private void finish(Map<String, Object> m, Path src, Path dst) throws IOException {
        m.put("completed", true);
        m.put("dest_allocated_bytes", Images.allocatedBytes(dst));
        Compare.Result c = Compare.files(src, dst);
        m.put("identical", c.equal());
        if (!c.equal()) m.put("first_mismatch_offset", c.firstMismatch());
        if (m.get("tool").equals("nvme-lm")) {
            log.printf("  %-24s %-14s %s s, destination allocated %s%n", m.get("tool"), m.get("image"), m.get("seconds"),
                    MigrateScenario.human(((Number) m.get("dest_allocated_bytes")).longValue()));
            log.flush();
        }
    }
}
