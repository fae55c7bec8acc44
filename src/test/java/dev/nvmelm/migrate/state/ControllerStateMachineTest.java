package dev.nvmelm.migrate.state;

import dev.nvmelm.embedded.LiveMigrationRig;
import dev.nvmelm.host.Completion;
import dev.nvmelm.spec.ControllerState;
import dev.nvmelm.spec.IoCommands;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.nvmelm.migrate.state.MigState.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The VFIO-style machine driving real (software) migratable controllers: every arc is the NVMe
 * command it stands for, illegal requests name both states and change nothing, and no walk ever
 * goes from STOP_COPY back to PRE_COPY.
 */
class ControllerStateMachineTest {
    @TempDir
    Path dir;

    @Test
    void arcsAreNvmeCommandsOnRealControllers() throws Exception {
        try (LiveMigrationRig rig = new LiveMigrationRig(dir.resolve("s.img"), dir.resolve("d.img"), dir.resolve("w"), 1 << 20, 4096)) {
            ControllerStateMachine src = new ControllerStateMachine(rig.sourceSide().mmc(), LiveMigrationRig.CNTLID, RUNNING);
            src.transition(PRE_COPY);
            src.transition(STOP_COPY);   // PRE_COPY -> STOP_COPY: Suspend, then Get Controller State
            ControllerState state = ControllerState.decode(src.savedState());
            assertThat(state.suspended()).isTrue();
            assertThat(state.sqs()).as("the guest's I/O queues").isNotEmpty();

            // suspended: a guest command is not fetched
            var buf = rig.guest().allocateBuffer(4096);
            CompletableFuture<Completion> read = rig.guest().submitIo(IoCommands.read(LiveMigrationRig.NSID, 0, 1).toSqe(), buf);
            // the controller has it (its SQ tail moved past the head) and does not fetch it
            ControllerState held = ControllerState.decode(src.peekState());
            assertThat(held.sqs()).as("an SQ holding the unfetched read").anyMatch(q -> q.tail() != q.head());
            assertThat(read).isNotDone();

            assertThatThrownBy(() -> src.transition(PRE_COPY)).isInstanceOf(IllegalTransitionException.class)
                    .hasMessageContaining("STOP_COPY -> PRE_COPY");
            assertThat(src.state()).as("a refused request changes nothing").isEqualTo(STOP_COPY);

            // the destination MC takes the state: RUNNING -> STOP (Suspend) -> RESUMING, Set Controller State on -> STOP
            ControllerStateMachine dst = new ControllerStateMachine(rig.destinationSide().mmc(), LiveMigrationRig.CNTLID, RUNNING);
            assertThatThrownBy(() -> dst.load(src.savedState())).isInstanceOf(IllegalTransitionException.class)
                    .hasMessageContaining("RUNNING").hasMessageContaining("RESUMING");
            dst.transition(RESUMING);
            dst.load(src.savedState());
            dst.transition(STOP);
            assertThat(dst.history()).containsExactly(RUNNING, STOP, RESUMING, STOP);

            src.transition(RUNNING);   // STOP_COPY -> STOP -> RUNNING: Resume; the pending read runs
            assertThat(read.get(10, TimeUnit.SECONDS).ok()).isTrue();
            assertThat(src.history()).containsExactly(RUNNING, PRE_COPY, STOP_COPY, STOP, RUNNING);
            assertThatThrownBy(src::savedState).hasMessageContaining("no saved state");
        }
    }

    @Test
    void aFailedArcEndsInErrorNamingTheArcAndOnlyAResetLeavesIt() throws Exception {
        try (LiveMigrationRig rig = new LiveMigrationRig(dir.resolve("s.img"), dir.resolve("d.img"), dir.resolve("w"), 1 << 20, 4096)) {
            ControllerStateMachine dst = new ControllerStateMachine(rig.destinationSide().mmc(), LiveMigrationRig.CNTLID, RUNNING);
            dst.transition(RESUMING);
            assertThatThrownBy(() -> dst.transition(STOP)).hasMessageContaining("RESUMING -> STOP failed")
                    .hasMessageContaining("no controller state was loaded");
            assertThat(dst.state()).isEqualTo(ERROR);
            assertThatThrownBy(() -> dst.transition(RUNNING)).isInstanceOf(IllegalTransitionException.class)
                    .hasMessageContaining("ERROR -> RUNNING").hasMessageContaining("reset");

            // the software controller refuses Resume of a running MC (013Ah): the arc fails, named
            ControllerStateMachine running = new ControllerStateMachine(rig.sourceSide().mmc(), LiveMigrationRig.CNTLID, STOP);
            assertThatThrownBy(() -> running.transition(RUNNING)).hasMessageContaining("STOP -> RUNNING failed");
        }
    }

    /** Any sequence of requests, each walked by the planner: the walk never contains STOP_COPY -> PRE_COPY. */
    @Property(tries = 300)
    void noWalkLoopsFromStopCopyToPreCopy(@ForAll @Size(max = 40) List<MigState> requests) {
        MigState cur = RUNNING;
        List<MigState> walk = new ArrayList<>(List.of(cur));
        for (MigState target : requests) {
            try {
                List<MigState> path = Arcs.plan(cur, target);
                walk.addAll(path);
                if (!path.isEmpty()) cur = path.getLast();
            } catch (IllegalTransitionException e) {
                assertThat(e.getMessage()).contains(cur + " -> " + target);
            }
        }
        for (int i = 1; i < walk.size(); i++) {
            assertThat(walk.get(i - 1) == STOP_COPY && walk.get(i) == PRE_COPY).as("walk %s", walk).isFalse();
            assertThat(Arcs.isArc(walk.get(i - 1), walk.get(i))).as("walk %s", walk).isTrue();
        }
    }
}
