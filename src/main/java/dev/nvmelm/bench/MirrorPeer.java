package dev.nvmelm.bench;

import dev.nvmelm.vm.Qmp;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * QEMU's live storage migration as a user runs it today: qemu-storage-daemon exports the source
 * over NBD (the guest writes through it), blockdev-mirror copies to the target with a speed
 * cap, and job-complete switches over once READY (as QEMU's blockdev-mirror does; docs/benchmarks.md).
 */
public final class MirrorPeer implements AutoCloseable {
    private final Path dir;
    private final Process qsd;
    private final Qmp qmp;

    public MirrorPeer(Path dir, Path source) throws IOException, InterruptedException {
        Tools.require(Tools.QSD);
        this.dir = dir;
        Path qmpSock = dir.resolve("qmp.sock");
        qsd = new ProcessBuilder("qemu-storage-daemon",
                "--chardev", "socket,id=qmp0,path=" + qmpSock + ",server=on,wait=off", "--monitor", "chardev=qmp0",
                "--blockdev", "driver=file,node-name=src-file,filename=" + source,
                "--blockdev", "driver=raw,node-name=src,file=src-file",
                "--nbd-server", "addr.type=unix,addr.path=" + dir.resolve("nbd.sock"),
                "--export", "type=nbd,id=exp0,node-name=src,name=src,writable=on")
                .redirectErrorStream(true).redirectOutput(dir.resolve("qsd.log").toFile()).start();
        for (int i = 0; i < 500 && !(Files.exists(qmpSock) && Files.exists(dir.resolve("nbd.sock"))); i++) Thread.sleep(10);
        if (!qsd.isAlive()) throw new IOException("qemu-storage-daemon exited: " + Files.readString(dir.resolve("qsd.log")));
        qmp = new Qmp(qmpSock);
    }

    public String nbdUri() {
        return "nbd+unix:///src?socket=" + dir.resolve("nbd.sock");
    }

    /**
     * What a mirror run measured. Times are System.nanoTime values ({@code startNanos} when
     * blockdev-mirror was sent, {@code completeNanos} when job-complete was sent, 0 if never).
     * {@code remainingTimeline}: {seconds since start, len - offset, offset} per poll of
     * query-block-jobs. {@code stoppedEarly}: the job was cancelled because {@link Job#stopEarly} said so.
     */
    public record Result(boolean converged, double readySeconds, double switchoverSeconds, double totalSeconds,
                         long bytesCopied, List<double[]> remainingTimeline, long startNanos, long completeNanos,
                         boolean stoppedEarly) {}

    /**
     * One blockdev-mirror to a raw file.
     *
     * @param speedBytes          cap in bytes/s, 0 = none
     * @param readyTimeoutSeconds give up (cancel) when not READY by then: "not converging"
     * @param targetOptions       extra options of both target nodes (file and raw), e.g. discard=unmap
     * @param unmap               blockdev-mirror's "unmap" (null = not passed, QEMU's default)
     * @param beforeComplete      run once READY, just before job-complete
     * @param stopEarly           asked at every poll; true cancels the job (e.g. a disk guard)
     * @param pollMillis          query-block-jobs period
     */
    public record Job(long speedBytes, double readyTimeoutSeconds, Map<String, Object> targetOptions, Boolean unmap,
                      Runnable beforeComplete, BooleanSupplier stopEarly, long pollMillis) {
        public static Job live(long speedBytes, double readyTimeoutSeconds, Runnable beforeComplete) {
            return new Job(speedBytes, readyTimeoutSeconds, Map.of(), null, beforeComplete, () -> false, 100);
        }
    }

    /**
     * Mirrors to {@code target} (a raw file) at {@code speedBytes}/s (0 = unlimited), holds
     * {@code holdReadyMillis} once READY, runs {@code beforeComplete}, then job-complete.
     * Gives up after {@code readyTimeoutSeconds} without READY: "not converging".
     */
    public Result mirror(Path target, long speedBytes, long holdReadyMillis, double readyTimeoutSeconds,
                         Runnable beforeComplete) throws IOException {
        return mirror(target, Job.live(speedBytes, readyTimeoutSeconds, () -> {
            long until = System.nanoTime() + holdReadyMillis * 1_000_000;
            try {
                while (System.nanoTime() < until) Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            beforeComplete.run();
        }));
    }

    /** Runs one mirror job to {@code target}, polling its progress throughout (also during the switchover). */
    @SuppressWarnings("unchecked")
    public Result mirror(Path target, Job job) throws IOException {
        Map<String, Object> file = new LinkedHashMap<>(Map.of("driver", "file", "node-name", "dst-file", "filename", target.toString()));
        file.putAll(job.targetOptions());
        qmp.command("blockdev-add", file);
        Map<String, Object> raw = new LinkedHashMap<>(Map.of("driver", "raw", "node-name", "dst", "file", "dst-file"));
        raw.putAll(job.targetOptions());
        qmp.command("blockdev-add", raw);
        Map<String, Object> args = new LinkedHashMap<>(Map.of("job-id", "m0", "device", "src", "target", "dst", "sync", "full"));
        if (job.speedBytes() > 0) args.put("speed", job.speedBytes());
        if (job.unmap() != null) args.put("unmap", job.unmap());
        long t0 = System.nanoTime();
        qmp.command("blockdev-mirror", args);
        List<double[]> timeline = new ArrayList<>();
        boolean[] stop = {false};
        Runnable sample = () -> {
            try {
                List<Object> jobs = (List<Object>) qmp.command("query-block-jobs", Map.of());
                if (!jobs.isEmpty()) {
                    Map<String, Object> j = (Map<String, Object>) jobs.getFirst();
                    long len = ((Number) j.get("len")).longValue(), off = ((Number) j.get("offset")).longValue();
                    timeline.add(new double[]{(System.nanoTime() - t0) / 1e9, len - off, off});
                }
                if (job.stopEarly().getAsBoolean()) stop[0] = true;
                Thread.sleep(job.pollMillis());
            } catch (IOException | InterruptedException e) {
                throw new RuntimeException(e);
            }
        };
        long deadline = t0 + (long) (job.readyTimeoutSeconds() * 1e9);
        Qmp.Event ready = null;
        while (ready == null && !stop[0] && System.nanoTime() < deadline) {
            ready = qmp.await(Set.of("BLOCK_JOB_READY", "BLOCK_JOB_COMPLETED"), Math.min(deadline - System.nanoTime(), 50_000_000L), sample);
        }
        if (ready != null && ready.name().equals("BLOCK_JOB_COMPLETED")) {
            Map<String, Object> data = (Map<String, Object>) ready.body().get("data");
            throw new IOException("mirror ended before READY: " + data.get("error"));
        }
        if (ready == null) {
            qmp.command("block-job-cancel", Map.of("device", "m0", "force", true));
            qmp.await(Set.of("BLOCK_JOB_CANCELLED", "BLOCK_JOB_COMPLETED"), 600_000_000_000L, () -> { });
            long copied = timeline.isEmpty() ? 0 : (long) timeline.getLast()[2];
            return new Result(false, Double.NaN, Double.NaN, (System.nanoTime() - t0) / 1e9, copied, timeline, t0, 0, stop[0]);
        }
        double readyS = (ready.nanos() - t0) / 1e9;
        job.beforeComplete().run();
        long t1 = System.nanoTime();
        qmp.command("job-complete", Map.of("id", "m0"));
        Qmp.Event done = qmp.await(Set.of("BLOCK_JOB_COMPLETED"), 600_000_000_000L, sample);
        if (done == null) throw new IOException("mirror did not complete after job-complete");
        Map<String, Object> data = (Map<String, Object>) done.body().get("data");
        if (data.get("error") != null) throw new IOException("mirror failed: " + data.get("error"));
        timeline.add(new double[]{(done.nanos() - t0) / 1e9, 0, ((Number) data.get("offset")).longValue()});
        return new Result(true, readyS, (done.nanos() - t1) / 1e9, (done.nanos() - t0) / 1e9,
                ((Number) data.get("offset")).longValue(), timeline, t0, t1, false);
    }

    /** Runs a QMP command on the daemon (for bitmaps and extra exports). */
    public Object qmp(String command, Map<String, Object> args) throws IOException {
        return qmp.command(command, args);
    }

    /** The daemon's NBD socket. */
    public Path nbdSocket() {
        return dir.resolve("nbd.sock");
    }

    @Override
    public void close() throws IOException, InterruptedException {
        try {
            qmp.close();
        } finally {
            qsd.destroy();
            if (!qsd.waitFor(10, TimeUnit.SECONDS)) qsd.destroyForcibly().waitFor();
        }
    }
}
