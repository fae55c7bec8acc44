package dev.nvmelm.cli;

import dev.nvmelm.bench.ProcessCopies;
import dev.nvmelm.nbd.NbdClient;
import dev.nvmelm.nbd.NbdUri;
import dev.nvmelm.util.Json;
import dev.nvmelm.vm.GuestImage;
import dev.nvmelm.vm.QemuVm;
import dev.nvmelm.vm.TwoHosts;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code nvme-lm demo --vm} (docs/vm.md): the real job with a real guest. Builds or reuses the
 * guest (scripts/guest-build.sh), makes two hosts (network namespaces joined by a veth pair).
 * Host A runs {@code device serve --nbd} (MC 1's export is the guest's virtio-blk disk) and the
 * source QEMU; host B runs the agent {@code nvme-lm serve --nbd} with TLS (certificates from
 * {@code nvme-lm tls gen}). {@code nvme-lm migrate --source sim:..#1 --to B:PORT --vm-qmp}, on
 * host A, moves namespace and VM to host B; the destination QEMU's disk is the agent's export
 * named by the migration id, so it starts once the agent admitted the migration (docs/vm.md).
 * The guest judges the result: on host B it reads back every block it ever wrote. Everything
 * started here is stopped here, by its own handle.
 */
final class VmDemo {
    record Settings(long diskBytes, int iops, Duration write, Path guestCache, Path repoRoot, boolean json) {
        static Settings of(boolean quick, Path cache, Path root, boolean json) {
            return quick ? new Settings(16L << 20, 100, Duration.ofSeconds(2), cache, root, json)
                    : new Settings(64L << 20, 200, Duration.ofSeconds(5), cache, root, json);
        }
    }

    static final Duration WAIT = Duration.ofSeconds(120);
    static final int MIG_PORT = 4444, AGENT_PORT = 7070;
    static final long STOP_BUDGET_MS = 500;
    private final Settings s;
    private final PrintWriter out, err;

    VmDemo(Settings s, PrintWriter out, PrintWriter err) {
        this.s = s;
        this.out = out;
        this.err = err;
    }

    private void say(String fmt, Object... args) {
        if (s.json()) return;
        err.printf("nvme-lm demo --vm: " + fmt + "%n", args);
        err.flush();
    }

    private static long writes(String progress) {
        return Long.parseLong(progress.replaceAll(".* writes=(\\d+) .*", "$1"));
    }

    private static String word(String line, String key) {
        for (String w : line.split(" ")) if (w.startsWith(key + "=")) return w.substring(key.length() + 1);
        return null;
    }

    /** A process of nvme-lm on one host; its first {@code lines} stdout lines, the rest drained. */
    private Process nvmeLm(TwoHosts.Host on, List<String> args, List<String> firstLines, int lines) throws IOException {
        List<String> cmd = new ArrayList<>(ProcessCopies.launcher(Main.class));
        cmd.addAll(args);
        Process p = on.process(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        var out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        for (int i = 0; i < lines; i++) {
            String l = out.readLine();
            if (l == null) throw new CliException("demo --vm: nvme-lm " + String.join(" ", args) + " exited before it was ready");
            firstLines.add(l);
        }
        Thread.ofVirtual().start(() -> out.lines().forEach(l -> {}));
        return p;
    }

    /**
     * Waits until the agent exports the migration {@code id}: it does from the migration's HELLO on.
     * Opening the export is harmless before the commit (reads answered, no queue created).
     */
    private static void awaitExport(Path sock, UUID id, Process migrate) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        IOException last = null;
        while (System.nanoTime() < deadline && migrate.isAlive()) {
            try (NbdClient c = NbdClient.connect(NbdUri.parse("nbd+unix:///" + id + "?socket=" + sock))) {
                return;
            } catch (IOException e) {
                last = e;
            }
            TimeUnit.MILLISECONDS.sleep(20);   // the agent's admission has no event this process could wait on
        }
        throw new CliException("demo --vm: the agent did not export migration " + id + (last == null ? "" : ": " + last.getMessage()));
    }

    @SuppressWarnings("unchecked")
    int run() throws Exception {
        long t0 = System.nanoTime();
        String why = QemuVm.unavailable();
        if (why != null) throw new CliException("demo --vm needs QEMU: " + why);
        say("building or reusing the guest in %s", s.guestCache());
        GuestImage guest;
        try {
            guest = GuestImage.build(s.repoRoot(), s.guestCache());
        } catch (IOException e) {
            throw new CliException("demo --vm: " + e.getMessage());
        }
        Path dir = Files.createTempDirectory("nvme-lm-demo-vm");
        Map<String, Object> rep = new LinkedHashMap<>();
        List<QemuVm> vms = new ArrayList<>();
        List<Process> procs = new ArrayList<>();
        TwoHosts hosts = null;
        try {
            try {
                hosts = TwoHosts.create("nlmdv");
            } catch (TwoHosts.UnavailableException e) {
                throw new CliException("demo --vm: " + e.getMessage());
            }
            TwoHosts.Host a = hosts.a(), b = hosts.b();
            say("hosts A %s (%s) and B %s (%s), joined by a veth pair", a.netns(), a.address(), b.netns(), b.address());
            Path tls = dir.resolve("tls");
            StringWriter te = new StringWriter();
            if (Main.run(new String[]{"tls", "gen", "--dir", tls.toString(), "--san", b.address()}, new PrintWriter(new StringWriter(), true),
                    new PrintWriter(te, true)) != 0) throw new CliException("demo --vm: tls gen: " + te.toString().strip());
            Path srcDir = Files.createDirectories(dir.resolve("host-a")), sock = srcDir.resolve("nbd.sock");
            List<String> first = new ArrayList<>();
            procs.add(nvmeLm(a, List.of("device", "serve", "--dir", srcDir.toString(), "--ns-size", Long.toString(s.diskBytes()),
                    "--migratable", "2", "--nbd", "unix:" + sock), first, 2));
            String device = first.getFirst();
            say("host A: device serve %s, the guest's disk is MC 1's NBD export c1n1 on %s", device, sock);
            Path agentDir = dir.resolve("host-b"), agentSock = dir.resolve("agent-nbd.sock");
            String to = b.address() + ":" + AGENT_PORT;
            first.clear();
            procs.add(nvmeLm(b, List.of("serve", "--listen", to, "--dir", agentDir.toString(), "--nbd", "unix:" + agentSock,
                    "--tls-cert", tls.resolve("server.crt").toString(), "--tls-key", tls.resolve("server.key").toString(),
                    "--tls-ca", tls.resolve("ca.crt").toString()), first, 2));
            say("host B: agent %s, each migration exported on %s", first.getFirst(), agentSock);
            String append = "WRITER_IOPS=" + s.iops() + " WRITER_REPORT_MS=500";
            QemuVm src = QemuVm.startOn(a, new QemuVm.Config(dir, "src", guest.kernel(), guest.initrd(), append, 256,
                    QemuVm.virtioBlkOnNbd(sock, "c1n1", s.diskBytes()), Duration.ofMinutes(5)));
            vms.add(src);
            say("guest booting on host A (QEMU %s)", String.join(" ", QemuVm.accelerator()));
            src.awaitMarker("WRITER-START ", WAIT);
            long until = System.nanoTime() + s.write().toNanos();
            String p;
            do {
                p = src.awaitMarker("WRITER-PROGRESS ", WAIT);
            } while (System.nanoTime() < until);
            say("guest writing: %s", p);
            UUID id = UUID.randomUUID();
            String uri = "tcp:" + b.address() + ":" + MIG_PORT;
            Path dstQmp = dir.resolve("dst.qmp");
            List<String> migrate = List.of("migrate", "--source", device + "#1", "--to", to, "--migration-id", id.toString(),
                    "--tls-cert", tls.resolve("client.crt").toString(), "--tls-key", tls.resolve("client.key").toString(),
                    "--tls-ca", tls.resolve("ca.crt").toString(),
                    "--vm-qmp", src.qmpSocket().toString(), "--vm-to", uri, "--vm-dest-qmp", dstQmp.toString(),
                    // not --on-stall force: a forced stop skips the wait for QEMU's pre-switchover (the storage
                    // would commit before QEMU migrates); abort leaves the VM writing on host A, intact
                    // across hosts the stop ends with the agent's flush to its disk (about 60 ms here), above the
                    // default 50 ms budget: the demo proves the flow, bench vm measures the downtime
                    "--max-downtime", Long.toString(STOP_BUDGET_MS), "--verify", "none", "-o", "json");
            say("migrating VM and namespace to host B: nvme-lm %s", String.join(" ", migrate));
            List<String> cmd = new ArrayList<>(ProcessCopies.launcher(Main.class));
            cmd.addAll(migrate);
            Process mp = a.process(cmd).start();
            procs.add(mp);
            CompletableFuture<String> mErr = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(mp.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return e.getMessage();
                }
            });
            CompletableFuture<String> mOut = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(mp.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return e.getMessage();
                }
            });
            // the destination's disk is the agent's export of this migration: it exists once the agent admitted
            // the migration; migrate waits for the destination's QMP before it starts QEMU's RAM migration
            QemuVm dst = null;
            String startFailure = null;
            try {
                awaitExport(agentSock, id, mp);
                List<String> dArgs = new ArrayList<>(QemuVm.virtioBlkOnNbd(agentSock, id.toString(), s.diskBytes()));
                dArgs.addAll(List.of("-incoming", uri));
                dst = QemuVm.startOn(b, new QemuVm.Config(dir, "dst", guest.kernel(), guest.initrd(), append, 256, dArgs, Duration.ofMinutes(5)));
                vms.add(dst);
                // the path handed to migrate up front; QEMU's own socket name is known only now
                Files.createSymbolicLink(dstQmp, dst.qmpSocket());
                say("destination QEMU on host B, its disk the agent's export %s, waiting at %s", id, uri);
            } catch (CliException e) {
                startFailure = e.getMessage();
            }
            boolean finished = mp.waitFor(WAIT.toSeconds() * 2, TimeUnit.SECONDS);
            if (!finished) mp.destroy();
            int rc = finished ? mp.exitValue() : -1;
            String mErrText = mErr.get(30, TimeUnit.SECONDS).strip();
            boolean migrated = rc == 0 && dst != null;
            Map<String, Object> m = migrated ? (Map<String, Object>) Json.parse(mOut.get(30, TimeUnit.SECONDS)) : Map.of();
            QemuVm on = migrated ? dst : src;
            String failure = startFailure != null ? startFailure : mErrText;
            if (!migrated) say("migration failed (the VM stays on host A): %s", failure);
            on.awaitMarker("WRITER-PROGRESS ", WAIT);
            String last = on.awaitMarker("WRITER-PROGRESS ", WAIT);
            on.send("verify");
            String verdict = on.awaitMarker("VERIFY ", WAIT);
            boolean ok = verdict.startsWith("VERIFY ok");
            say("guest on host %s: %s", migrated ? "B" : "A", verdict);
            List<String> lines = new ArrayList<>();
            for (QemuVm vm : vms) lines.addAll(vm.lines());
            double maxLat = 0;
            long errors = 0;
            for (String l : lines) {
                if (!l.startsWith("WRITER-PROGRESS ")) continue;
                maxLat = Math.max(maxLat, Double.parseDouble(word(l, "max_lat_all_ms")));
                errors = Math.max(errors, Long.parseLong(word(l, "errors")));
            }
            rep.put("verified", migrated && ok && errors == 0);
            rep.put("guest_verify", ok ? "ok" : verdict.substring("VERIFY ".length()));
            rep.put("guest_writes", writes(last));
            rep.put("guest_io_errors", errors);
            rep.put("guest_max_write_latency_ms", maxLat);
            rep.put("vm_downtime_ms", m.get("vm_downtime_ms"));
            rep.put("storage_stop_ms", m.get("storage_stop_ms"));
            rep.put("bytes_copied", m.get("bytes_copied"));
            rep.put("storage_flow", "cross-host: device serve MC 1 on host A -> agent " + to + " (TLS) on host B, export " + id
                    + "; VM RAM over the veth link to host B");
            rep.put("migration_id", id.toString());
            rep.put("vm_migrated", migrated);
            if (!migrated) rep.put("migration_error", failure);
            on.send("quit");
            on.awaitMarker("WRITER-END ", WAIT);
        } finally {
            for (QemuVm vm : vms) vm.close();
            for (Process p : procs.reversed()) {
                p.destroy();   // SIGTERM to its own PID: the servers flush and exit
                if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly();
            }
            if (hosts != null) hosts.close();
            BenchCommand.deleteTree(dir);
        }
        rep.put("total_ms", Math.round((System.nanoTime() - t0) / 1e6));
        if (s.json()) {
            out.println(Json.pretty(rep));
        } else {
            for (var e : rep.entrySet()) out.printf("%-28s %s%n", e.getKey(), e.getValue());
        }
        out.flush();
        return Boolean.TRUE.equals(rep.get("verified")) ? 0 : 1;
    }
}
