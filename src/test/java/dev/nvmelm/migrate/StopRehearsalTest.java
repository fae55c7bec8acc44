package dev.nvmelm.migrate;

import dev.nvmelm.embedded.LiveMigrationRig;
import dev.nvmelm.migrate.state.ControllerStateMachine;
import dev.nvmelm.migrate.state.MigState;
import dev.nvmelm.spec.ControllerState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The stop's commands run before the stop leave both controllers as they were. */
class StopRehearsalTest {
    @TempDir
    Path dir;

    @Test
    void theSourceKeepsRunningAndTheDestinationStaysSuspendedAndEmpty() throws Exception {
        try (Fixture f = Fixture.dense(dir, 8 << 20)) {
            LiveMigrationRig rig = f.rig;
            MediaMigration.Side src = rig.sourceSide(), dst = rig.destinationSide();
            new ControllerStateMachine(dst.mmc(), dst.cntlid(), MigState.RUNNING).transition(MigState.STOP);   // as the engine leaves it
            f.guestWrite(3, 1);

            StopRehearsal.Cost cost = StopRehearsal.run(src, dst, System::nanoTime);

            assertThat(cost.failure()).isNull();
            assertThat(cost.sourceNs()).isPositive();
            assertThat(cost.destinationNs()).isPositive();
            ControllerState s = ControllerState.decode(new ControllerStateMachine(src.mmc(), src.cntlid(), MigState.RUNNING).peekState());
            assertThat(s.suspended()).isFalse();
            assertThat(s.sqs()).isNotEmpty();   // the guest's queues are untouched
            f.assertGuestIoCompletes();
            ControllerState d = ControllerState.decode(new ControllerStateMachine(dst.mmc(), dst.cntlid(), MigState.STOP).peekState());
            assertThat(d.suspended()).isTrue();
            assertThat(d.sqs()).isEmpty();
            assertThat(d.cqs()).isEmpty();
        }
    }

    @Test
    void aMigrationPredictsTheStopFromTheRehearsal() throws Exception {
        // forced: a shared disk's fsync alone can exceed the budget, and this test is about the prediction's parts
        var options = MediaMigration.Options.defaults().withOnStall(MediaMigration.OnStall.FORCE);
        try (Fixture f = Fixture.dense(dir, 8 << 20); MediaMigration.Outcome out = f.migration(options).run()) {
            MediaMigration.Report r = out.report();
            assertThat(r.warnings).noneMatch(w -> w.startsWith("stop rehearsal"));
            assertThat(r.stopCommandsPredictedMs).isPositive();
            assertThat(r.verdictDetail.predictedStopMs()).isGreaterThanOrEqualTo(r.stopCommandsPredictedMs);
        }
    }
}
