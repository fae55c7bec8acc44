package dev.nvmelm.bench;

import dev.nvmelm.util.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The benchmark "guest": fio's nbd engine writing random 4 KiB blocks at a fixed rate (or as
 * fast as it can) through an NBD export, the same way for nvme-lm's export and QEMU's.
 * Optionally it logs its write IOPS every {@code logAvgMillis} ({@code --write_iops_log}),
 * read back by {@link #iopsTimeline()} on the clock of {@link #startNanos()}.
 */
public final class FioWriter implements AutoCloseable {
    private final Process process;
    private final Path output, iopsLogPrefix;
    private final long startNanos;

    /** @param iops target rate; 0 = as fast as possible (queue depth 16) */
    public FioWriter(String nbdUri, long sizeBytes, int iops, Path output) throws IOException {
        this(nbdUri, sizeBytes, iops, iops > 0 ? 4 : 16, output, null, 0);
    }

    /**
     * @param iops          target rate; 0 = as fast as possible
     * @param iopsLogPrefix where fio writes {@code PREFIX_iops.1.log}; null = no log
     * @param logAvgMillis  averaging window of the IOPS log
     */
    public FioWriter(String nbdUri, long sizeBytes, int iops, int iodepth, Path output, Path iopsLogPrefix, int logAvgMillis) throws IOException {
        Tools.require(Tools.FIO);
        this.output = output;
        this.iopsLogPrefix = iopsLogPrefix;
        List<String> cmd = new ArrayList<>(List.of("fio", "--name=guest", "--ioengine=nbd", "--uri=" + nbdUri,
                "--size=" + sizeBytes, "--rw=randwrite", "--bs=4k", "--time_based", "--runtime=3600",
                "--output-format=json", "--output=" + output, "--iodepth=" + iodepth,
                "--thread"));   // jobs as threads: stopping fio stops all of it (forked jobs outlive their parent)
        if (iops > 0) cmd.add("--rate_iops=" + iops);
        if (iopsLogPrefix != null) {
            cmd.add("--write_iops_log=" + iopsLogPrefix);
            cmd.add("--log_avg_msec=" + logAvgMillis);
        }
        startNanos = System.nanoTime();
        process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    /** When fio was started (System.nanoTime); its log times count from about then. */
    public long startNanos() {
        return startNanos;
    }

    /** Kills fio and anything it started; forked fio jobs would otherwise keep writing with nobody reading. */
    private void kill() throws InterruptedException {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly().waitFor();
    }

    public boolean alive() {
        return process.isAlive();
    }

    /** Stops the writer (SIGINT-like TERM; fio writes its report on exit) and returns its write IOPS. */
    @SuppressWarnings("unchecked")
    public double stopAndReportIops() throws IOException, InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) kill();
        String text = Files.exists(output) ? Files.readString(output) : "";
        int start = text.indexOf('{');
        if (start < 0) return Double.NaN;
        Map<String, Object> json = (Map<String, Object>) Json.parse(text.substring(start));
        Map<String, Object> job = (Map<String, Object>) ((List<Object>) json.get("jobs")).getFirst();
        Map<String, Object> write = (Map<String, Object>) job.get("write");
        if (write.get("lat_ns") instanceof Map<?, ?> lat && lat.get("max") instanceof Number max) maxWriteLatencyMs = max.doubleValue() / 1e6;
        Object iops = write.get("iops");
        return iops instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    private double maxWriteLatencyMs = Double.NaN;

    /** The longest a write took (fio's lat max), after {@link #stopAndReportIops()}: the guest's worst stall. */
    public double maxWriteLatencyMs() {
        return maxWriteLatencyMs;
    }

    /**
     * The write IOPS log after fio has stopped: {seconds since {@link #startNanos()}, IOPS} per
     * averaging window (fio writes the log when it exits).
     */
    public List<double[]> iopsTimeline() throws IOException {
        List<double[]> out = new ArrayList<>();
        if (iopsLogPrefix == null) return out;
        Path log = iopsLogPrefix.resolveSibling(iopsLogPrefix.getFileName() + "_iops.1.log");
        if (!Files.exists(log)) throw new IOException("fio wrote no IOPS log " + log);
        for (String line : Files.readAllLines(log)) {
            String[] f = line.split(",");
            if (f.length < 3 || !f[2].strip().equals("1")) continue;   // direction 1 = write
            out.add(new double[]{Long.parseLong(f[0].strip()) / 1000.0, Double.parseDouble(f[1].strip())});
        }
        return out;
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) kill();
        }
    }
}
