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

    /**
     * A bulk copy capped at 2 MiB/s over 16 MiB takes 8 s; a guest dirtying distinct blocks faster
     * than that is judged from the bulk's one-second windows, without waiting for dirty passes.
     */
    @Test
    void aHopelessWriterIsJudgedDuringTheBulkCopy() throws Exception {
        var opts = options(MediaMigration.OnStall.ABORT).withCopy(new Copier.Config(1 << 20, 8, 1 << 20, false, 2L << 20));
        try (Fixture fx = Fixture.dense(dir, 16 << 20); Workload guest = fx.workload(HEAVY + 34)) {
            guest.start();
            MigrationException e = catchThrowableOfType(MigrationException.class, () -> fx.migration(opts).run().close());
            assertThat(e).isNotNull();
            MediaMigration.Report r = e.report();
            assertThat(r.verdictDuringBulk).isTrue();
            assertThat(r.passes).as("no dirty pass was needed").isZero();
            assertThat(r.bytesCopied + r.bytesZero).as("judged before the bulk ended").isLessThan(16L << 20);
            assertThat(r.verdictDetail.converged()).isFalse();
            assertThat(r.verdictDetail.dirtyRateBps()).isGreaterThanOrEqualTo(0.95 * r.verdictDetail.copyRateBps());
            assertThat(e).hasMessageStartingWith("not converging: the guest dirties ").hasMessageContaining("during the bulk copy")
                    .hasMessageContaining("aborted (--on-stall abort)");
            assertThat(r.sourceStates.state()).isEqualTo(MigState.RUNNING);
            guest.stop();
            assertThat(guest.errors.get()).isZero();
            fx.assertSourceIntact(guest);
        }
    }

    /** The same capped bulk with a light writer: the windows see it losing nothing, so no early verdict. */
    @Test
    void aLightWriterIsNotJudgedDuringTheBulkCopy() throws Exception {
        var opts = options(MediaMigration.OnStall.ABORT).withCopy(new Copier.Config(1 << 20, 8, 1 << 20, false, 2L << 20));
        try (Fixture fx = Fixture.dense(dir, 8 << 20); Workload guest = fx.workload("random-write:iops=50,bs=4k,qd=1,seed=35")) {
            guest.start();
            try (MediaMigration.Outcome out = fx.migration(opts).run()) {
                guest.stop();
                assertThat(out.report().verdictDuringBulk).isFalse();
                assertThat(out.report().verdictDetail.converged()).as(out.report().verdict).isTrue();
                assertThat(out.verify(Verifier.Mode.FULL, 1).ok()).isTrue();
            }
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
                var c = fx.rig.sourceSide().mmc().admin(dev.nvmelm.spec.WriteThrottleFeature.get(LiveMigrationRig.CNTLID), null);
                assertThat(c.ok()).isTrue();
                assertThat(c.dw0()).isZero();
            }
        }
    }
}
