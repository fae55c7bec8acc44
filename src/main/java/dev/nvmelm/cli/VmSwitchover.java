package dev.nvmelm.cli;

import dev.nvmelm.migrate.MediaMigration;
import dev.nvmelm.migrate.StopGate;
import dev.nvmelm.vm.VmMigration;
import dev.nvmelm.vm.VmMigrationException;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code migrate --vm-qmp PATH --vm-to URI}: the storage migration in lockstep with QEMU's own
 * (docs/vm.md). The RAM pre-copy starts when the storage's dirty passes have converged; the passes
 * go on until QEMU reaches pre-switchover; then the engine's stop and commit run while the vCPUs
 * are stopped, and migrate-continue follows. A failure before the commit cancels QEMU's migration
 * after the engine resumed the source controller, so the VM runs on on the source.
 */
final class VmSwitchover implements AutoCloseable {
    /**
     * @param destinationQmp the destination QEMU's QMP socket (checked alive before the stop), or null
     * @param observer       sees each MIGRATION status first (tests); null from the command line
     */
    record Settings(Path sourceQmp, String uri, Path destinationQmp, long maxBandwidthBytes, long downtimeLimitMs, Duration timeout,
                    VmMigration.Observer observer) {}

    private final VmMigration vm;
    /** migrate-continue right at the engine's commit failed: reported by {@link #afterCommit}. */
    private volatile VmMigrationException continueFailure;
    private volatile Thread continuing;

    private VmSwitchover(VmMigration vm) {
        this.vm = vm;
    }

    /** Connects to QEMU and sets its capabilities; a VM that cannot migrate is refused before the storage starts. */
    static VmSwitchover prepare(Settings s) {
        VmMigration vm = new VmMigration(s.sourceQmp(), s.uri(), s.destinationQmp(), s.maxBandwidthBytes(), s.downtimeLimitMs(), s.timeout(),
                s.observer());
        try {
            vm.prepare();
        } catch (VmMigrationException e) {
            vm.close();
            throw new CliException("--vm-qmp: " + e.getMessage() + "; nothing was migrated", e);
        }
        return new VmSwitchover(vm);
    }

    /** The engine's stop gate: start the RAM migration at convergence, stop the storage at pre-switchover. */
    StopGate gate() {
        return new StopGate() {
            @Override
            public void converged() throws VmMigrationException {
                vm.note("storage converged");
                vm.start();
            }

            @Override
            public boolean awaitReady(long timeoutNanos) throws VmMigrationException {
                boolean ready = vm.awaitPreSwitchover(timeoutNanos);
                if (ready) vm.note("storage stop");
                return ready;
            }

            @Override
            public void committed() {
                vm.note("storage committed");
                // the vCPUs are stopped until QEMU has this: send it beside the source's clean-up, not after it
                continuing = Thread.ofVirtual().name("migrate-continue").start(() -> {
                    try {
                        vm.continueSwitchover();
                    } catch (VmMigrationException e) {
                        continueFailure = e;
                    }
                });
            }
        };
    }

    /** The storage committed on {@code destination}: let QEMU switch over and wait for it to complete. */
    void afterCommit(String destination) {
        try {
            Thread c = continuing;
            if (c != null) c.join();
            if (continueFailure != null) throw continueFailure;
            vm.finish();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted waiting for QEMU's migration after the storage was committed to " + destination, e);
        } catch (VmMigrationException e) {
            throw new CliException("the storage was committed to " + destination + " but QEMU's migration did not complete: " + e.getMessage()
                    + "; the source QEMU keeps the VM (docs/vm.md, \"Failure handling\")", e);
        }
    }

    /** A failure before the commit: cancel QEMU's migration (the source controller is resumed already). */
    void cancel() {
        vm.cancel();
    }

    Map<String, Object> report(MediaMigration.Report r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vm_downtime_ms", vm.downtimeMs());
        m.put("storage_stop_ms", Math.round(r.downtimeMs * 10) / 10.0);
        m.put("vm_total_ms", vm.totalTimeMs());
        m.put("vm_timeline", vm.timelineReport());
        return m;
    }

    void print(PrintWriter out, MediaMigration.Report r) {
        out.printf("  vm            downtime %s ms (QEMU's query-migrate), storage stop %.1f ms inside it, RAM migration %s ms%n",
                vm.downtimeMs(), r.downtimeMs, vm.totalTimeMs());
        for (VmMigration.Step s : vm.timeline()) out.printf("                %9.1f ms  %s%n", s.atMs(), s.what());
    }

    @Override
    public void close() {
        vm.close();
    }
}
