package dev.nvmelm.cli;

import dev.nvmelm.embedded.LiveMigrationRig;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.nbd.NbdBlockDevice;
import dev.nvmelm.migrate.MediaMigration;
import dev.nvmelm.migrate.MigrationException;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.migrate.workload.Workload;
import dev.nvmelm.migrate.workload.WorkloadSpec;
import dev.nvmelm.util.Json;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One live migration of an image on the embedded software controller, as {@code migrate} and
 * {@code demo} run it: source and destination subsystems, an optional guest workload that keeps
 * writing through the switchover, progress on stderr, verification, and the report.
 */
final class MigrationRun {
    /** A restarted source compares 1 MiB chunks with the agent's: one SHA-256 per copier request. */
    static final int RESUME_DIGEST_CHUNK = 1 << 20;
    /**
     * What to migrate: images on the embedded controller ({@code source}/{@code destination}), or
     * controllers of two served subsystems ({@code sourceDevice}/{@code destDevice}, sim:PATH#C).
     */
    record Settings(Path source, Path destination, String sourceDevice, String destDevice, int nsid, int lbaSize, WorkloadSpec workload,
                    MediaMigration.Options options, Verifier.Mode verify, boolean json, boolean progressBar, Remote remote) {
        Settings(Path source, Path destination, int lbaSize, WorkloadSpec workload, MediaMigration.Options options,
                 Verifier.Mode verify, boolean json, boolean progressBar) {
            this(source, destination, null, null, 1, lbaSize, workload, options, verify, json, progressBar, null);
        }

        Settings(Path source, Path destination, String sourceDevice, String destDevice, int nsid, int lbaSize, WorkloadSpec workload,
                 MediaMigration.Options options, Verifier.Mode verify, boolean json, boolean progressBar) {
            this(source, destination, sourceDevice, destDevice, nsid, lbaSize, workload, options, verify, json, progressBar, null);
        }

        boolean served() {
            return sourceDevice != null;
        }

        /** Image source, NBD export destination: data only. */
        boolean toNbd() {
            return source != null && destDevice != null;
        }

        String sourceName() {
            return served() ? sourceDevice : source.toString();
        }

        String destinationName() {
            return remote != null ? "agent " + remote.to() : served() || toNbd() ? destDevice : destination.toString();
        }
    }

    /**
     * A destination agent over the network ({@code migrate --to}): migration {@code id}, new or,
     * with {@code resume}, one this source started before it was killed.
     */
    record Remote(String to, dev.nvmelm.net.agent.Transport transport, Duration reconnectWindow, boolean wholeHash,
                  java.util.UUID id, boolean resume, dev.nvmelm.net.proto.Compression compression) {
    }

    /** The two sides of one run and how the guest moves between them. */
    interface Endpoints extends AutoCloseable {
        MediaMigration.Side source();

        MediaMigration.Side destination();

        MediaMigration.GuestHandover handover();

        /** The guest's device for a workload in this process, or null. */
        NvmeDevice guest();

        /** Verification the destination does itself (an agent at commit): a line for the report, or null. */
        default String finish(MediaMigration.Outcome outcome) throws Exception {
            return null;
        }

        /** After {@link #finish} failed: what the source does now, in words. */
        default String notCommitted() {
            return "the source controller is suspended with its data intact";
        }

        /** True when the destination cannot be read from here and verifies itself in {@link #finish}. */
        default boolean verifiesRemotely() {
            return false;
        }

        /** Report fields of the transport, if any. */
        default Map<String, Object> transportReport() {
            return Map.of();
        }

        /** What the bulk pass may leave out because the destination holds it already, or null. */
        default dev.nvmelm.migrate.copy.Copier.BulkSkip bulkSkip() {
            return null;
        }

        long sizeBytes();

        @Override
        void close() throws Exception;
    }

    private final Settings s;
    /** How to reach an NBD destination: the client certificate for nbds:// (see NbdSourceRun.clientOptions). */
    private dev.nvmelm.nbd.NbdClient.Options nbdOptions = dev.nvmelm.nbd.NbdClient.Options.PLAIN;
    private final PrintWriter out, err;
    private Map<String, Object> extra = Map.of();
    private String remoteLine;
    /** The destination image did not exist before this run (so a run that cannot finish it may remove it). */
    private boolean destCreated;

    /** migrate's --workload runs in the user's SRC image: say so once the run is accepted (demo's source is its own). */
    private boolean sayGuestWritesIntoSource;

    MigrationRun sayingTheGuestWritesIntoSource() {
        this.sayGuestWritesIntoSource = true;
        return this;
    }

    /** QEMU's migration in lockstep with the storage's ({@code --vm-qmp}, docs/vm.md); null: storage only. */
    private VmSwitchover.Settings vmSettings;
    private VmSwitchover vm;

    MigrationRun withVm(VmSwitchover.Settings v) {
        this.vmSettings = v;
        return this;
    }

    MigrationRun withNbdOptions(dev.nvmelm.nbd.NbdClient.Options o) {
        this.nbdOptions = o;
        return this;
    }

    MigrationRun(Settings s, PrintWriter out, PrintWriter err) {
        this.s = s;
        this.out = out;
        this.err = err;
    }

    /** Returns the exit status: 0 only when the destination is verified. */
    int run() throws Exception {
        if (s.served()) {
            if (s.workload() != null) {
                throw new CliException("--workload runs a guest in this process, on the embedded controller; with sim: devices drive"
                        + " the guest's I/O from its own process (nvme-lm io, or NBD with device serve --nbd)");
            }
            if (s.remote() != null) {
                java.net.InetSocketAddress addr = agentAddress();
                String where = "agent " + s.remote().to() + " (migration " + s.remote().id() + ")";
                try (ServedSource src = ServedSource.open(s.sourceDevice(), s.nsid(), Duration.ofSeconds(60), where)) {
                    return migrateRemote(addr, src);
                }
            }
            try (Endpoints e = SimEndpoints.open(s.sourceDevice(), s.destDevice(), s.nsid(), Duration.ofSeconds(60))) {
                return migrate(e, null);
            }
        }
        FileErrors.requireReadableFile("source image", s.source());
        if (s.destination() != null) {
            FileErrors.requireWritablePlace("destination image", s.destination());
            SameStorage.refuseFiles(s.source(), s.destination());
        }
        long size = Files.size(s.source());
        if (size == 0 || size % s.lbaSize() != 0) throw new CliException("source image " + s.source() + " has " + size + " bytes, not a positive multiple of the LBA size " + s.lbaSize());
        if (s.destination() != null && Files.exists(s.destination()) && Files.size(s.destination()) != size) {
            throw new CliException("destination image " + s.destination() + " exists with " + Files.size(s.destination()) + " bytes; the source has " + size);
        }
        if (s.destination() != null) {
            try (DestinationLock lock = DestinationLock.acquire(s.destination(), s.source().toString())) {
                destCreated = !Files.exists(s.destination());
                return migrateImages(size, lock);
            }
        }
        Path work = Files.createTempDirectory("nvme-lm-migrate");
        if (s.remote() != null) {
            java.net.InetSocketAddress addr = agentAddress();
            try (LiveMigrationRig rig = new LiveMigrationRig(s.source(), work.resolve("unused-destination.img"), work, size, s.lbaSize())) {
                return migrateRemote(addr, new RemoteEndpoints.Source() {
                    @Override public MediaMigration.Side side() { return rig.sourceSide(); }
                    @Override public MediaMigration.GuestHandover handover() { return rig.handover(); }
                    @Override public NvmeDevice guest() { return rig.guest(); }
                    @Override public byte[] sha256() throws IOException { return HexFormat.of().parseHex(MigrationRun.sha256(s.source())); }
                });
            } finally {
                BenchCommand.deleteTree(work);
            }
        }
        if (s.toNbd()) {
            try (NbdBlockDevice nbd = openNbd(s.destDevice(), size);
                 LiveMigrationRig rig = new LiveMigrationRig(s.source(), work.resolve("unused-destination.img"), work, size, s.lbaSize())) {
                return migrate(new Endpoints() {
                    @Override public MediaMigration.Side source() { return rig.sourceSide(); }
                    @Override public MediaMigration.Side destination() { return MediaMigration.Side.storageOnly(nbd); }
                    @Override public MediaMigration.GuestHandover handover() { return rig.handover(); }
                    @Override public NvmeDevice guest() { return rig.guest(); }
                    @Override public long sizeBytes() { return size; }
                    @Override public void close() {}
                }, null);
            } finally {
                BenchCommand.deleteTree(work);
            }
        }
        throw new IllegalStateException("no destination");
    }

    private java.net.InetSocketAddress agentAddress() {
        try {
            return dev.nvmelm.net.agent.Transport.parse(s.remote().to());
        } catch (IllegalArgumentException e) {
            throw new CliException("--to " + e.getMessage());
        }
    }

    /** Connects to the agent and runs the migration into it. */
    private int migrateRemote(java.net.InetSocketAddress addr, RemoteEndpoints.Source source) throws Exception {
        // printed first (human output; JSON reports it): the id is what --resume needs if this process is killed
        if (!s.json()) {
            out.println("nvme-lm migrate: migration id " + s.remote().id() + (s.remote().resume() ? " (resuming)" : ""));
            out.flush();
        }
        MediaMigration.Side src = source.side();
        dev.nvmelm.net.agent.RemoteDestination remote;
        try {
            remote = new dev.nvmelm.net.agent.RemoteDestination(s.remote().transport(), addr, s.remote().id(), src.data().sizeBytes(),
                    src.data().blockSizeBytes(), s.remote().reconnectWindow(), s.remote().compression(), s.remote().resume() ? RESUME_DIGEST_CHUNK : 0);
        } catch (java.io.IOException e) {
            throw new CliException("--to " + s.remote().to() + ": " + e.getMessage() + (s.remote().resume() ? "; the source is untouched" : ""));
        }
        try (remote) {
            return migrate(new RemoteEndpoints(source, remote, s.remote()), null);
        }
    }

    /** Image to image on the embedded controller, with DST locked for the run. */
    private int migrateImages(long size, DestinationLock lock) throws Exception {
        if (sayGuestWritesIntoSource && s.workload() != null && !s.json()) {
            err.println("nvme-lm: the --workload guest writes into " + s.source() + " (the source namespace), as a real guest would");
        }
        Path work = Files.createTempDirectory("nvme-lm-migrate");
        try (LiveMigrationRig rig = new LiveMigrationRig(s.source(), s.destination(), work, size, s.lbaSize())) {
            return migrate(new Endpoints() {
                @Override public MediaMigration.Side source() { return rig.sourceSide(); }
                @Override public MediaMigration.Side destination() { return rig.destinationSide(); }
                @Override public MediaMigration.GuestHandover handover() { return rig.handover(); }
                @Override public NvmeDevice guest() { return rig.guest(); }
                @Override public long sizeBytes() { return size; }
                @Override public void close() {}
            }, lock);
        } finally {
            BenchCommand.deleteTree(work);
        }
    }

    private NbdBlockDevice openNbd(String uri, long size) {
        NbdBlockDevice d;
        try {
            d = NbdBlockDevice.open(uri, s.lbaSize(), Duration.ofSeconds(60), nbdOptions);
        } catch (java.io.IOException | IllegalArgumentException e) {
            throw new CliException("--dest " + uri + ": " + e.getMessage());
        }
        if (d.sizeBytes() != size) {
            try {
                d.close();
            } catch (java.io.IOException ignored) {
                // refusing anyway
            }
            throw new CliException("--dest " + uri + " has " + d.sizeBytes() + " bytes; the source has " + size);
        }
        return d;
    }

    private int migrate(Endpoints ends, DestinationLock incomplete) throws Exception {
        if (vmSettings == null) return migrateStorage(ends, incomplete);
        try (VmSwitchover v = VmSwitchover.prepare(vmSettings)) {
            vm = v;
            return migrateStorage(ends, incomplete);
        } finally {
            vm = null;
        }
    }

    private int migrateStorage(Endpoints ends, DestinationLock incomplete) throws Exception {
        long size = ends.sizeBytes();
        Workload guest = s.workload() == null ? null
                : new Workload(ends.guest(), LiveMigrationRig.NSID, size, s.lbaSize(), s.workload(), System::nanoTime);
        if (guest != null) guest.start();
        ProgressBar bar = s.progressBar() ? new ProgressBarBuilder().setTaskName("migrate").setInitialMax(size >> 20)
                .setUnit(" MiB", 1).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(200).continuousUpdate()
                .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).build() : null;
        long[] shown = {0};
        // the CRC32C ledger is read back only by a local verify
        MediaMigration.Options options = s.options().withRecordWrites(s.verify() != Verifier.Mode.NONE && !ends.verifiesRemotely());
        if (ends.bulkSkip() != null) options = options.withCopy(options.copy().withBulkSkip(ends.bulkSkip()));
        MediaMigration m = new MediaMigration(ends.source(), ends.destination(), ends.handover(), options, System::nanoTime, snap -> {
            if (bar == null) return;
            long skipped = ends.bulkSkip() instanceof dev.nvmelm.net.agent.DigestSkip d ? d.bytesSkipped() : 0;   // --resume: already there
            long done = (snap.bytesCopied() + snap.bytesZero() + skipped) >> 20;
            long max = Math.max(snap.bytesTotal() >> 20, done + (snap.backlogBytes() >> 20));
            if (max > bar.getMax()) bar.maxHint(max);
            if (done > shown[0]) {   // never backwards
                bar.stepTo(done);
                shown[0] = done;
            }
            bar.setExtraMessage(String.format(" %s pass %d backlog %s %s", snap.phase().name().toLowerCase(),
                    snap.pass(), human(snap.backlogBytes()), snap.verdict().length() > 40 ? snap.verdict().substring(0, 40) : snap.verdict()));
        });
        if (vm != null) m.withStopGate(vm.gate());
        // Ctrl-C/SIGTERM cancel the run; the abort resumes the source and the command exits with its
        // message. Any other shutdown (SIGHUP) waits for that resume, and only for it: waiting for
        // the main thread would wait for a System.exit that itself waits for this hook.
        java.util.concurrent.CountDownLatch settled = new java.util.concurrent.CountDownLatch(1);
        Thread hook = new Thread(() -> {
            m.cancel();
            try {
                settled.await(15, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                // exiting anyway
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);
        MediaMigration.Report r;
        Verifier.Result v;
        Workload.Check check = null;
        long rewritten;
        dev.nvmelm.migrate.copy.WriteLedger.Check crc;
        MediaMigration.Outcome lastOutcome;
        Signals.Scope signals = Signals.during(sig -> m.cancel());
        try (MediaMigration.Outcome outcome = runSettled(m, settled)) {
            signals.close();
            lastOutcome = outcome;
            if (vm != null && !ends.verifiesRemotely()) vm.afterCommit(s.destinationName());   // the VM is paused until then
            if (bar != null) bar.close();
            if (guest != null) {
                if (s.workload().seconds() > 0) guest.awaitEnd();
                else guest.stop();
            }
            r = outcome.report();
            rewritten = outcome.bytesRewrittenAfterSwitchover();
            v = outcome.verify(ends.verifiesRemotely() ? Verifier.Mode.NONE : s.verify(), 1);
            crc = outcome.writeCheck();
            if (guest != null && s.verify() != Verifier.Mode.NONE) check = guest.check(ends.destination().data());
        } catch (MigrationException e) {
            if (vm != null) vm.cancel();   // after the engine resumed the source controller: the VM runs on there
            if (bar != null) bar.close();
            if (guest != null) guest.stop();
            Signals.Received sig = signals.received();
            String why = sig != null ? "stopped by " + sig.name() : e.getMessage();
            if (sig == null && incomplete != null && dev.nvmelm.block.OutOfSpace.is(e)) {
                // an image namespace is thin: Capacity Exceeded on its writes is its filesystem running out
                // (generic status 81h); the partial copy would keep that filesystem full
                long free = usable(s.destination());
                if (destCreated) {
                    Files.deleteIfExists(s.destination());
                    incomplete.completed();
                }
                throw new CliException("migration aborted: no space left on " + s.destination() + "'s filesystem (" + human(free)
                        + " free, up to " + human(size) + " needed); the source controller is resumed and its data intact, " + s.destination()
                        + (destCreated ? ", created by this run, is removed" : " is incomplete"), e);
            }
            throw new CliException("migration aborted: " + why + "; the source controller is resumed and its data intact, "
                    + s.destinationName() + " is incomplete", e, sig != null ? sig.exitStatus() : 1);
        } finally {
            signals.close();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // already shutting down
            }
        }
        String remoteCheck = null;
        if (ends.verifiesRemotely()) {
            try {
                long c0 = System.nanoTime();
                remoteCheck = ends.finish(lastOutcome);
                // the guest resumes only when the destination has committed: that wait is downtime too
                double commitMs = (System.nanoTime() - c0) / 1e6;
                r.downtimeMs += commitMs;
                r.downtimeBreakdownMs.put("commit", Math.round(commitMs * 100) / 100.0);
            } catch (Exception e) {
                if (vm != null) vm.cancel();
                throw new CliException("migration not committed: " + e.getMessage() + "; " + ends.notCommitted(), e);
            }
        }
        if (vm != null && ends.verifiesRemotely()) vm.afterCommit(s.destinationName());
        extra = ends.transportReport();
        remoteLine = remoteCheck;
        boolean verified = remoteCheck != null
                || (v.ok() && (check == null || check.badBlocks() == 0) && s.verify() != Verifier.Mode.NONE);
        String srcSha = s.verify() == Verifier.Mode.NONE || s.served() || s.toNbd() ? "" : sha256(s.source());
        String dstSha = s.verify() == Verifier.Mode.NONE || s.served() || s.toNbd() ? "" : sha256(s.destination());
        // with --verify none the copy completed unchecked: DST is no longer incomplete, and the report says unverified
        if (incomplete != null && (verified || s.verify() == Verifier.Mode.NONE)) incomplete.completed();
        report(r, v, crc, check, rewritten, guest, size, srcSha, dstSha, verified);
        return verified || s.verify() == Verifier.Mode.NONE ? 0 : 1;
    }

    private static long usable(Path file) {
        try {
            return Files.getFileStore(file.toAbsolutePath().getParent()).getUsableSpace();
        } catch (IOException e) {
            return 0;
        }
    }

    /** Runs the migration; {@code settled} opens once it has ended either way (on an abort, with the source resumed). */
    private static MediaMigration.Outcome runSettled(MediaMigration m, java.util.concurrent.CountDownLatch settled) throws MigrationException {
        try {
            return m.run();
        } finally {
            settled.countDown();
        }
    }

    /**
     * What the dirty passes' copies took (time inside the copier, not the passes' waits): ranges,
     * bytes, milliseconds, and the rates they make.
     */
    static void passCopies(Map<String, Object> m, MediaMigration.Report r) {
        long ranges = 0, bytes = 0, nanos = 0;
        java.util.List<Object> each = new java.util.ArrayList<>();
        synchronized (r.passCopies) {
            for (long[] p : r.passCopies) {
                ranges += p[0];
                bytes += p[1];
                nanos += p[2];
                each.add(java.util.List.of(p[0], p[1], Math.round(p[2] / 1e3) / 1e3));
            }
        }
        m.put("dirty_pass_ranges", ranges);
        m.put("dirty_pass_copy_ms", Math.round(nanos / 1e4) / 100.0);
        m.put("dirty_pass_copy_bytes_per_s", nanos == 0 ? 0 : Math.round(bytes * 1e9 / nanos));
        m.put("dirty_pass_ranges_per_s", nanos == 0 ? 0 : Math.round(ranges * 1e9 / nanos));
        m.put("dirty_pass_copies", each);   // per pass: ranges, bytes, ms
    }

    private void report(MediaMigration.Report r, Verifier.Result v, dev.nvmelm.migrate.copy.WriteLedger.Check crc, Workload.Check check, long rewritten, Workload guest, long size,
                        String srcSha, String dstSha, boolean verified) {
        if (s.json()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("verified", verified);
            m.put("verdict", r.verdict);
            m.put("source_sha256", srcSha);
            m.put("dest_sha256", dstSha);
            m.put("bytes_total", size);
            m.put("bytes_copied", r.bytesCopied + r.bytesZero);
            m.put("bytes_data_copied", r.bytesCopied);
            m.put("bytes_dirty_copied", r.bytesDirty);
            m.put("bytes_zero_skipped", r.bytesZero);
            m.put("passes", r.passes);
            passCopies(m, r);
            m.put("cdq_entries", r.cdqEntries);
            m.put("cdq_anomalies", r.anomalies);
            m.put("tracking_restarts", r.trackingRestarts);
            m.put("bytes_ignored_ahead_of_bulk", r.bytesIgnoredAhead);
            m.put("bytes_recopied_after_cdq_full", r.bytesRecopiedAfterCdqFull);
            if (r.verdictDetail != null) {
                Map<String, Object> vd = new LinkedHashMap<>();
                vd.put("converged", r.verdictDetail.converged());
                vd.put("dirty_rate_bytes_per_s", Math.round(r.verdictDetail.dirtyRateBps()));
                vd.put("copy_rate_bytes_per_s", Math.round(r.verdictDetail.copyRateBps()));
                vd.put("backlog_bytes", r.verdictDetail.backlogBytes());
                vd.put("predicted_stop_ms", Math.round(r.verdictDetail.predictedStopMs() * 10) / 10.0);
                m.put("verdict_detail", vd);
            }
            m.put("guest_writes", guest == null ? 0 : guest.guestWrites());
            m.put("guest_bytes_rewritten_after_switchover", rewritten);
            m.put("throttle_iops", r.throttleIops);
            m.put("downtime_ms", Math.round(r.downtimeMs * 10) / 10.0);
            m.put("downtime_budget_ms", s.options().maxDowntime().toMillis());
            m.put("downtime_over_budget", overBudget(r));
            m.put("downtime_breakdown_ms", new LinkedHashMap<String, Object>(r.downtimeBreakdownMs));
            m.put("total_ms", r.totalMs);
            m.put("verify_mode", remoteLine == null ? s.verify().name().toLowerCase() : s.remote().wholeHash() ? "full" : "crc32c");
            m.put("verify_bytes_compared", v.bytesCompared());
            m.put("verify_first_mismatch", v.firstMismatch());
            m.put("crc_extents_checked", crc.extentsChecked());
            m.put("crc_bytes_checked", crc.bytesChecked());
            m.put("crc_extents_skipped_rewritten", crc.extentsSkipped());
            m.put("crc_mismatches", crc.mismatches());
            m.put("crc_ledger_complete", crc.complete());
            if (remoteLine != null) {
                m.put("destination_verified", true);   // a commit the agent refused ends before the report
                m.put("destination_check", remoteLine);
            }
            m.putAll(extra);
            if (vm != null) m.putAll(vm.report(r));
            m.put("workload_blocks_checked", check == null ? 0 : check.blocksChecked());
            m.put("workload_bad_blocks", check == null ? 0 : check.badBlocks());
            out.println(Json.pretty(m));
            return;
        }
        out.printf("nvme-lm migrate: %s -> %s%n", s.sourceName(), s.destinationName());
        out.printf("  verdict       %s%n", r.verdict);
        out.printf("  copied        %s (data %s in bulk, %s in %d dirty passes, %s in the stop; %s as zeroes/holes)%n",
                human(r.bytesCopied + r.bytesZero), human(r.bytesBulk), human(r.bytesDirty - r.bytesFinal), r.passes, human(r.bytesFinal), human(r.bytesZero));
        out.printf("  downtime      %.1f ms (suspend on the source to resume on the destination)%n", r.downtimeMs);
        StringBuilder laps = new StringBuilder();
        r.downtimeBreakdownMs.forEach((k, ms) -> laps.append(laps.isEmpty() ? "" : ", ").append(k.replace('_', ' ')).append(' ').append(ms));
        out.printf("                %s%n", laps);
        if (overBudget(r)) {
            out.printf("  over budget   the stop took %.1f ms, more than --max-downtime %d ms (predicted %.1f ms)%n", r.downtimeMs,
                    s.options().maxDowntime().toMillis(), r.verdictDetail == null ? Double.NaN : r.verdictDetail.predictedStopMs());
        }
        out.printf("  total         %.2f s%n", r.totalMs / 1000.0);
        if (vm != null) vm.print(out, r);
        out.printf("  cdq entries   %d%s%n", r.cdqEntries, r.anomalies > 0 ? " (" + r.anomalies + " anomalies)" : "");
        if (guest != null) out.printf("  guest         %d writes (%d errors); %s rewritten on the destination after switchover%n",
                guest.guestWrites(), guest.errors.get(), human(rewritten));
        if (remoteLine != null) {
            out.printf("  verified      yes (%s)%n", remoteLine);
            out.printf("  network       %s sent, %s resent after %s reconnects%n", human(((Number) extra.get("bytes_sent_wire")).longValue()),
                    human(((Number) extra.get("bytes_resent")).longValue()), extra.get("reconnects"));
            out.printf("  migration id  %s%s%n", extra.get("migration_id"), Boolean.TRUE.equals(extra.get("resumed"))
                    ? " (resumed: " + human(((Number) extra.get("bytes_skipped_by_digest")).longValue()) + " not resent, the agent's digests matched)" : "");
            if (!"none".equals(extra.get("compression"))) {
                out.printf("  compression   %s: %s of data took %s on the wire%n", extra.get("compression"),
                        human(((Number) extra.get("data_bytes_before_compression")).longValue()), human(((Number) extra.get("data_bytes_on_wire")).longValue()));
            }
        } else if (s.verify() == Verifier.Mode.NONE) {
            out.println("  verified      no (--verify none)");
        } else {
            out.printf("  verified      %s (%s: %s compared, %s rewritten by the guest skipped%s)%n", verified ? "yes" : "NO",
                    s.verify().name().toLowerCase(), human(v.bytesCompared()), human(v.bytesSkipped()),
                    check == null ? "" : "; workload oracle: " + check.blocksChecked() + " blocks, " + check.badBlocks() + " bad");
            out.printf("  crc32c        %d written extents read back (%s), %d mismatches%s%n", crc.extentsChecked(), human(crc.bytesChecked()),
                    crc.mismatches(), crc.complete() ? "" : " (ledger full: later writes not recorded)");
            if (!v.ok()) out.printf("  first mismatch at byte %d%n", v.firstMismatch());
            if (!srcSha.isEmpty()) out.printf("  sha256        source %s%n                destination %s%n", srcSha, dstSha);
        }
    }

    /** The guest was stopped longer than the budget the switchover was planned for. */
    private boolean overBudget(MediaMigration.Report r) {
        return r.downtimeMs > s.options().maxDowntime().toMillis();
    }

    static String human(long b) {
        if (b < 1024) return b + " B";
        if (b < 1 << 20) return String.format("%.1f KiB", b / 1024.0);
        if (b < 1L << 30) return String.format("%.1f MiB", b / 1048576.0);
        return String.format("%.2f GiB", b / 1073741824.0);
    }

    static String sha256(Path p) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            int n;
            while ((n = in.read(buf)) > 0) d.update(buf, 0, n);
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static Duration ms(long v) {
        return Duration.ofMillis(v);
    }
}
