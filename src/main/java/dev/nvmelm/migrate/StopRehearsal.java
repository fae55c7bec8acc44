package dev.nvmelm.migrate;

import dev.nvmelm.host.NvmeException;
import dev.nvmelm.migrate.state.ControllerStateMachine;
import dev.nvmelm.migrate.state.MigState;
import dev.nvmelm.spec.MigrationSendCommand;

import java.util.function.LongSupplier;

/**
 * The stop's controller commands, run before the migration needs them where they change
 * nothing: a Suspend notification (STYPE 0, advisory) and a Get Controller State of the running
 * source; Get State, Set State (of its own state), Resume and Suspend of the destination, which
 * is suspended, empty and not yet the guest's. In a fresh process the first run of each of
 * these paths pays for class loading, linking and call-site bootstraps: 9-18 ms of downtime on
 * an in-process controller (docs/migration.md, "The stop"). Two rounds: the first warms, the
 * second is timed, so the engine predicts the stop from what these commands cost when warm.
 */
final class StopRehearsal {
    /** What the warm round took; {@code failure} is null when every command succeeded. */
    record Cost(long sourceNs, long destinationNs, String failure) {
        long totalNs() {
            return sourceNs + destinationNs;
        }
    }

    private StopRehearsal() {}

    static Cost run(MediaMigration.Side src, MediaMigration.Side dst, LongSupplier clock) {
        Cost cost = null;
        for (int round = 0; round < 2; round++) {
            try {
                long a = clock.getAsLong();
                source(src);
                long b = clock.getAsLong();
                if (dst.hasController()) destination(dst);
                cost = new Cost(b - a, clock.getAsLong() - b, null);
            } catch (NvmeException | RuntimeException e) {
                // a controller that refuses a warm-up step still migrates: the stop is just colder
                return new Cost(0, 0, e.getMessage());
            }
        }
        return cost;
    }

    private static void source(MediaMigration.Side src) throws NvmeException {
        src.mmc().admin(new MigrationSendCommand.Suspend(src.cntlid(), MigrationSendCommand.STYPE_NOTIFICATION, false, 0).toSqe(), null)
                .orThrow("Suspend notification to controller " + src.cntlid());
        new ControllerStateMachine(src.mmc(), src.cntlid(), MigState.RUNNING).peekState();
    }

    /** The destination walks STOP -> STOP_COPY -> STOP -> RESUMING -> STOP -> RUNNING -> STOP: back where it was. */
    private static void destination(MediaMigration.Side dst) throws NvmeException {
        ControllerStateMachine m = new ControllerStateMachine(dst.mmc(), dst.cntlid(), MigState.STOP);
        m.transition(MigState.STOP_COPY);
        byte[] own = m.savedState();
        m.transition(MigState.RESUMING);
        m.load(own);
        m.transition(MigState.STOP);
        m.transition(MigState.RUNNING);
        m.transition(MigState.STOP);
    }
}
