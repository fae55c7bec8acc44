package dev.nvmelm.migrate;

import dev.nvmelm.Await;
import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.migrate.state.MigState;
import dev.nvmelm.migrate.workload.Workload;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * A failure (or Ctrl-C) at each phase, while a guest writes: the migration fails with the
 * reason, the source controller is RUNNING again, the guest's I/O completes (including what it
 * queued while suspended), and the source data is exactly the original image plus the guest's
 * writes. The destination controller is never resumed.
 */
class AbortTest {
    static final long SIZE = 16 << 20;

    @TempDir
    Path dir;

    /** Runs a migration with a destination hook (and optionally another handover) and returns its failure. */
    private MigrationException failingMigration(Fixture fx, Workload guest, HookFactory hooks, HandoverFactory handovers) throws Exception {
        AtomicReference<MediaMigration> m = new AtomicReference<>();
        var dstSide = fx.rig.destinationSide();
        var hooked = new MediaMigration.Side(dstSide.mmc(), dstSide.cntlid(), dstSide.nsid(), new Faults.Hooked(dstSide.data(), hooks.make(m)));
        var copy = new Copier.Config(1 << 20, 8, 4 << 20, false, 32L << 20);   // half a second of bulk
        m.set(new MediaMigration(fx.rig.sourceSide(), hooked, handovers.make(fx.rig.handover()),
                MediaMigration.Options.defaults().withCopy(copy), System::nanoTime, null));
        guest.start();
        Await.until("the guest wrote 20 blocks", java.time.Duration.ofSeconds(30), () -> guest.guestWrites() >= 20);
        return catchThrowableOfType(MigrationException.class, () -> m.get().run().close());
    }

    interface HookFactory {
        Faults.Hook make(AtomicReference<MediaMigration> m);
    }

    interface HandoverFactory {
        MediaMigration.GuestHandover make(MediaMigration.GuestHandover real);
    }

    private void assertSourceRunsAndIsIntact(Fixture fx, Workload guest, MigrationException e) throws Exception {
        assertThat(e).isNotNull();
        MediaMigration.Report r = e.report();
        assertThat(r.sourceStates.state()).isEqualTo(MigState.RUNNING);
        assertNoStopCopyToPreCopy(r.sourceStates.history());
        assertThat(r.destinationStates.state()).isNotEqualTo(MigState.RUNNING);
        assertThat(r.warnings).isEmpty();
        long before = guest.guestWrites();
        fx.assertGuestReadCompletes();
        Await.until("the guest kept writing after the abort", java.time.Duration.ofSeconds(30), () -> guest.guestWrites() > before + 10);
        guest.stop();
        assertThat(guest.errors.get()).isZero();
        fx.assertSourceIntact(guest);
    }

    static void assertNoStopCopyToPreCopy(List<MigState> history) {
        for (int i = 1; i < history.size(); i++) {
            assertThat(history.get(i - 1) == MigState.STOP_COPY && history.get(i) == MigState.PRE_COPY).as("history %s", history).isFalse();
        }
    }

    @Test
    void ctrlCDuringTheBulkCopy() throws Exception {
        try (Fixture fx = Fixture.dense(dir, SIZE); Workload guest = fx.workload("random-write:iops=400,bs=4k,qd=4,seed=21")) {
            AtomicLong written = new AtomicLong();
            MigrationException e = failingMigration(fx, guest, m -> new Faults.Hook() {
                @Override
                public void before(String op, long offset, long length) {
                    if (!op.equals("flush") && written.addAndGet(length) > SIZE / 4) m.get().cancel();
                }
            }, h -> h);
            assertThat(e).hasMessageContaining("cancelled");
            assertThat(e.report().sourceStates.history()).containsExactly(MigState.RUNNING, MigState.PRE_COPY, MigState.RUNNING);
            assertSourceRunsAndIsIntact(fx, guest, e);
        }
    }

    @Test
    void destinationWriteErrorDuringADirtyPass() throws Exception {
        try (Fixture fx = Fixture.dense(dir, SIZE); Workload guest = fx.workload("random-write:iops=400,bs=4k,qd=4,seed=22")) {
            MigrationException e = failingMigration(fx, guest, m -> new Faults.Hook() {
                @Override
                public void before(String op, long offset, long length) throws IOException {
                    if (op.equals("write") && m.get().phase() == MediaMigration.Phase.DIRTY) throw new IOException("injected destination write error");
                }
            }, h -> h);
            assertThat(e).hasMessageContaining("injected destination write error");
            assertThat(e.report().sourceStates.history()).containsExactly(MigState.RUNNING, MigState.PRE_COPY, MigState.RUNNING);
            assertSourceRunsAndIsIntact(fx, guest, e);
        }
    }

    @Test
    void destinationFlushErrorDuringStopAndCopy() throws Exception {
        try (Fixture fx = Fixture.dense(dir, SIZE); Workload guest = fx.workload("random-write:iops=400,bs=4k,qd=4,seed=23")) {
            MigrationException e = failingMigration(fx, guest, m -> new Faults.Hook() {
                @Override
                public void before(String op, long offset, long length) throws IOException {
                    if (op.equals("flush") && m.get().phase() == MediaMigration.Phase.STOP_AND_COPY) throw new IOException("injected flush failure");
                }
            }, h -> h);
            assertThat(e).hasMessageContaining("injected flush failure");
            // suspended and its state read, then resumed by the abort
            assertThat(e.report().sourceStates.history()).containsExactly(MigState.RUNNING, MigState.PRE_COPY, MigState.STOP_COPY,
                    MigState.STOP, MigState.RUNNING);
            assertSourceRunsAndIsIntact(fx, guest, e);
        }
    }

    @Test
    void handoverFailingAfterTheGuestMoved() throws Exception {
        try (Fixture fx = Fixture.dense(dir, SIZE); Workload guest = fx.workload("random-write:iops=400,bs=4k,qd=4,seed=24")) {
            MigrationException e = failingMigration(fx, guest, m -> new Faults.Hook() {}, real -> new MediaMigration.GuestHandover() {
                @Override
                public void toDestination() throws Exception {
                    real.toDestination();
                    throw new IOException("injected: the VMM lost track of the guest");
                }

                @Override
                public void backToSource() throws Exception {
                    real.backToSource();
                }
            });
            assertThat(e).hasMessageContaining("injected: the VMM lost track");
            assertThat(e.report().destinationStates.state()).isEqualTo(MigState.STOP);
            assertSourceRunsAndIsIntact(fx, guest, e);
        }
    }

    @Test
    void cancelBeforeRunningAbortsWithoutCopying() throws Exception {
        try (Fixture fx = Fixture.dense(dir, SIZE)) {
            MediaMigration m = fx.migration(MediaMigration.Options.defaults());
            m.cancel();
            assertThatThrownBy(m::run).isInstanceOf(MigrationException.class).hasMessageContaining("cancelled");
            fx.assertGuestIoCompletes();
            fx.assertSourceIntact(null);
        }
    }
}
