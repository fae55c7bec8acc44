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
 */
public final class FioWriter implements AutoCloseable {
    private final Process process;
    private final Path output;

    /** @param iops target rate; 0 = as fast as possible (queue depth 16) */
    public FioWriter(String nbdUri, long sizeBytes, int iops, Path output) throws IOException {
        Tools.require(Tools.FIO);
        this.output = output;
        List<String> cmd = new ArrayList<>(List.of("fio", "--name=guest", "--ioengine=nbd", "--uri=" + nbdUri,
                "--size=" + sizeBytes, "--rw=randwrite", "--bs=4k", "--time_based", "--runtime=3600",
                "--output-format=json", "--output=" + output,
                "--thread"));   // jobs as threads: stopping fio stops all of it (forked jobs outlive their parent)
        if (iops > 0) {
            cmd.add("--iodepth=4");
            cmd.add("--rate_iops=" + iops);
        } else {
            cmd.add("--iodepth=16");
        }
        process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
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
        Object iops = ((Map<String, Object>) job.get("write")).get("iops");
        return iops instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) kill();
        }
    }
}
