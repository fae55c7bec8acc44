package dev.nvmelm.bench;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.block.NvmeBlockDevice;
import dev.nvmelm.nbd.BlockDeviceExport;
import dev.nvmelm.nbd.FileExport;
import dev.nvmelm.nbd.NbdServer;
import dev.nvmelm.util.Json;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code nvme-lm bench nbd}: fio's nbd engine writing random 4 KiB blocks for a fixed time through
 * (1) a namespace of {@code device serve --nbd} — every request NVMe I/O on the MC's queues,
 * logged by a running CDQ-less controller — (2) our NBD server on a plain file, and (3) qemu-nbd
 * on the same file: write IOPS and mean latency, runs interleaved, median reported.
 */
public final class NbdScenario {
    private final Path dir;
    private final long sizeBytes;
    private final int runs, seconds, iodepth;
    private final PrintWriter log;

    public NbdScenario(Path dir, long sizeBytes, int runs, int seconds, int iodepth, PrintWriter log) {
        this.dir = dir;
        this.sizeBytes = sizeBytes;
        this.runs = runs;
        this.seconds = seconds;
        this.iodepth = iodepth;
        this.log = log;
    }

    private interface Target {
        String name();

        /** Starts the server and returns the NBD URI; {@link #stop()} ends it. */
        String start() throws Exception;

        void stop() throws Exception;
    }

    public Map<String, Object> run() throws Exception {
        for (Tools.Peer p : List.of(Tools.FIO, Tools.QEMU_NBD)) Tools.require(p);
        Path image = dir.resolve("nbd-bench.img");
        Images.dense(image, sizeBytes, 7);
        List<Target> targets = List.of(new DeviceServeTarget(), new FileTarget(image), new QemuNbdTarget(image));
        Map<String, List<double[]>> samples = new LinkedHashMap<>();
        for (Target t : targets) samples.put(t.name(), new ArrayList<>());
        for (int run = 0; run < runs; run++) {
            for (Target t : targets) {
                String uri = t.start();
                try {
                    double[] r = fio(uri);
                    samples.get(t.name()).add(r);
                    log.printf("  run %d/%d  %-34s %9.0f IOPS  %7.1f us%n", run + 1, runs, t.name(), r[0], r[1]);
                    log.flush();
                } finally {
                    t.stop();
                }
            }
        }
        Files.deleteIfExists(image);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("scenario", "nbd");
        result.put("size_bytes", sizeBytes);
        result.put("runs", runs);
        result.put("seconds", seconds);
        result.put("iodepth", iodepth);
        result.put("machine", Machine.probe(List.of(Tools.FIO, Tools.QEMU_NBD)).toJson());
        List<Object> rows = new ArrayList<>();
        for (var e : samples.entrySet()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("target", e.getKey());
            row.put("median_write_iops", Stats.median(e.getValue().stream().map(x -> x[0]).toList()));
            row.put("median_write_lat_us", Stats.median(e.getValue().stream().map(x -> x[1]).toList()));
            rows.add(row);
        }
        result.put("results", rows);
        return result;
    }

    /** Runs fio against the URI; returns {write IOPS, mean write latency in us}. */
    @SuppressWarnings("unchecked")
    private double[] fio(String uri) throws IOException {
        Path out = dir.resolve("fio.json");
        Tools.runOk(List.of("fio", "--name=w", "--ioengine=nbd", "--uri=" + uri, "--rw=randwrite", "--bs=4k", "--iodepth=" + iodepth,
                "--size=" + sizeBytes, "--time_based", "--runtime=" + seconds, "--thread", "--output-format=json", "--output=" + out),
                Duration.ofSeconds(seconds + 60L));
        String text = Files.readString(out);
        Map<String, Object> json = (Map<String, Object>) Json.parse(text.substring(text.indexOf('{')));
        Map<String, Object> w = (Map<String, Object>) ((Map<String, Object>) ((List<Object>) json.get("jobs")).getFirst()).get("write");
        Map<String, Object> lat = (Map<String, Object>) w.get("lat_ns");
        return new double[]{((Number) w.get("iops")).doubleValue(), ((Number) lat.get("mean")).doubleValue() / 1000};
    }

    /** A served subsystem's namespace: NBD requests become NVMe commands on MC 1's I/O queues. */
    private final class DeviceServeTarget implements Target {
        private DeviceServer server;
        private NbdServer nbd;

        @Override public String name() { return "nvme-lm device serve --nbd (NVMe path)"; }

        @Override
        public String start() throws Exception {
            Path d = Files.createDirectories(dir.resolve("serve"));
            server = DeviceServer.start(new Subsystem.Config(d, sizeBytes, 1, 1, 4096), 64 << 20, null);
            nbd = new NbdServer(List.of(new BlockDeviceExport("c1n1", new NvmeBlockDevice(server.device(1), 1), null)), line -> {});
            Path sock = d.resolve("nbd.sock");
            nbd.listen(UnixDomainSocketAddress.of(sock));
            return "nbd+unix:///c1n1?socket=" + sock;
        }

        @Override
        public void stop() throws Exception {
            nbd.close();
            server.close();
        }
    }

    /** Our NBD server on the plain file. */
    private final class FileTarget implements Target {
        private final Path image;
        private FileExport export;
        private NbdServer nbd;

        FileTarget(Path image) {
            this.image = image;
        }

        @Override public String name() { return "nvme-lm NBD server (file)"; }

        @Override
        public String start() throws Exception {
            export = new FileExport("f", image, false);
            nbd = new NbdServer(List.of(export), line -> {});
            Path sock = dir.resolve("file-nbd.sock");
            nbd.listen(UnixDomainSocketAddress.of(sock));
            return "nbd+unix:///f?socket=" + sock;
        }

        @Override
        public void stop() throws Exception {
            nbd.close();
            export.close();
        }
    }

    /** qemu-nbd on the same file, as a user would export it. */
    private final class QemuNbdTarget implements Target {
        private final Path image;
        private Process process;

        QemuNbdTarget(Path image) {
            this.image = image;
        }

        @Override public String name() { return "qemu-nbd (file)"; }

        @Override
        public String start() throws Exception {
            Path sock = dir.resolve("qemu-nbd.sock");
            Files.deleteIfExists(sock);
            process = new ProcessBuilder("qemu-nbd", "-f", "raw", "-k", sock.toString(), "-x", "q", "--persistent", "--shared=16", "--cache=writeback", image.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            for (int i = 0; i < 500 && !Files.exists(sock); i++) Thread.sleep(10);
            if (!Files.exists(sock)) throw new IOException("qemu-nbd did not start");
            return "nbd+unix:///q?socket=" + sock;
        }

        @Override
        public void stop() throws Exception {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroy();
            if (!process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
        }
    }
}
