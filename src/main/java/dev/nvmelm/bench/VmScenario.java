package dev.nvmelm.bench;

import dev.nvmelm.util.Json;
import dev.nvmelm.vm.GuestImage;
import dev.nvmelm.vm.QemuVm;
import dev.nvmelm.vm.Qmp;
import dev.nvmelm.vm.TwoHosts;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code nvme-lm bench vm} (docs/vm.md, docs/benchmarks.md): one guest (scripts/guest, the
 * verifying writer) on a virtio-blk disk, at each write rate migrated live, with RAM, by
 * <ul>
 *   <li>the libvirt way between two hosts ({@link TwoHosts}): the destination QEMU on host B
 *       exports its disk file ({@code nbd-server-start}, {@code block-export-add}), the source QEMU
 *       on host A mirrors into it ({@code blockdev-add} nbd, {@code blockdev-mirror sync=full},
 *       background or {@code copy-mode=write-blocking}), waits for BLOCK_JOB_READY, migrates with
 *       {@code pause-before-switchover} and in the pause ends the job ({@code block-job-cancel}
 *       after READY, as libvirt does), then {@code migrate-continue};</li>
 *   <li>nvme-lm across the same two hosts: the disk on {@code device serve --nbd} on host A (MC
 *       1's export), the agent {@code nvme-lm serve --nbd} with TLS on host B, the destination QEMU
 *       there on the agent's export of the migration (started once the agent admitted it, as in
 *       demo --vm), {@code nvme-lm migrate --source sim:..#1 --to B:PORT --vm-qmp} on host A.</li>
 * </ul>
 * The guest itself judges every run: on the destination it reads back every block it ever wrote.
 */
public final class VmScenario {
    public enum Mode {
        MIRROR_BACKGROUND("libvirt way: blockdev-mirror (background), two hosts"),
        MIRROR_WRITE_BLOCKING("libvirt way: blockdev-mirror copy-mode=write-blocking, two hosts"),
        NVME_LM("nvme-lm migrate --to --vm-qmp: device serve on host A -> serve --nbd agent (TLS) on host B, two hosts");

        final String label;

        Mode(String label) {
            this.label = label;
        }

        String key() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    /** What to run. */
    public record Settings(long diskBytes, List<Integer> iops, List<Mode> modes, int guestMemMiB, Duration warmup, Path guestCache, Path repoRoot) {
        public static Settings defaults(Path repoRoot, Path cache) {
            return new Settings(64L << 20, List.of(200, 2000), List.of(Mode.values()), 256, Duration.ofSeconds(4), cache, repoRoot);
        }

        /** One low rate on a 16 MiB disk, every mode once: the harness works, nothing measured. */
        public static Settings quick(Path repoRoot, Path cache) {
            return new Settings(16L << 20, List.of(100), List.of(Mode.values()), 256, Duration.ofSeconds(1), cache, repoRoot);
        }
    }

    static final Duration WAIT = Duration.ofSeconds(120);
    static final int REPORT_MS = 250, NBD_PORT = 10809, MIG_PORT = 4444, AGENT_PORT = 7070;
    static final long MAX_BANDWIDTH = 10L << 30, DOWNTIME_LIMIT_MS = 50;
    /** nvme-lm's stop budget: across hosts the stop ends with the agent's flush (about 60 ms here), over the default 50. */
    static final long NVME_LM_MAX_DOWNTIME_MS = 500;

    private final Path dir;
    private final Settings s;
    private final List<String> launcher;
    private final PrintWriter log;

    /** @param launcher how to start nvme-lm (ProcessCopies.launcher) */
    public VmScenario(Path dir, Settings s, List<String> launcher, PrintWriter log) {
        this.dir = dir;
        this.s = s;
        this.launcher = launcher;
        this.log = log;
    }

    public Map<String, Object> run() throws Exception {
        String why = QemuVm.unavailable();
        if (why != null) throw new IllegalStateException("bench vm needs QEMU: " + why);
        GuestImage guest = GuestImage.build(s.repoRoot(), s.guestCache());
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("scenario", "vm");
        result.put("machine", Machine.probe(List.of(Tools.QEMU_IMG)).toJson());
        Map<String, Object> set = new LinkedHashMap<>();
        set.put("disk_bytes", s.diskBytes());
        set.put("guest_mem_mib", s.guestMemMiB());
        set.put("accelerator", String.join(" ", QemuVm.accelerator()));
        set.put("guest_kernel", guest.kernelRelease());
        set.put("iops_requested", s.iops());
        set.put("max_bandwidth_bytes_per_s", MAX_BANDWIDTH);
        set.put("downtime_limit_ms", DOWNTIME_LIMIT_MS);
        set.put("nvme_lm_max_downtime_ms", NVME_LM_MAX_DOWNTIME_MS);
        result.put("settings", set);
        List<Object> runs = new ArrayList<>();
        try (TwoHosts hosts = TwoHosts.create("nlmbv")) {
            for (int iops : s.iops()) {
                for (Mode m : s.modes()) {
                    Path rd = Files.createDirectories(dir.resolve(m.key() + "-" + iops));
                    log.printf("bench vm: %s at %d guest write IOPS%n", m.label, iops);
                    log.flush();
                    Run run = m == Mode.NVME_LM ? new NvmeLmRun(rd, hosts, guest, iops) : new MirrorRun(rd, hosts, guest, iops, m);
                    Map<String, Object> r;
                    try {
                        r = run.run();
                    } catch (IOException e) {   // a run that broke is a result (not verified), the others still run
                        r = run.r;
                        String msg = String.valueOf(e.getMessage());
                        r.put("verified", false);
                        r.putIfAbsent("guest_verify", "not checked: " + msg.lines().findFirst().orElse(msg));
                        r.put("failure", msg.lines().findFirst().orElse(msg));
                        r.put("console_tail", msg.lines().skip(1).toList());
                    }
                    r.put("mode", m.key());
                    r.put("label", m.label);
                    r.put("iops_requested", iops);
                    log.printf("bench vm:   verified=%s downtime=%s ms total=%s ms guest iops=%s max lat=%s ms%n", r.get("verified"),
                            r.get("vm_downtime_ms"), r.get("total_ms"), r.get("guest_iops_during"), r.get("guest_max_write_latency_ms"));
                    log.flush();
                    runs.add(reorder(r));
                }
            }
        }
        result.put("runs", runs);
        return result;
    }

    private static Map<String, Object> reorder(Map<String, Object> r) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (String k : List.of("mode", "label", "iops_requested")) out.put(k, r.get(k));
        r.forEach(out::putIfAbsent);
        return out;
    }

    /** What every run shares: the guests, their consoles, the window of the migration on the host's clock. */
    private abstract class Run {
        final Path rd;
        final TwoHosts hosts;
        final GuestImage guest;
        final int iops;
        final List<QemuVm> vms = new ArrayList<>();
        final Map<String, Object> r = new LinkedHashMap<>();
        GuestConsole src, dst;
        long tStart, tEnd;

        Run(Path rd, TwoHosts hosts, GuestImage guest, int iops) {
            this.rd = rd;
            this.hosts = hosts;
            this.guest = guest;
            this.iops = iops;
        }

        QemuVm vm(TwoHosts.Host on, String name, List<String> disk) throws IOException {
            var cfg = new QemuVm.Config(rd, name, guest.kernel(), guest.initrd(),
                    "WRITER_IOPS=" + iops + " WRITER_REPORT_MS=" + REPORT_MS, s.guestMemMiB(), disk, Duration.ofMinutes(10));
            QemuVm vm = QemuVm.startOn(on, cfg);
            vms.add(vm);
            return vm;
        }

        /** Boots the source, lets it write through the warm-up; returns the guest's rate before the migration. */
        void warmUp() throws Exception {
            src.awaitMarker("WRITER-START ", WAIT);
            long until = System.nanoTime() + s.warmup().toNanos();
            List<Double> rates = new ArrayList<>();
            GuestConsole.Progress p;
            do {
                p = src.awaitProgress(WAIT);
                rates.add(p.iops());
            } while (p.nanos() < until || rates.size() < 3);
            rates.removeFirst();   // the first interval includes the writer's start
            r.put("guest_iops_before", Math.round(rates.stream().mapToDouble(Double::doubleValue).average().orElse(0)));
        }

        abstract void migrate() throws Exception;

        Map<String, Object> run() throws Exception {
            try {
                migrate();
                judge();
                return r;
            } finally {
                for (QemuVm vm : vms) vm.close();
                cleanUp();
            }
        }

        /** After the guests are gone: what else the run started. */
        void cleanUp() throws Exception {
        }

        /** The guest verifies on whichever QEMU runs it now; then the numbers of the window. */
        void judge() throws Exception {
            GuestConsole on = Boolean.TRUE.equals(r.get("converged")) ? dst : src;
            on.awaitProgress(WAIT);
            GuestConsole.Progress after = on.awaitProgress(WAIT);
            on.awaitProgress(WAIT);
            vms.get(on == dst ? 1 : 0).send("verify");
            String verdict = on.awaitMarker("VERIFY ", WAIT).text();
            boolean ok = verdict.startsWith("VERIFY ok");
            r.put("guest_verify", ok ? "ok" : verdict.substring("VERIFY ".length()));
            r.put("verified", ok && Boolean.TRUE.equals(r.get("converged")));
            r.put("guest_verify_line", verdict);
            List<GuestConsole.Progress> all = new ArrayList<>(src.progress());
            if (on == dst) all.addAll(dst.progress());
            GuestConsole.Progress before = null, end = null;
            double maxLat = 0;
            for (GuestConsole.Progress p : all) {
                if (p.nanos() <= tStart) before = p;
                // the first report after the end covers the interval with the switchover in it
                if (p.nanos() > tStart && (end == null || end.nanos() < tEnd)) {
                    maxLat = Math.max(maxLat, p.maxLatencyMs());
                    end = p;
                }
            }
            r.put("guest_max_write_latency_ms", maxLat);
            if (before != null && end != null && end.nanos() > before.nanos()) {
                r.put("guest_iops_during", Math.round((end.writes() - before.writes()) / ((end.nanos() - before.nanos()) / 1e9)));
            }
            r.put("guest_writes", after.writes());
            r.put("guest_io_errors", all.stream().mapToLong(GuestConsole.Progress::errors).max().orElse(0));
            List<List<Double>> lat = new ArrayList<>();
            for (GuestConsole.Progress p : all) lat.add(List.of(secs(p.nanos()), p.maxLatencyMs()));
            r.put("timeline_latency_ms", lat);
            if (on == dst && !dst.lines().isEmpty()) r.put("resumed_s", secs(dst.lines().getFirst().nanos()));
            r.put("end_s", secs(tEnd));
        }

        double secs(long nanos) {
            return Math.round((nanos - tStart) / 1e6) / 1e3;
        }

        long linkBytes() throws IOException, InterruptedException {
            TwoHosts.Host a = hosts.a();
            long sum = 0;
            for (String f : List.of("tx_bytes", "rx_bytes")) {
                Process p = a.process(List.of("cat", "/sys/class/net/" + a.device() + "/statistics/" + f)).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
                if (p.waitFor() != 0) throw new IOException("reading " + f + " of " + a.device() + ": " + out);
                sum += Long.parseLong(out);
            }
            return sum;
        }

        @SuppressWarnings("unchecked")
        void ramBytes(Qmp q) throws IOException {
            Map<String, Object> m = (Map<String, Object>) q.command("query-migrate", Map.of());
            if (m.get("ram") instanceof Map<?, ?> ram && ram.get("transferred") instanceof Number n) r.put("bytes_ram", n.longValue());
            if (m.get("downtime") instanceof Number n) r.putIfAbsent("vm_downtime_ms", n.longValue());
        }
    }

    /** The libvirt way, two hosts. */
    private final class MirrorRun extends Run {
        final Mode mode;

        MirrorRun(Path rd, TwoHosts hosts, GuestImage guest, int iops, Mode mode) {
            super(rd, hosts, guest, iops);
            this.mode = mode;
        }

        private List<String> fileDisk(Path img) throws IOException {
            try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
                f.setLength(s.diskBytes());
            }
            return List.of("-blockdev", "driver=file,node-name=disk0,filename=" + img + ",cache.direct=off",
                    "-device", "virtio-blk-pci,drive=disk0,id=vd0");
        }

        @Override
        @SuppressWarnings("unchecked")
        void migrate() throws Exception {
            QemuVm a = vm(hosts.a(), "src", fileDisk(rd.resolve("src.img")));
            src = new GuestConsole(a, "source");
            List<String> dArgs = new ArrayList<>(fileDisk(rd.resolve("dst.img")));
            dArgs.addAll(List.of("-incoming", "defer"));
            QemuVm b = vm(hosts.b(), "dst", dArgs);
            dst = new GuestConsole(b, "destination");
            warmUp();
            Qmp qa = a.qmp(), qb = b.qmp();
            String host = hosts.b().address();
            long link0 = linkBytes();
            tStart = System.nanoTime();
            qa.command("migrate-set-capabilities", Map.of("capabilities", List.of(
                    Map.of("capability", "events", "state", true), Map.of("capability", "pause-before-switchover", "state", true))));
            qa.command("migrate-set-parameters", Map.of("max-bandwidth", MAX_BANDWIDTH, "downtime-limit", DOWNTIME_LIMIT_MS));
            qb.command("migrate-incoming", Map.of("uri", "tcp:" + host + ":" + MIG_PORT));
            qb.command("nbd-server-start", Map.of("addr", Map.of("type", "inet", "data", Map.of("host", host, "port", Integer.toString(NBD_PORT)))));
            qb.command("block-export-add", Map.of("type", "nbd", "id", "exp0", "node-name", "disk0", "name", "vd0", "writable", true));
            qa.command("blockdev-add", Map.of("driver", "nbd", "node-name", "mirror0", "export", "vd0",
                    "server", Map.of("type", "inet", "host", host, "port", Integer.toString(NBD_PORT))));
            Map<String, Object> mirror = new LinkedHashMap<>(Map.of("job-id", "job0", "device", "disk0", "target", "mirror0", "sync", "full"));
            if (mode == Mode.MIRROR_WRITE_BLOCKING) mirror.put("copy-mode", "write-blocking");
            qa.command("blockdev-mirror", mirror);
            // bytes remaining: the job's len - offset, every 100 ms, until the job ends
            List<List<Double>> remaining = java.util.Collections.synchronizedList(new ArrayList<>());
            var sampling = new java.util.concurrent.atomic.AtomicBoolean(true);
            CompletableFuture<Void> sampler = CompletableFuture.runAsync(() -> {
                while (sampling.get()) {
                    try {
                        for (Object o : (List<Object>) qa.command("query-block-jobs", Map.of())) {
                            Map<String, Object> j = (Map<String, Object>) o;
                            long left = ((Number) j.get("len")).longValue() - ((Number) j.get("offset")).longValue();
                            remaining.add(List.of(secs(System.nanoTime()), (double) left));
                        }
                        TimeUnit.MILLISECONDS.sleep(100);   // the sampling period, not a synchronisation
                    } catch (IOException | InterruptedException e) {
                        return;
                    }
                }
            });
            try {
                Qmp.Event ready = qa.awaitEvent(e -> e.name().equals("BLOCK_JOB_READY") || e.name().equals("BLOCK_JOB_COMPLETED"), WAIT.toNanos());
                if (ready == null || !ready.name().equals("BLOCK_JOB_READY")) throw new IOException("the mirror did not become READY: " + (ready == null ? "timeout" : ready.body()));
                r.put("mirror_ready_s", secs(ready.nanos()));
                qa.command("migrate", Map.of("uri", "tcp:" + host + ":" + MIG_PORT));
                Qmp.Event pause = awaitMigration(qa, "pre-switchover");
                r.put("switchover_s", secs(pause.nanos()));
                qa.command("block-job-cancel", Map.of("device", "job0"));   // after READY: ends with source and target in sync
                Qmp.Event done = qa.awaitEvent(e -> e.name().equals("BLOCK_JOB_COMPLETED") || e.name().equals("BLOCK_JOB_CANCELLED"), WAIT.toNanos());
                if (done == null) throw new IOException("the mirror job did not end in the pause");
                r.put("mirror_job_end_in_pause_ms", Math.round((done.nanos() - pause.nanos()) / 1e4) / 100.0);
                qa.command("migrate-continue", Map.of("state", "pre-switchover"));
                Qmp.Event completed = awaitMigration(qa, "completed");
                tEnd = completed.nanos();
            } finally {
                sampling.set(false);
                sampler.join();
            }
            r.put("converged", true);
            r.put("timeline_remaining_bytes", new ArrayList<>(remaining));
            qb.command("nbd-server-stop", Map.of());
            long link = linkBytes() - link0;
            ramBytes(qa);
            r.put("total_ms", Math.round((tEnd - tStart) / 1e6));
            r.put("bytes_link", link);
            r.put("bytes_storage", link - ((Number) r.getOrDefault("bytes_ram", 0L)).longValue());
            r.put("bytes_counted_as", "veth tx+rx on host A minus QEMU's RAM bytes (ram.transferred)");
            r.put("link_over_disk", Math.round(link * 1000.0 / s.diskBytes()) / 1000.0);
            r.put("storage_over_disk", Math.round(((Number) r.get("bytes_storage")).longValue() * 1000.0 / s.diskBytes()) / 1000.0);
        }

        private Qmp.Event awaitMigration(Qmp q, String status) throws IOException, InterruptedException {
            while (true) {
                Qmp.Event e = q.awaitEvent(ev -> ev.name().equals("MIGRATION"), WAIT.toNanos());
                if (e == null) throw new IOException("no MIGRATION " + status + " within " + WAIT.toSeconds() + " s");
                Object st = e.data().get("status");
                if (status.equals(st)) return e;
                if ("failed".equals(st) || "cancelled".equals(st)) throw new IOException("QEMU's migration " + st);
            }
        }
    }

    /** nvme-lm: device serve --nbd and the source QEMU on host A, the agent serve --nbd and the destination QEMU on host B. */
    private final class NvmeLmRun extends Run {
        final List<Process> procs = new ArrayList<>();

        NvmeLmRun(Path rd, TwoHosts hosts, GuestImage guest, int iops) {
            super(rd, hosts, guest, iops);
        }

        /** nvme-lm on one host; its first {@code lines} stdout lines, the rest drained. */
        private List<String> start(TwoHosts.Host on, List<String> args, int lines) throws IOException {
            List<String> cmd = new ArrayList<>(launcher);
            cmd.addAll(args);
            Process p = on.process(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            procs.add(p);
            var out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            List<String> first = new ArrayList<>();
            for (int i = 0; i < lines; i++) {
                String l = out.readLine();
                if (l == null) throw new IOException("nvme-lm " + String.join(" ", args) + " exited before it was ready");
                first.add(l);
            }
            Thread.ofVirtual().start(() -> out.lines().forEach(l -> {}));
            return first;
        }

        /** The agent exports the migration from its HELLO on; opening it is harmless before the commit. */
        private void awaitExport(Path sock, java.util.UUID id, Process migrate) throws IOException, InterruptedException {
            long deadline = System.nanoTime() + WAIT.toNanos();
            IOException last = null;
            while (System.nanoTime() < deadline && migrate.isAlive()) {
                try (var c = dev.nvmelm.nbd.NbdClient.connect(dev.nvmelm.nbd.NbdUri.parse("nbd+unix:///" + id + "?socket=" + sock))) {
                    return;
                } catch (IOException e) {
                    last = e;
                }
                TimeUnit.MILLISECONDS.sleep(20);   // the agent's admission has no event this process could wait on
            }
            throw new IOException("the agent did not export migration " + id + (last == null ? "" : ": " + last.getMessage()));
        }

        @Override
        @SuppressWarnings("unchecked")
        void migrate() throws Exception {
            TwoHosts.Host ha = hosts.a(), hb = hosts.b();
            Path tls = rd.resolve("tls");
            List<String> gen = new ArrayList<>(launcher);
            gen.addAll(List.of("tls", "gen", "--dir", tls.toString(), "--san", hb.address()));
            Process g = new ProcessBuilder(gen).redirectErrorStream(true).start();
            String genOut = new String(g.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (g.waitFor() != 0) throw new IOException("tls gen: " + genOut.strip());
            Path sd = Files.createDirectories(rd.resolve("serve"));
            Path sock = sd.resolve("nbd.sock"), agentSock = rd.resolve("agent-nbd.sock");
            String device = start(ha, List.of("device", "serve", "--dir", sd.toString(), "--ns-size", Long.toString(s.diskBytes()),
                    "--migratable", "2", "--nbd", "unix:" + sock), 2).getFirst();
            if (!device.startsWith("sim:")) throw new IOException("device serve did not start: " + device);
            String to = hb.address() + ":" + AGENT_PORT;
            start(hb, List.of("serve", "--listen", to, "--dir", rd.resolve("agent").toString(), "--nbd", "unix:" + agentSock,
                    "--tls-cert", tls.resolve("server.crt").toString(), "--tls-key", tls.resolve("server.key").toString(),
                    "--tls-ca", tls.resolve("ca.crt").toString()), 2);
            QemuVm a = vm(ha, "src", QemuVm.virtioBlkOnNbd(sock, "c1n1", s.diskBytes()));
            src = new GuestConsole(a, "source");
            warmUp();
            java.util.UUID id = java.util.UUID.randomUUID();
            String uri = "tcp:" + hb.address() + ":" + MIG_PORT;
            Path dstQmp = rd.resolve("dst.qmp");
            List<String> cmd = new ArrayList<>(launcher);
            cmd.addAll(List.of("migrate", "--source", device + "#1", "--to", to, "--migration-id", id.toString(),
                    "--tls-cert", tls.resolve("client.crt").toString(), "--tls-key", tls.resolve("client.key").toString(),
                    "--tls-ca", tls.resolve("ca.crt").toString(), "--vm-qmp", a.qmpSocket().toString(),
                    "--vm-to", uri, "--vm-dest-qmp", dstQmp.toString(),
                    "--vm-max-bandwidth", Long.toString(MAX_BANDWIDTH), "--vm-downtime-limit", Long.toString(DOWNTIME_LIMIT_MS),
                    "--max-downtime", Long.toString(NVME_LM_MAX_DOWNTIME_MS), "--verify", "none", "-o", "json"));
            r.put("command", "nvme-lm " + String.join(" ", cmd.subList(launcher.size(), cmd.size())));
            long link0 = linkBytes();
            tStart = System.nanoTime();
            Process m = ha.process(cmd).start();
            procs.add(m);
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(m.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return e.getMessage();
                }
            });
            CompletableFuture<String> json = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(m.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return e.getMessage();
                }
            });
            // the destination's disk is the agent's export of this migration: it exists once the agent admitted it;
            // migrate waits for the destination's QMP at the convergence, before QEMU's RAM migration
            try {
                awaitExport(agentSock, id, m);
            } catch (IOException e) {
                m.waitFor(30, TimeUnit.SECONDS);
                throw new IOException(e.getMessage() + (m.isAlive() ? "" : "; migrate: " + err.join().strip()), e);
            }
            List<String> dArgs = new ArrayList<>(QemuVm.virtioBlkOnNbd(agentSock, id.toString(), s.diskBytes()));
            dArgs.addAll(List.of("-incoming", uri));
            QemuVm b = vm(hb, "dst", dArgs);
            Files.createSymbolicLink(dstQmp, b.qmpSocket());   // the path migrate was given; QEMU's own is known only now
            dst = new GuestConsole(b, "destination");
            int rc = m.waitFor();
            tEnd = System.nanoTime();
            r.put("total_ms", Math.round((tEnd - tStart) / 1e6));
            r.put("total_ms_counts", "the whole nvme-lm migrate process, its JVM start included");
            if (rc != 0) {
                r.put("converged", false);
                r.put("failure", err.join().strip());
                return;
            }
            Map<String, Object> rep = (Map<String, Object>) Json.parse(json.join());
            r.put("converged", true);
            for (String k : List.of("vm_downtime_ms", "storage_stop_ms", "vm_total_ms", "downtime_ms", "total_ms", "passes", "verdict")) {
                if (rep.containsKey(k)) r.put(k.equals("total_ms") ? "engine_total_ms" : k, rep.get(k));
            }
            long storage = ((Number) rep.get("bytes_copied")).longValue();
            r.put("bytes_storage", storage);
            long link = linkBytes() - link0;
            r.put("bytes_link", link);
            r.put("link_over_disk", Math.round(link * 1000.0 / s.diskBytes()) / 1000.0);
            r.put("bytes_counted_as", "storage: nvme-lm's bytes_copied (over the link, TLS); link: veth tx+rx on host A (storage, RAM and TLS framing)");
            r.put("storage_over_disk", Math.round(storage * 1000.0 / s.diskBytes()) / 1000.0);
            r.put("vm_timeline", rep.get("vm_timeline"));
            ramBytes(a.qmp());
        }

        @Override
        void cleanUp() throws Exception {
            for (Process p : procs.reversed()) {
                p.destroy();   // SIGTERM to its own PID: the servers flush and exit
                if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly();
            }
        }
    }
}
