package dev.nvmelm.migrate;

import dev.nvmelm.embedded.LiveMigrationRig;
import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.migrate.state.MigState;
import dev.nvmelm.migrate.workload.Workload;
import dev.nvmelm.spec.AdminCommands;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * A guest that dirties faster than a rate-limited copy can follow (about 8 MB/s of random
 * 4 KiB writes against 2 MiB/s): the engine says so with numbers and then does what
 * --on-stall asks: abort (the default) resumes the source, force switches over anyway and still
 * verifies, throttle slows the guest with the controller's vendor feature C0h until it converges.
 */
class ConvergenceTest {
    static final long SIZE = 2 << 20;
    static final String HEAVY = "random-write:iops=2000,bs=4k,qd=8,seed=";

    @TempDir
    Path dir;

    private static MediaMigration.Options options(MediaMigration.OnStall onStall) {
        return MediaMigration.Options.defaults().withOnStall(onStall).withStallPasses(2)
                .withCopy(new Copier.Config(1 << 20, 8, 1 << 20, false, 2L << 20));
    }

    @Test
    void notConvergingAbortsByDefaultWithTheNumbers() throws Exception {
        assertThat(MediaMigration.Options.defaults().onStall()).isEqualTo(MediaMigration.OnStall.ABORT);
        try (Fixture fx = Fixture.dense(dir, SIZE); Workload guest = fx.workload(HEAVY + 31)) {
            guest.start();
            MigrationException e = catchThrowableOfType(MigrationException.class,
                    () -> fx.migration(options(MediaMigration.OnStall.ABORT)).run().close());
            assertThat(e).isNotNull();
            MediaMigration.Verdict v = e.report().verdictDetail;
            assertThat(v.converged()).isFalse();
            assertThat(v.passes()).isGreaterThanOrEqualTo(2);
            assertThat(v.backlogBytes()).isPositive();
            assertThat(v.dirtyRateBps()).isPositive();
            assertThat(v.copyRateBps()).isPositive();
            assertThat(v.predictedStopMs()).as("why it did not switch over").isGreaterThan(v.budgetMs());
            assertThat(e).hasMessageStartingWith("not converging: the guest dirties ")
                    .hasMessageContaining(MediaMigration.bytes((long) v.dirtyRateBps()) + "/s")
                    .hasMessageContaining(MediaMigration.bytes((long) v.copyRateBps()) + "/s")
                    .hasMessageContaining("aborted (--on-stall abort)");
            assertThat(e.report().sourceStates.state()).isEqualTo(MigState.RUNNING);
            fx.assertGuestReadCompletes();
            guest.stop();
            assertThat(guest.errors.get()).isZero();
            fx.assertSourceIntact(guest);
        }
    }

    @Test
    void forceSwitchesOverAnywayAndVerifies() throws Exception {
        try (Fixture fx = Fixture.dense(dir, SIZE); Workload guest = fx.workload(HEAVY + 32)) {
            guest.start();
            try (MediaMigration.Outcome out = fx.migration(options(MediaMigration.OnStall.FORCE)).run()) {
                guest.stop();
                MediaMigration.Report r = out.report();
                assertThat(r.forced).isTrue();
                assertThat(r.verdictDetail.converged()).isFalse();
                assertThat(r.verdict).startsWith("not converging").contains("forced switchover");
                assertThat(r.bytesFinal).as("the stop copies the backlog").isPositive();
                Verifier.Result v = out.verify(Verifier.Mode.FULL, 1);
                assertThat(v.ok()).as("first mismatch at %d", v.firstMismatch()).isTrue();
                assertThat(guest.errors.get()).isZero();
                assertThat(guest.check(fx.rig.destinationData()).badBlocks()).isZero();
            }
        }
    }

    @Test
    void throttleSlowsTheGuestUntilItConverges() throws Exception {
        try (Fixture fx = Fixture.dense(dir, SIZE); Workload guest = fx.workload(HEAVY + 33)) {
            guest.start();
            try (MediaMigration.Outcome out = fx.migration(options(MediaMigration.OnStall.THROTTLE)).run()) {
                guest.stop();
                MediaMigration.Report r = out.report();
                assertThat(r.verdictDetail.converged()).as(r.verdict).isTrue();
                assertThat(r.verdict).contains("guest throttled to " + r.throttleIops + " writes/s");
                assertThat(r.throttleIops).isPositive();
                assertThat(r.guestWriteIopsThrottled).as("the guest cost, measured on the CDQ").isLessThan(r.guestWriteIopsBeforeThrottle);
                Verifier.Result v = out.verify(Verifier.Mode.FULL, 1);
                assertThat(v.ok()).as("first mismatch at %d", v.firstMismatch()).isTrue();
                assertThat(guest.errors.get()).isZero();
                assertThat(guest.check(fx.rig.destinationData()).badBlocks()).isZero();
                // the source controller is no longer throttled (vendor feature C0h reads 0)
                var c = fx.rig.sourceSide().mmc().admin(AdminCommands.getFeatures(0xC0, LiveMigrationRig.CNTLID), null);
                assertThat(c.ok()).isTrue();
                assertThat(c.dw0()).isZero();
            }
        }
    }
}
