package dev.nvmelm.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * QEMU's live storage migration as a user runs it today: qemu-storage-daemon exports the source
 * over NBD (the guest writes through it), blockdev-mirror copies to the target with a speed
 * cap, and job-complete switches over once READY (mirror-anchors.md §3.2-3.3).
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

    /** What a mirror run measured. */
    public record Result(boolean converged, double readySeconds, double switchoverSeconds, double totalSeconds,
                         long bytesCopied, List<double[]> remainingTimeline) {}

    /**
     * Mirrors to {@code target} (a raw file) at {@code speedBytes}/s (0 = unlimited), holds
     * {@code holdReadyMillis} once READY, runs {@code beforeComplete}, then job-complete.
     * Gives up after {@code readyTimeoutSeconds} without READY: "not converging".
     */
    @SuppressWarnings("unchecked")
    public Result mirror(Path target, long speedBytes, long holdReadyMillis, double readyTimeoutSeconds,
                         Runnable beforeComplete) throws IOException {
        qmp.command("blockdev-add", Map.of("driver", "file", "node-name", "dst-file", "filename", target.toString()));
        qmp.command("blockdev-add", Map.of("driver", "raw", "node-name", "dst", "file", "dst-file"));
        Map<String, Object> job = new LinkedHashMap<>(Map.of("job-id", "m0", "device", "src", "target", "dst", "sync", "full"));
        if (speedBytes > 0) job.put("speed", speedBytes);
        long t0 = System.nanoTime();
        qmp.command("blockdev-mirror", job);
        List<double[]> timeline = new ArrayList<>();
        Runnable sample = () -> {
            try {
                List<Object> jobs = (List<Object>) qmp.command("query-block-jobs", Map.of());
                if (!jobs.isEmpty()) {
                    Map<String, Object> j = (Map<String, Object>) jobs.getFirst();
                    long len = ((Number) j.get("len")).longValue(), off = ((Number) j.get("offset")).longValue();
                    timeline.add(new double[]{(System.nanoTime() - t0) / 1e9, len - off, off});
                }
                Thread.sleep(100);
            } catch (IOException | InterruptedException e) {
                throw new RuntimeException(e);
            }
        };
        Qmp.Event ready = qmp.await(Set.of("BLOCK_JOB_READY", "BLOCK_JOB_COMPLETED"), (long) (readyTimeoutSeconds * 1e9), sample);
        if (ready == null || !ready.name().equals("BLOCK_JOB_READY")) {
            qmp.command("block-job-cancel", Map.of("device", "m0", "force", true));
            qmp.await(Set.of("BLOCK_JOB_CANCELLED", "BLOCK_JOB_COMPLETED"), 60_000_000_000L, () -> { });
            long copied = timeline.isEmpty() ? 0 : (long) timeline.getLast()[2];
            return new Result(false, Double.NaN, Double.NaN, (System.nanoTime() - t0) / 1e9, copied, timeline);
        }
        double readyS = (ready.nanos() - t0) / 1e9;
        long holdUntil = System.nanoTime() + holdReadyMillis * 1_000_000;
        while (System.nanoTime() < holdUntil) sample.run();
        beforeComplete.run();
        long t1 = System.nanoTime();
        qmp.command("job-complete", Map.of("id", "m0"));
        Qmp.Event done = qmp.await(Set.of("BLOCK_JOB_COMPLETED"), 600_000_000_000L, () -> { });
        if (done == null) throw new IOException("mirror did not complete after job-complete");
        Map<String, Object> data = (Map<String, Object>) done.body().get("data");
        if (data.get("error") != null) throw new IOException("mirror failed: " + data.get("error"));
        return new Result(true, readyS, (done.nanos() - t1) / 1e9, (done.nanos() - t0) / 1e9,
                ((Number) data.get("offset")).longValue(), timeline);
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
