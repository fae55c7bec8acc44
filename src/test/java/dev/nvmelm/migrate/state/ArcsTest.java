package dev.nvmelm.migrate.state;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;

import static dev.nvmelm.migrate.state.MigState.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ArcsTest {

    @Test
    void combinationPathsMatchTheKernelTable() {
        assertThat(Arcs.plan(RUNNING, STOP_COPY)).containsExactly(STOP, STOP_COPY);
        assertThat(Arcs.plan(RUNNING, RESUMING)).containsExactly(STOP, RESUMING);
        assertThat(Arcs.plan(STOP_COPY, RUNNING)).containsExactly(STOP, RUNNING);
        assertThat(Arcs.plan(RESUMING, RUNNING)).containsExactly(STOP, RUNNING);
        assertThat(Arcs.plan(PRE_COPY, STOP_COPY)).containsExactly(STOP_COPY);
        assertThat(Arcs.plan(PRE_COPY, STOP)).containsExactly(RUNNING, STOP);
        assertThat(Arcs.plan(RESUMING, PRE_COPY)).containsExactly(STOP, RUNNING, PRE_COPY);
    }

    @Test
    void stopCopyCanNeverLoopBackToPreCopy() {
        assertThatThrownBy(() -> Arcs.plan(STOP_COPY, PRE_COPY)).isInstanceOf(IllegalTransitionException.class)
                .hasMessageContaining("STOP_COPY -> PRE_COPY");
    }

    @ParameterizedTest
    @EnumSource(MigState.class)
    void everyPlanTerminatesAndUsesOnlyLegalArcs(MigState from) {
        for (MigState to : MigState.values()) {
            List<MigState> path;
            try {
                path = Arcs.plan(from, to);
            } catch (IllegalTransitionException e) {
                assertThat(e.from()).isEqualTo(from);
                assertThat(e.to()).isEqualTo(to);
                assertThat(e.getMessage()).contains(from.name()).contains(to.name());
                continue;
            }
            MigState cur = from;
            for (int i = 0; i < path.size(); i++) {
                MigState next = path.get(i);
                assertThat(Arcs.isArc(cur, next)).as("%s -> %s", cur, next).isTrue();
                if (i < path.size() - 1) assertThat(next.inSavingGroup()).as("interior %s", next).isFalse();
                cur = next;
            }
            assertThat(cur).isEqualTo(to);
        }
    }

    @Test
    void errorIsNeitherATargetNorASource() {
        assertThatThrownBy(() -> Arcs.plan(RUNNING, ERROR)).isInstanceOf(IllegalTransitionException.class);
        assertThatThrownBy(() -> Arcs.plan(ERROR, RUNNING)).hasMessageContaining("reset");
    }
}
