package dev.nvmelm.migrate;

import dev.nvmelm.Await;
import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.migrate.copy.Verifier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * CDQ Full in the middle of the bulk copy: a 128-entry ring whose head reports are held back
 * fills up (ESA 7) and the guest's later writes, behind the bulk frontier, are never logged. The
 * engine restarts tracking once the consumer has made room, recopies what the bulk had passed,
 * and the destination still equals the source.
 */
class CdqFullTest {
    static final long SIZE = 16 << 20;

    @TempDir
    Path dir;

    @Test
    void ringFullMidBulkRestartsTrackingAndRecopies() throws Exception {
        try (Fixture fx = Fixture.dense(dir, SIZE)) {
            var real = fx.rig.sourceSide();
            Faults.HeadReportGate gate = new Faults.HeadReportGate(real.mmc());
            gate.hold();
            var src = new MediaMigration.Side(gate, real.cntlid(), real.nsid(), real.data());
            var options = MediaMigration.Options.defaults().withCdqBytes(4096)   // 128 entries
                    .withCopy(new Copier.Config(1 << 20, 4, 1 << 20, false, 16L << 20));   // about a second of bulk
            MediaMigration m = new MediaMigration(src, fx.rig.destinationSide(), fx.rig.handover(), options, System::nanoTime, null);
            CompletableFuture<MediaMigration.Outcome> run = CompletableFuture.supplyAsync(() -> {
                try {
                    return m.run();
                } catch (MigrationException e) {
                    throw new RuntimeException(e);
                }
            });
            Await.until("the bulk copy passed half the namespace", java.time.Duration.ofSeconds(60), () -> {
                assertThat(run).as("the gate holds the copy").isNotDone();
                return m.snapshot().bytesCopied() >= SIZE / 2;
            });
            // 300 writes behind the frontier: the ring takes 126 of them, ESA 7, the rest are lost.
            for (long i = 0; i < 300; i++) fx.guestWrite(i * 3, 5);
            gate.release();
            try (MediaMigration.Outcome out = run.get(60, TimeUnit.SECONDS)) {
                MediaMigration.Report r = out.report();
                assertThat(gate.heldCount).isPositive();
                assertThat(r.trackingRestarts).isEqualTo(1);
                assertThat(r.bytesRecopiedAfterCdqFull).as("everything the bulk had passed").isGreaterThanOrEqualTo(SIZE / 2);
                assertThat(out.verify(Verifier.Mode.FULL, 1).ok()).isTrue();
                assertThat(Files.mismatch(fx.src, fx.dst)).isEqualTo(-1L);
            }
        }
    }
}
