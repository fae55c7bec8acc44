package dev.nvmelm.cli;

import dev.nvmelm.migrate.MediaMigration;
import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.nbd.NbdUri;
import dev.nvmelm.migrate.workload.WorkloadSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;

@Command(name = "migrate", mixinStandardHelpOptions = true,
        description = {"Live-migrate a namespace and exit 0 only when the destination is verified.",
                "A source subsystem runs on SRC (namespace 1 of MC 1), a destination subsystem on DST (created, or reused if the size matches); or between served controllers, NBD exports, or to an agent (--to)."})
final class MigrateCommand extends CliCommand {
    @Option(names = "--source-image", paramLabel = "SRC", description = "Source namespace image (raw), run on the embedded controller")
    Path source;

    @Option(names = "--dest-image", paramLabel = "DST", description = "Destination image (created sparse, or reused if its size matches)")
    Path dest;

    @Option(names = "--source", paramLabel = "sim:PATH#C|NBD-URI",
            description = "Source migratable controller of a served subsystem (nvme-lm device serve), or an NBD export (nbd+unix:///EXPORT?socket=PATH, nbd://HOST:PORT/EXPORT, nbds://...) copied storage-only to --dest-image or --dest NBD-URI")
    String sourceDevice;

    @Option(names = "--dirty-context", paramLabel = "auto|none|CONTEXT", defaultValue = "auto",
            description = "With an NBD source: the dirty map for dirty passes (nvme-lm:dirty, qemu:dirty-bitmap:NAME); auto takes nvme-lm:dirty or the only qemu:dirty-bitmap offered (default: ${DEFAULT-VALUE})")
    String dirtyContext;

    @Option(names = "--dest", paramLabel = "sim:PATH#C|NBD-URI",
            description = "Destination migratable controller of the same served subsystem, or (with --source-image or an NBD --source) an NBD export (nbd+unix:///EXPORT?socket=PATH, nbd://HOST:PORT/EXPORT) that receives the data only")
    String destDevice;

    @Option(names = "--namespace-id", defaultValue = "1", description = "With --source/--dest: the MC's namespace to move (default: ${DEFAULT-VALUE})")
    int nsid;

    @Option(names = "--to", paramLabel = "HOST:PORT", description = "With --source-image or --source sim:PATH#C: a destination agent (nvme-lm serve) on another host; a served controller keeps serving its clients until the stop")
    String to;

    @Option(names = "--reconnect-window", paramLabel = "SECONDS", defaultValue = "60",
            description = "How long a cut link may stay down before the migration gives up (default: ${DEFAULT-VALUE})")
    long reconnectWindowSeconds;

    @Option(names = "--migration-id", paramLabel = "UUID", description = "With --to: the migration's id (default: a random one, printed at the start)")
    String migrationId;

    @Option(names = "--resume", paramLabel = "ID",
            description = "With --to: continue migration ID after this source was killed; the agent sends digests of what it holds and only what differs is sent again")
    String resume;

    @Option(names = "--compress", paramLabel = "none|lz4|zstd", defaultValue = "none",
            description = "With --to: compress DATA frames (default: ${DEFAULT-VALUE}); incompressible data is sent as is")
    String compress;

    @picocli.CommandLine.Mixin
    TlsOptions tls;

    @Option(names = "--vm-qmp", paramLabel = "PATH",
            description = "Also live-migrate the VM of the QEMU whose QMP socket this is, in lockstep: its RAM pre-copy starts when the storage converged, the storage stop runs in QEMU's pre-switchover pause (docs/vm.md)")
    Path vmQmp;

    @Option(names = "--vm-to", paramLabel = "URI", description = "With --vm-qmp: QEMU's migration URI (tcp:HOST:PORT, unix:PATH) of the destination QEMU started with -incoming")
    String vmTo;

    @Option(names = "--vm-dest-qmp", paramLabel = "PATH", description = "With --vm-qmp: the destination QEMU's QMP socket, checked alive right before the storage stop")
    Path vmDestQmp;

    @Option(names = "--vm-max-bandwidth", paramLabel = "BYTES/S", converter = Numbers.Size.class, defaultValue = "10G",
            description = "With --vm-qmp: QEMU's max-bandwidth for the RAM migration (QEMU's default is 32 MiB/s; default here: ${DEFAULT-VALUE})")
    long vmMaxBandwidth;

    @Option(names = "--vm-downtime-limit", paramLabel = "MS", defaultValue = "50",
            description = "With --vm-qmp: QEMU's downtime-limit, the RAM left when it stops the vCPUs, in ms of its bandwidth (QEMU's default is 300; default here: ${DEFAULT-VALUE})")
    long vmDowntimeLimitMs;

    @Option(names = "--vm-timeout", paramLabel = "SECONDS", defaultValue = "300",
            description = "With --vm-qmp: how long QEMU may take to reach pre-switchover, and then to complete (default: ${DEFAULT-VALUE})")
    long vmTimeoutSeconds;

    @Option(names = "--lba-size", defaultValue = "4096", description = "LBA size: 512 or 4096 (default: ${DEFAULT-VALUE})")
    int lbaSize;

    @Option(names = "--workload", paramLabel = "SPEC",
            description = "Guest writes during the migration, e.g. random-write:iops=2000,bs=4k,seconds=10,zeroes=0.05,trim=0.05 (also seq-write, mixed). The guest writes into SRC, as a real guest would: SRC is changed")
    String workload;

    @Mixin
    EngineOptions engine;




    @Override
    public Integer call() throws Exception {
        OutputFormat f = g.format();
        if (lbaSize != 512 && lbaSize != 4096) throw new CliException("--lba-size must be 512 or 4096");
        WorkloadSpec w;
        try {
            w = workload == null ? null : WorkloadSpec.parse(workload);
        } catch (IllegalArgumentException e) {
            throw new CliException("--workload: " + e.getMessage());
        }
        if (to == null && (resume != null || migrationId != null || !"none".equals(compress))) {
            throw new CliException("--resume, --migration-id and --compress go with --to HOST:PORT");
        }
        VmSwitchover.Settings vm = vmSettings();
        if (vm != null && (source != null || (sourceDevice != null && NbdUri.looksLikeNbd(sourceDevice)))) {
            throw new CliException("--vm-qmp goes with --source sim:PATH#C (a VM's disk on a served controller's NBD export)");
        }
        if (sourceDevice != null && NbdUri.looksLikeNbd(sourceDevice)) return NbdSourceRun.run(this, spec.commandLine().getOut(), spec.commandLine().getErr());
        if (!"auto".equals(dirtyContext)) throw new CliException("--dirty-context goes with --source NBD-URI");
        if (to != null) {
            if ((source == null) == (sourceDevice == null) || dest != null || destDevice != null) {
                throw new CliException("--to HOST:PORT goes with --source-image SRC or --source sim:PATH#C (no --dest-image, no --dest)");
            }
            if (sourceDevice != null && !dev.nvmelm.host.sim.SimNvmeDevice.handles(sourceDevice)) {
                throw new CliException("--source " + sourceDevice + " with --to: give a served controller sim:PATH#C");
            }
            if (w != null) {
                throw new CliException("--workload needs the guest to continue on the destination controller, which lives in the agent's process;"
                        + " drive the guest from outside");
            }
            if (reconnectWindowSeconds < 1) throw new CliException("--reconnect-window must be at least 1 second");
            java.util.UUID id = resume != null ? uuid("--resume", resume) : migrationId != null ? uuid("--migration-id", migrationId) : java.util.UUID.randomUUID();
            if (resume != null && migrationId != null && !id.equals(uuid("--migration-id", migrationId))) {
                throw new CliException("--resume " + resume + " and --migration-id " + migrationId + " name different migrations");
            }
            dev.nvmelm.net.proto.Compression codec;
            try {
                codec = dev.nvmelm.net.proto.Compression.parse(compress);
            } catch (IllegalArgumentException e) {
                throw new CliException("--compress " + e.getMessage());
            }
            // the agent always reads each extent back against its CRC32C; a whole-namespace SHA-256 runs inside the
            // downtime (seconds per GiB), so with --to it is what --verify full asks for, not the default
            Verifier.Mode asked = engine.verifyMode(null);
            if (asked == Verifier.Mode.SAMPLED) throw new CliException("--verify sampled goes with a local destination; with --to use full or none");
            var remote = new MigrationRun.Remote(to, tls.transport(), java.time.Duration.ofSeconds(reconnectWindowSeconds), asked == Verifier.Mode.FULL,
                    id, resume != null, codec);
            var settings = new MigrationRun.Settings(source, null, sourceDevice, null, nsid, lbaSize, null, engine.options(),
                    Verifier.Mode.NONE, f == OutputFormat.JSON, f != OutputFormat.JSON, remote);
            return new MigrationRun(settings, out(), spec.commandLine().getErr()).withVm(vm).run();
        }
        if (source != null && destDevice != null && NbdUri.looksLikeNbd(destDevice)) {
            if (dest != null || sourceDevice != null) throw new CliException("--dest NBD-URI goes with --source-image only");
            var nbdOptions = NbdSourceRun.clientOptions(tls, "--dest", destDevice);
            if (w != null) {
                throw new CliException("--workload needs a destination controller for the guest to continue on; an NBD destination"
                        + " receives data only (drive the guest from outside, e.g. fio through nvme-lm device serve --nbd)");
            }
            var settings = new MigrationRun.Settings(source, null, null, destDevice, nsid, lbaSize, null, engine.options(),
                    engine.verifyMode(Verifier.Mode.FULL), f == OutputFormat.JSON, f != OutputFormat.JSON);
            return new MigrationRun(settings, spec.commandLine().getOut(), spec.commandLine().getErr()).withNbdOptions(nbdOptions).run();
        }
        boolean images = source != null || dest != null, devices = sourceDevice != null || destDevice != null;
        if (images == devices) throw new CliException("give either --source-image SRC --dest-image DST, or --source sim:PATH#C --dest sim:PATH#D");
        if (images && (source == null || dest == null)) throw new CliException("--source-image and --dest-image go together");
        if (devices && (sourceDevice == null || destDevice == null)) throw new CliException("--source and --dest go together");
        var settings = new MigrationRun.Settings(source, dest, sourceDevice, destDevice, nsid, lbaSize, w, engine.options(),
                engine.verifyMode(Verifier.Mode.FULL), f == OutputFormat.JSON, f != OutputFormat.JSON);
        return new MigrationRun(settings, spec.commandLine().getOut(), spec.commandLine().getErr()).sayingTheGuestWritesIntoSource().withVm(vm).run();
    }

    private VmSwitchover.Settings vmSettings() {
        if (vmQmp == null) {
            if (vmTo != null || vmDestQmp != null) throw new CliException("--vm-to and --vm-dest-qmp go with --vm-qmp PATH");
            return null;
        }
        if (vmTo == null) throw new CliException("--vm-qmp needs --vm-to URI: where the source QEMU sends the VM (the destination QEMU's -incoming)");
        if (vmMaxBandwidth < 1) throw new CliException("--vm-max-bandwidth must be positive");
        if (vmDowntimeLimitMs < 1) throw new CliException("--vm-downtime-limit must be at least 1 ms");
        if (vmTimeoutSeconds < 1) throw new CliException("--vm-timeout must be at least 1 second");
        return new VmSwitchover.Settings(vmQmp, vmTo, vmDestQmp, vmMaxBandwidth, vmDowntimeLimitMs, Duration.ofSeconds(vmTimeoutSeconds), null);
    }

    private static java.util.UUID uuid(String option, String v) {
        try {
            if (v.length() != 36) throw new IllegalArgumentException();   // fromString also takes shorthand like 1-2-3-4-5
            return java.util.UUID.fromString(v);
        } catch (IllegalArgumentException e) {
            throw new CliException(option + " '" + v + "' is not a migration id (a UUID such as 0c8e2a4e-6f0e-4d1a-9d5e-2b7f3c1a9e10)");
        }
    }

    /** Engine knobs shared by migrate and demo. */
    static final class EngineOptions {
        @Option(names = "--max-downtime", paramLabel = "MS", defaultValue = "50", description = "Downtime budget in ms (default: ${DEFAULT-VALUE})")
        long maxDowntimeMs;

        @Option(names = "--max-passes", defaultValue = "30", description = "Most dirty passes before the stall policy applies (default: ${DEFAULT-VALUE})")
        int maxPasses;

        @Option(names = "--max-time", paramLabel = "SECONDS", defaultValue = "1800", description = "Most seconds before the stall policy applies (default: ${DEFAULT-VALUE})")
        long maxTimeSeconds;

        @Option(names = "--on-stall", defaultValue = "abort", description = "When not converging: abort|force|throttle (default: ${DEFAULT-VALUE})")
        String onStall;

        @Option(names = "--verify", paramLabel = "full|sampled|none",
                description = "Check the destination: full (every byte), sampled, or none; default: full. With --to the agent always reads every extent back against its CRC32C, and full adds a SHA-256 of the whole namespace inside the downtime, so there the default is the CRC32C check alone")
        String verify;

        @Option(names = "--max-rate", paramLabel = "BYTES/S", converter = Numbers.Size.class, defaultValue = "0",
                description = "Cap the copy rate (e.g. 200M); 0 = unlimited")
        long maxRate;

        MediaMigration.Options options() {
            if (maxDowntimeMs < 1) throw new CliException("--max-downtime must be at least 1 ms");
            if (maxPasses < 1) throw new CliException("--max-passes must be at least 1");
            if (maxTimeSeconds < 1) throw new CliException("--max-time must be at least 1 second");
            if (maxRate < 0) throw new CliException("--max-rate must be >= 0 (0 = unlimited)");
            MediaMigration.OnStall stall = switch (onStall) {
                case "abort" -> MediaMigration.OnStall.ABORT;
                case "force" -> MediaMigration.OnStall.FORCE;
                case "throttle" -> MediaMigration.OnStall.THROTTLE;
                default -> throw new CliException("--on-stall must be abort, force or throttle, not '" + onStall + "'");
            };
            Copier.Config copy = Copier.Config.defaults().withRateLimit(maxRate);
            return new MediaMigration.Options(Duration.ofMillis(maxDowntimeMs), maxPasses, Duration.ofSeconds(maxTimeSeconds), stall, copy, 1 << 20, false);
        }

        Verifier.Mode verifyMode(Verifier.Mode dflt) {
            if (verify == null) return dflt;
            return switch (verify) {
                case "full" -> Verifier.Mode.FULL;
                case "sampled" -> Verifier.Mode.SAMPLED;
                case "none" -> Verifier.Mode.NONE;
                default -> throw new CliException("--verify must be full, sampled or none, not '" + verify + "'");
            };
        }
    }
}
