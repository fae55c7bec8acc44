package dev.nvmelm.migrate;

import dev.nvmelm.bench.Images;
import dev.nvmelm.embedded.LiveMigrationRig;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.migrate.state.MigState;
import dev.nvmelm.migrate.workload.Workload;
import dev.nvmelm.migrate.workload.WorkloadSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The engine's stop gate (docs/vm.md): after convergence the stop waits for the gate while
 * passes keep copying under a writing guest, and the result is complete; a gate that fails aborts
 * like any other failure, with the source controller resumed.
 */
class StopGateTest {
    @TempDir
    Path dir;

    /** Opens after it was asked {@code asks} times; counts the calls. */
    static final class CountingGate implements StopGate {
        final AtomicInteger converged = new AtomicInteger(), asked = new AtomicInteger(), committed = new AtomicInteger();
        final int asks;
        final RuntimeException failure;
        volatile MediaMigration.Phase phaseWhenAsked;
        MediaMigration m;

        CountingGate(int asks, RuntimeException failure) {
            this.asks = asks;
            this.failure = failure;
        }

        @Override
        public void converged() {
            converged.incrementAndGet();
        }

        @Override
        public boolean awaitReady(long timeoutNanos) throws InterruptedException {
            phaseWhenAsked = m.phase();
            if (asked.incrementAndGet() >= asks && failure != null) throw failure;
            if (asked.get() >= asks) return true;
            Thread.sleep(timeoutNanos / 1_000_000, (int) (timeoutNanos % 1_000_000));   // stands in for waiting on QEMU
            return false;
        }

        @Override
        public void committed() {
            committed.incrementAndGet();
        }
    }

    static final MediaMigration.Options FORCED = MediaMigration.Options.defaults().withOnStall(MediaMigration.OnStall.FORCE);

    /** The rig's migration behind {@code gate}, which learns the engine it watches. */
    private static MediaMigration gated(LiveMigrationRig rig, CountingGate gate, MediaMigration.Options options) {
        MediaMigration m = new MediaMigration(rig.sourceSide(), rig.destinationSide(), rig.handover(), options, System::nanoTime, null).withStopGate(gate);
        gate.m = m;
        return m;
    }

    private Workload guest(LiveMigrationRig rig) {
        return new Workload(rig.guest(), LiveMigrationRig.NSID, 16 << 20, 4096,
                WorkloadSpec.parse("random-write:iops=500,bs=4k,seconds=0,seed=9"), System::nanoTime);
    }

    @Test
    void theStopWaitsForTheGateWhilePassesKeepCopyingAndNothingIsLost() throws Exception {
        Path src = dir.resolve("src.img"), dst = dir.resolve("dst.img");
        Images.dense(src, 16 << 20, 21);
        try (LiveMigrationRig rig = new LiveMigrationRig(src, dst, dir.resolve("work"), 16 << 20, 4096)) {
            Workload g = guest(rig);
            g.start();
            CountingGate gate = new CountingGate(40, null);
            MediaMigration m = gated(rig, gate, FORCED);
            try (MediaMigration.Outcome out = m.run()) {
                g.stop();
                assertThat(gate.converged.get()).isEqualTo(1);
                assertThat(gate.asked.get()).isEqualTo(40);
                assertThat(gate.committed.get()).isEqualTo(1);
                assertThat(gate.phaseWhenAsked).isEqualTo(MediaMigration.Phase.DIRTY);
                assertThat(g.errors.get()).isZero();
                Verifier.Result v = out.verify(Verifier.Mode.FULL, 1);
                assertThat(v.ok()).as("first mismatch at %d", v.firstMismatch()).isTrue();
                Workload.Check c = g.check(rig.destinationData());
                assertThat(c.badBlocks()).as("first bad block %d", c.firstBad()).isZero();
            }
        }
    }

    @Test
    void aGateThatFailsAbortsAndTheSourceRunsOn() throws Exception {
        Path src = dir.resolve("src.img"), dst = dir.resolve("dst.img");
        Images.dense(src, 16 << 20, 22);
        try (LiveMigrationRig rig = new LiveMigrationRig(src, dst, dir.resolve("work"), 16 << 20, 4096)) {
            Workload g = guest(rig);
            g.start();
            CountingGate gate = new CountingGate(3, new IllegalStateException("QEMU's migration failed"));
            MediaMigration m = gated(rig, gate, FORCED);
            assertThatThrownBy(m::run).isInstanceOf(MigrationException.class).hasMessageContaining("QEMU's migration failed")
                    .satisfies(e -> assertThat(((MigrationException) e).report().sourceStates.state()).isEqualTo(MigState.RUNNING));
            assertThat(gate.committed.get()).isZero();
            g.stop();   // waits for the guest's commands in flight: they complete only on a resumed source
            assertThat(g.guestWrites()).isPositive();
            assertThat(g.errors.get()).isZero();
            assertThat(g.check(rig.sourceData()).badBlocks()).isZero();
        }
    }

    @Test
    void aForcedStopStillWaitsForTheGate() throws Exception {
        // a budget nothing can meet and two passes: not converging, then --on-stall force. The stop
        // must still wait for the gate (a VM's RAM pre-copy), or the storage commits before QEMU
        // was ever asked to migrate (it was returned without asking before)
        Path src = dir.resolve("src.img"), dst = dir.resolve("dst.img");
        Images.dense(src, 16 << 20, 23);
        try (LiveMigrationRig rig = new LiveMigrationRig(src, dst, dir.resolve("work"), 16 << 20, 4096)) {
            Workload g = guest(rig);
            g.start();
            CountingGate gate = new CountingGate(5, null);
            MediaMigration m = gated(rig, gate, FORCED.withMaxDowntime(java.time.Duration.ofNanos(1)).withMaxPasses(2));
            try (MediaMigration.Outcome out = m.run()) {
                g.stop();
                assertThat(out.report().forced).isTrue();
                assertThat(gate.converged.get()).isEqualTo(1);
                assertThat(gate.asked.get()).isEqualTo(5);
                assertThat(gate.committed.get()).isEqualTo(1);
                assertThat(g.errors.get()).isZero();
                assertThat(g.check(rig.destinationData()).badBlocks()).isZero();
            }
        }
    }
}
