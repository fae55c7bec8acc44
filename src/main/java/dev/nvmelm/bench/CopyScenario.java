package dev.nvmelm.bench;

import dev.nvmelm.util.Json;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code nvme-lm bench copy}: the same dense and sparse images copied file to file by nvme-lm's
 * engine and by the tools a user would otherwise pick (cp, dd, qemu-img convert, nbdcopy, and
 * nbdcopy reading a qemu-nbd export), runs interleaved, median reported, every output checked
 * byte for byte against its source. A copy counts once it is durable: cp, dd, qemu-img and nbdcopy
 * return with the data still in the page cache, so every contender's time is its own run plus an
 * fsync of the destination done here, the same way for all (the copy-only time is kept too), and
 * starts with the source in the page cache (see {@link #warm}).
 */
public final class CopyScenario {

    /** One way of copying src to dst. */
    public interface Contender {
        String name();

        /** Copies and returns the wall time in seconds. */
        double copy(Path src, Path dst) throws IOException;
    }

    /** A peer tool run as a process. */
    public record Command(String name, Tools.Peer peer, java.util.function.BiFunction<Path, Path, List<String>> argv)
            implements Contender {
        @Override
        public double copy(Path src, Path dst) throws IOException {
            return Tools.runOk(argv.apply(src, dst), Duration.ofMinutes(30)).seconds();
        }
    }

    public static List<Contender> peers() {
        return List.of(
                new Command("cp", Tools.CP, (s, d) -> List.of("cp", "--sparse=auto", s.toString(), d.toString())),
                new Command("dd", Tools.DD, (s, d) -> List.of("dd", "if=" + s, "of=" + d, "bs=1M", "conv=sparse", "status=none")),
                new Command("qemu-img convert", Tools.QEMU_IMG,
                        (s, d) -> List.of("qemu-img", "convert", "-f", "raw", "-O", "raw", s.toString(), d.toString())),
                new Command("nbdcopy", Tools.NBDCOPY, (s, d) -> List.of("nbdcopy", s.toString(), d.toString())),
                new Command("nbdcopy (qemu-nbd source)", Tools.NBDCOPY,
                        (s, d) -> List.of("nbdcopy", "--", "[", "qemu-nbd", "-r", "-f", "raw", s.toString(), "]", d.toString())));
    }

    private final Path workDir;
    private final long sizeBytes;
    private final int runs;
    private final List<Contender> contenders;
    private final PrintWriter log;

    private final List<ProcessCopies.Tool> processes;

    public CopyScenario(Path workDir, long sizeBytes, int runs, List<Contender> contenders, PrintWriter log) {
        this(workDir, sizeBytes, runs, contenders, List.of(), log);
    }

    /**
     * @param contenders in-process and peer copies (none: only whole processes are measured)
     * @param processes  whole processes started fresh per run ({@link ProcessCopies}); none: skipped
     */
    public CopyScenario(Path workDir, long sizeBytes, int runs, List<Contender> contenders, List<ProcessCopies.Tool> processes, PrintWriter log) {
        this.workDir = workDir;
        this.sizeBytes = sizeBytes;
        this.runs = runs;
        this.contenders = contenders;
        this.processes = processes;
        this.log = log;
    }

    public Map<String, Object> run() throws IOException {
        for (Tools.Peer p : List.of(Tools.CP, Tools.DD, Tools.QEMU_IMG, Tools.NBDCOPY, Tools.QEMU_NBD)) Tools.require(p);
        if (!processes.isEmpty()) Tools.require(ProcessCopies.GNU_TIME);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("scenario", "copy");
        result.put("size_bytes", sizeBytes);
        result.put("runs", runs);
        result.put("machine", Machine.probe(List.of(Tools.CP, Tools.DD, Tools.QEMU_IMG, Tools.NBDCOPY, Tools.QEMU_NBD)).toJson());
        Path dense = workDir.resolve("dense.img");
        Images.dense(dense, sizeBytes, 1);
        fsync(dense);   // the images' own writeback must not run under the first contender's copy
        if (!processes.isEmpty()) {
            // whole processes first: what a user runs (issue 17); dense, and 10 % of it in holes
            Path holes = workDir.resolve("holes.img");
            long holesData = Images.sparse(holes, sizeBytes, 0.90, 3);
            fsync(holes);
            List<Object> procs = new ArrayList<>();
            procs.add(processImage("dense", dense, sizeBytes));
            procs.add(processImage("10% holes", holes, holesData));
            Files.deleteIfExists(holes);
            result.put("processes", procs);
        }
        if (!contenders.isEmpty()) {
            List<Object> images = new ArrayList<>();
            Path sparse = workDir.resolve("sparse.img");
            long sparseData = Images.sparse(sparse, sizeBytes, 0.10, 2);
            fsync(sparse);
            images.add(measure("dense", dense, sizeBytes));
            images.add(measure("sparse", sparse, sparseData));
            Files.deleteIfExists(sparse);
            result.put("images", images);
        }
        Files.deleteIfExists(dense);
        return result;
    }

    private Map<String, Object> processImage(String kind, Path src, long dataBytes) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("image", kind);
        m.put("data_bytes", dataBytes);
        m.put("timed_until", "durable: the process (a new one per run, page cache warm) plus fsync(destination)");
        m.put("results", ProcessCopies.measure(kind, src, workDir, runs, processes, log));
        return m;
    }

    private Map<String, Object> measure(String kind, Path src, long dataBytes) throws IOException {
        Map<String, List<Double>> times = new LinkedHashMap<>(), copyOnly = new LinkedHashMap<>();
        Map<String, Long> allocated = new LinkedHashMap<>();
        for (Contender c : contenders) {
            times.put(c.name(), new ArrayList<>());
            copyOnly.put(c.name(), new ArrayList<>());
        }
        Path dst = workDir.resolve("dst.img");
        for (int run = 0; run < runs; run++) {
            for (Contender c : contenders) {      // interleaved: every tool sees the same cache state
                Files.deleteIfExists(dst);
                warm(src);
                double s = c.copy(src, dst);
                double sync = fsync(dst);
                if (Files.mismatch(src, dst) != -1L) throw new IOException(c.name() + " produced a copy that differs from " + src);
                times.get(c.name()).add(s + sync);
                copyOnly.get(c.name()).add(s);
                allocated.put(c.name(), Images.allocatedBytes(dst));
                log.printf("  %-6s run %d/%d  %-28s %7.3f s (copy %.3f + fsync %.3f)%n", kind, run + 1, runs, c.name(), s + sync, s, sync);
                log.flush();
            }
        }
        Files.deleteIfExists(dst);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("image", kind);
        m.put("data_bytes", dataBytes);
        m.put("timed_until", "durable: the tool's run plus fsync(destination)");
        List<Object> rows = new ArrayList<>();
        for (Contender c : contenders) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("tool", c.name());
            r.put("median_s", Stats.median(times.get(c.name())));
            r.put("min_s", Stats.min(times.get(c.name())));
            r.put("max_s", Stats.max(times.get(c.name())));
            r.put("dest_allocated_bytes", allocated.get(c.name()));
            r.put("times_s", new ArrayList<Object>(times.get(c.name())));
            r.put("median_copy_only_s", Stats.median(copyOnly.get(c.name())));
            r.put("copy_only_times_s", new ArrayList<Object>(copyOnly.get(c.name())));
            rows.add(r);
        }
        m.put("results", rows);
        return m;
    }

    /**
     * Reads the source once, untimed, right before each copy: every tool starts from a source in
     * the page cache. Without it the start state depends on the kernel's proactive reclaim
     * (DAMON runs here), and whoever runs after a pause reads from the disk.
     */
    static void warm(Path src) throws IOException {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(src)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(1 << 20);
            for (long at = 0; ch.read(b.clear(), at) > 0; at += b.position()) {
                // reading is the point
            }
        }
    }

    /** fsync(2) of a finished copy; returns its seconds. */
    static double fsync(Path dst) throws IOException {
        long t0 = System.nanoTime();
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(dst, java.nio.file.StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Writes a result to bench/results/<scenario>-<timestamp>.json and returns its path. */
    public static Path save(Path resultsDir, Map<String, Object> result) throws IOException {
        Files.createDirectories(resultsDir);
        String ts = java.time.LocalDateTime.now().format(java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path out = resultsDir.resolve(result.get("scenario") + "-" + ts + ".json");
        Files.writeString(out, Json.pretty(result) + "\n");
        return out;
    }
}
