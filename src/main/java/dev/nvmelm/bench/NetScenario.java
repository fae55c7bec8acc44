package dev.nvmelm.bench;

import dev.nvmelm.migrate.block.BlockDevice;
import dev.nvmelm.migrate.block.FileBlockDevice;
import dev.nvmelm.net.agent.DestinationAgent;
import dev.nvmelm.net.agent.DestinationTarget;
import dev.nvmelm.net.agent.RemoteDestination;
import dev.nvmelm.net.agent.Transport;
import dev.nvmelm.net.tls.CertificateGenerator;
import dev.nvmelm.net.tls.TlsConfig;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;

/**
 * {@code nvme-lm bench net}: the agents' data path over loopback, TLS 1.3 (mutual authentication)
 * versus plaintext: random data streamed as DATA frames through {@link RemoteDestination} into an
 * agent writing a file, then FLUSH and COMMIT (the agent reads every extent back as it writes).
 * The target has no controller, so this measures the transport and the agent, not a switchover.
 */
public final class NetScenario {
    private final Path dir;
    private final long sizeBytes;
    private final int runs;
    private final PrintWriter log;

    public NetScenario(Path dir, long sizeBytes, int runs, PrintWriter log) {
        this.dir = dir;
        this.sizeBytes = sizeBytes;
        this.runs = runs;
        this.log = log;
    }

    /** A file as the destination namespace; no controller to hand state to. */
    private record FileTarget(FileBlockDevice file) implements DestinationTarget {
        @Override public BlockDevice data() { return file; }

        @Override public void applyState(byte[] state) {}

        @Override public void resume() {}

        @Override public void close() throws IOException { file.close(); }
    }

    public Map<String, Object> run() throws Exception {
        Path tls = dir.resolve("tls");
        CertificateGenerator.generate(tls, "nvme-lm-bench", List.of(), 1);
        TlsConfig server = new TlsConfig(tls.resolve("server.crt"), tls.resolve("server.key"), tls.resolve("ca.crt"));
        TlsConfig client = new TlsConfig(tls.resolve("client.crt"), tls.resolve("client.key"), tls.resolve("ca.crt"));
        Map<String, List<Double>> mibps = new LinkedHashMap<>();
        mibps.put("TLS 1.3 (mutual authentication)", new ArrayList<>());
        mibps.put("plaintext TCP", new ArrayList<>());
        for (int run = 0; run < runs; run++) {
            mibps.get("TLS 1.3 (mutual authentication)").add(once(new Transport(server, false), new Transport(client, false), run));
            mibps.get("plaintext TCP").add(once(new Transport(null, true), new Transport(null, true), run));
        }
        // The outage: the same TLS stream through a fault-injecting proxy, cut for 3 s in the middle.
        List<Double> extra = new ArrayList<>(), resent = new ArrayList<>();
        for (int run = 0; run < runs; run++) {
            double base = sizeBytes / 1048576.0 / mibps.get("TLS 1.3 (mutual authentication)").get(run);
            double[] o = outage(new Transport(server, false), new Transport(client, false), run);
            extra.add(o[0] - base);
            resent.add(o[1]);
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("scenario", "net");
        result.put("outage_seconds", 3.0);
        result.put("median_extra_seconds_for_outage", Stats.median(extra));
        result.put("median_bytes_resent", Stats.median(resent));
        result.put("size_bytes", sizeBytes);
        result.put("runs", runs);
        result.put("machine", Machine.probe(List.of()).toJson());
        List<Object> rows = new ArrayList<>();
        for (var e : mibps.entrySet()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("transport", e.getKey());
            row.put("median_mib_per_s", Stats.median(e.getValue()));
            rows.add(row);
        }
        result.put("results", rows);
        return result;
    }

    /** Streams through a proxy that cuts the link for 3 s half way; returns {seconds, bytes resent}. */
    private double[] outage(Transport serverSide, Transport clientSide, int run) throws Exception {
        double[] r = stream(serverSide, clientSide, run, true);
        log.printf("  run %d/%d  TLS with a 3 s cut %6.2f s, %.0f bytes resent%n", run + 1, runs, r[0], r[1]);
        log.flush();
        return r;
    }

    private double once(Transport serverSide, Transport clientSide, int run) throws Exception {
        double rate = sizeBytes / 1048576.0 / stream(serverSide, clientSide, run, false)[0];
        log.printf("  run %d/%d  %-5s %8.0f MiB/s%n", run + 1, runs, clientSide.insecure() ? "plain" : "TLS", rate);
        log.flush();
        return rate;
    }

    /**
     * Streams {@code sizeBytes} of random data into a fresh agent, then FLUSH and COMMIT, directly or
     * through a fault proxy that cuts the link for 3 s half way; returns {seconds, bytes resent}.
     */
    private double[] stream(Transport serverSide, Transport clientSide, int run, boolean cut) throws Exception {
        Path target = dir.resolve("dst-" + run + (cut ? "-cut" : "") + ".img");
        DestinationTarget.Factory factory = (UUID id, long size, int lba) -> new FileTarget(FileBlockDevice.createOrReuse(target, size, lba));
        try (DestinationAgent agent = new DestinationAgent(serverSide, new InetSocketAddress("127.0.0.1", 0), factory, line -> {});
             FaultProxy proxy = new FaultProxy(agent.address());
             Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(1 << 20);
            byte[] random = new byte[1 << 20];
            new Random(run).nextBytes(random);
            MemorySegment.copy(random, 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, random.length);
            Thread cutter = Thread.ofVirtual().start(() -> {
                if (!cut) return;
                try {
                    while (proxy.forwardedBytes() < sizeBytes / 2) Thread.sleep(1);
                    proxy.cut();
                    Thread.sleep(3000);
                    proxy.up();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            InetSocketAddress to = cut ? new InetSocketAddress("127.0.0.1", proxy.port()) : agent.address();
            long t0 = System.nanoTime();
            long resent;
            try (RemoteDestination remote = new RemoteDestination(clientSide, to, UUID.randomUUID(), sizeBytes, 4096, Duration.ofSeconds(30))) {
                for (long off = 0; off < sizeBytes; off += buf.byteSize()) remote.write(off, buf);
                remote.flush();
                remote.commit(null, new byte[32], Duration.ofMinutes(5));
                resent = remote.bytesResent.get();
            }
            double s = (System.nanoTime() - t0) / 1e9;
            cutter.join();
            return new double[]{s, resent};
        } finally {
            Files.deleteIfExists(target);
        }
    }
}
