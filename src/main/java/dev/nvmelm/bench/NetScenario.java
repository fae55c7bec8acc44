package dev.nvmelm.bench;

import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.block.FileBlockDevice;
import dev.nvmelm.net.agent.DestinationAgent;
import dev.nvmelm.net.agent.DestinationTarget;
import dev.nvmelm.net.agent.RemoteDestination;
import dev.nvmelm.net.agent.Transport;
import dev.nvmelm.net.proto.Compression;
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
 * Compressed rows ({@code migrate --compress}) stream the same way over TLS, once with
 * compressible data (log-like text) and once with the random data, which does not compress.
 */
public final class NetScenario {
    private final Path dir;
    private final long sizeBytes;
    private final int runs;
    private final PrintWriter log;

    /** 1 Gbit/s in bytes per second, for the capped-link rows. */
    static final long GIGABIT = 125_000_000L;

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
        Map<String, List<Double>> wireRatio = new LinkedHashMap<>();
        // the baselines are measured first, as before compression existed (the JIT warms up on them)
        List<Double> tlsRates = new ArrayList<>(), plainRates = new ArrayList<>();
        for (int run = 0; run < runs; run++) {
            tlsRates.add(once(new Transport(server, false), new Transport(client, false), run));
            plainRates.add(once(new Transport(null, true), new Transport(null, true), run));
        }
        // compressed rows: their own list ("compression"), so "results" stays the TLS-vs-plaintext comparison
        Map<String, List<Double>> compressed = new LinkedHashMap<>();
        for (Compression c : List.of(Compression.LZ4, Compression.ZSTD)) {
            for (boolean text : List.of(true, false)) {
                String row = "TLS 1.3 + " + c.label() + ", " + (text ? "text" : "random") + " data";
                compressed.put(row, new ArrayList<>());
                wireRatio.put(row, new ArrayList<>());
                for (int run = 0; run < runs; run++) {
                    double[] r = stream(new Transport(server, false), new Transport(client, false), run, false, c, text, 0);
                    compressed.get(row).add(sizeBytes / 1048576.0 / r[0]);
                    wireRatio.get(row).add(r[2] / sizeBytes);
                    log.printf("  run %d/%d  %-28s %8.0f MiB/s, %.2f of the bytes on the wire%n", run + 1, runs, row.substring(10),
                            sizeBytes / 1048576.0 / r[0], r[2] / sizeBytes);
                    log.flush();
                }
            }
        }
        // where compression is for: a link slower than the CPUs (1 Gbit/s, paced by CappedLink)
        for (Compression c : Compression.values()) {
            String row = "TLS 1.3 + " + c.label() + ", text data, 1 Gbit/s link";
            compressed.put(row, new ArrayList<>());
            wireRatio.put(row, new ArrayList<>());
            for (int run = 0; run < runs; run++) {
                double[] r = stream(new Transport(server, false), new Transport(client, false), run, false, c, true, GIGABIT);
                compressed.get(row).add(sizeBytes / 1048576.0 / r[0]);
                wireRatio.get(row).add(r[2] / sizeBytes);
                log.printf("  run %d/%d  %-40s %8.0f MiB/s%n", run + 1, runs, row.substring(10), sizeBytes / 1048576.0 / r[0]);
                log.flush();
            }
        }
        log.printf("  compression (median MiB/s, fraction of DATA bytes on the wire):%n");
        for (var e : compressed.entrySet()) {
            log.printf("    %-46s %6.0f  %.2f%n", e.getKey(), Stats.median(e.getValue()), Stats.median(wireRatio.get(e.getKey())));
        }
        log.flush();
        mibps.put("TLS 1.3 (mutual authentication)", tlsRates);
        mibps.put("plaintext TCP", plainRates);
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
        List<Object> compressedRows = new ArrayList<>();
        for (var e : compressed.entrySet()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("transport", e.getKey());
            row.put("median_mib_per_s", Stats.median(e.getValue()));
            row.put("median_wire_fraction", Stats.median(wireRatio.get(e.getKey())));
            compressedRows.add(row);
        }
        result.put("compression", compressedRows);
        return result;
    }

    /** Streams through a proxy that cuts the link for 3 s half way; returns {seconds, bytes resent}. */
    private double[] outage(Transport serverSide, Transport clientSide, int run) throws Exception {
        double[] r = stream(serverSide, clientSide, run, true, Compression.NONE, false, 0);
        log.printf("  run %d/%d  TLS with a 3 s cut %6.2f s, %.0f bytes resent%n", run + 1, runs, r[0], r[1]);
        log.flush();
        return r;
    }

    private double once(Transport serverSide, Transport clientSide, int run) throws Exception {
        double rate = sizeBytes / 1048576.0 / stream(serverSide, clientSide, run, false, Compression.NONE, false, 0)[0];
        log.printf("  run %d/%d  %-5s %8.0f MiB/s%n", run + 1, runs, clientSide.insecure() ? "plain" : "TLS", rate);
        log.flush();
        return rate;
    }

    /**
     * A link of a given bandwidth on loopback: a relay that paces each direction to the rate with
     * nanosecond bookkeeping (the fault proxy's cap sleeps whole milliseconds per read, which
     * caps nothing at gigabit rates and 16 KiB TLS records).
     */
    static final class CappedLink implements AutoCloseable {
        private final java.net.ServerSocket server = new java.net.ServerSocket(0, 8, java.net.InetAddress.getLoopbackAddress());
        private final List<java.net.Socket> open = new java.util.concurrent.CopyOnWriteArrayList<>();

        CappedLink(InetSocketAddress target, long bytesPerSecond) throws IOException {
            Thread.ofVirtual().start(() -> {
                try {
                    while (true) {
                        java.net.Socket c = server.accept();
                        java.net.Socket t = new java.net.Socket(target.getAddress(), target.getPort());
                        c.setTcpNoDelay(true);
                        t.setTcpNoDelay(true);
                        open.add(c);
                        open.add(t);
                        Thread.ofVirtual().start(() -> pace(c, t, bytesPerSecond));
                        Thread.ofVirtual().start(() -> pace(t, c, bytesPerSecond));
                    }
                } catch (IOException closed) {
                    // the link is being taken down
                }
            });
        }

        InetSocketAddress address() {
            return new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), server.getLocalPort());
        }

        private static void pace(java.net.Socket from, java.net.Socket to, long bytesPerSecond) {
            byte[] buf = new byte[64 << 10];
            long next = System.nanoTime();
            try (var in = from.getInputStream(); var out = to.getOutputStream()) {
                for (int n; (n = in.read(buf)) > 0; ) {
                    next = Math.max(next, System.nanoTime() - 1_000_000) + n * 1_000_000_000L / bytesPerSecond;   // at most 1 ms of credit
                    long wait = next - System.nanoTime();
                    if (wait > 0) java.util.concurrent.locks.LockSupport.parkNanos(wait);
                    out.write(buf, 0, n);
                }
            } catch (IOException e) {
                // either end closed
            } finally {
                try {
                    from.close();
                    to.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (java.net.Socket s : open) s.close();
        }
    }

    /** Log-like lines with changing numbers: compresses about as well as a filesystem of text and logs. */
    static void fillWithText(byte[] b, long seed) {
        Random r = new Random(seed);
        StringBuilder sb = new StringBuilder();
        String[] words = {"nvme", "queue", "completion", "submission", "namespace", "controller", "migration", "extent", "write", "read", "flush"};
        while (sb.length() < b.length) {
            sb.append("2026-12-01T14:").append(10 + r.nextInt(50)).append(':').append(10 + r.nextInt(50)).append('.').append(r.nextInt(1000000))
                    .append(" host").append(r.nextInt(16)).append(' ').append(words[r.nextInt(words.length)]).append(' ')
                    .append(words[r.nextInt(words.length)]).append(" lba=").append(r.nextInt(1 << 24)).append(" len=").append(1 << r.nextInt(8)).append('\n');
        }
        byte[] t = sb.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        System.arraycopy(t, 0, b, 0, b.length);
    }

    /**
     * Streams {@code sizeBytes} of random data into a fresh agent, then FLUSH and COMMIT, directly or
     * through a fault proxy that cuts the link for 3 s half way; returns {seconds, bytes resent, DATA bytes on the wire}.
     */
    private double[] stream(Transport serverSide, Transport clientSide, int run, boolean cut, Compression codec, boolean text, long linkBytesPerSecond)
            throws Exception {
        Path target = dir.resolve("dst-" + run + (cut ? "-cut" : "") + ".img");
        DestinationTarget.Factory factory = (UUID id, long size, int lba) -> new FileTarget(FileBlockDevice.createOrReuse(target, size, lba));
        try (DestinationAgent agent = new DestinationAgent(serverSide, new InetSocketAddress("127.0.0.1", 0), factory, line -> {});
             FaultProxy proxy = new FaultProxy(agent.address());
             Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(1 << 20);
            byte[] random = new byte[1 << 20];
            if (text) fillWithText(random, run);
            else new Random(run).nextBytes(random);
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
            CappedLink link = linkBytesPerSecond > 0 ? new CappedLink(agent.address(), linkBytesPerSecond) : null;
            InetSocketAddress to = cut ? new InetSocketAddress("127.0.0.1", proxy.port()) : link != null ? link.address() : agent.address();
            long t0 = System.nanoTime();
            long resent, wire;
            try (RemoteDestination remote = new RemoteDestination(clientSide, to, UUID.randomUUID(), sizeBytes, 4096, Duration.ofSeconds(30), codec, 0)) {
                // two writers, as the copier's pipeline has several: compression runs on the writers' threads
                Thread other = Thread.ofVirtual().start(() -> {
                    try {
                        for (long off = buf.byteSize(); off < sizeBytes; off += 2 * buf.byteSize()) remote.write(off, buf);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                for (long off = 0; off < sizeBytes; off += 2 * buf.byteSize()) remote.write(off, buf);
                other.join();
                remote.flush();
                remote.commit(null, new byte[32], Duration.ofMinutes(5));
                resent = remote.bytesResent.get();
                wire = remote.dataBytesWire.get();
            } finally {
                if (link != null) link.close();
            }
            double s = (System.nanoTime() - t0) / 1e9;
            cutter.join();
            return new double[]{s, resent, wire};
        } finally {
            Files.deleteIfExists(target);
        }
    }
}
