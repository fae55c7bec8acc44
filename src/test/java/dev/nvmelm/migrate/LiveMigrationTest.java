package dev.nvmelm.migrate;

import dev.nvmelm.Await;
import dev.nvmelm.bench.Images;
import dev.nvmelm.embedded.LiveMigrationRig;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.migrate.workload.Workload;
import dev.nvmelm.migrate.workload.WorkloadSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** Live migration through the software controller while a guest writes: nothing lost. */
class LiveMigrationTest {
    @TempDir
    Path dir;

    @Test
    void migratesLiveUnderAWriterAndTheDestinationHasEverything() throws Exception {
        Path src = dir.resolve("src.img"), dst = dir.resolve("dst.img");
        Images.dense(src, 32 << 20, 11);
        try (LiveMigrationRig rig = new LiveMigrationRig(src, dst, dir.resolve("work"), 32 << 20, 4096)) {
            Workload guest = new Workload(rig.guest(), LiveMigrationRig.NSID, 32 << 20, 4096,
                    WorkloadSpec.parse("random-write:iops=500,bs=4k,seconds=2.5,zeroes=0.05,trim=0.05,seed=7"), System::nanoTime);
            guest.start();
            // the migration starts under a guest that is already writing
            Await.until("the guest wrote 50 blocks", java.time.Duration.ofSeconds(30), () -> guest.guestWrites() >= 50);
            MediaMigration m = new MediaMigration(rig.sourceSide(), rig.destinationSide(), rig.handover(),
                    MediaMigration.Options.defaults(), System::nanoTime, null);
            try (MediaMigration.Outcome out = m.run()) {
                guest.awaitEnd();   // the guest keeps writing, now on the destination
                MediaMigration.Report r = out.report();
                assertThat(r.verdict).startsWith("converged");
                assertThat(r.downtimeMs).isPositive();
                assertThat(r.cdqEntries).isGreaterThan(0);
                assertThat(guest.errors.get()).isZero();
                Verifier.Result v = out.verify(Verifier.Mode.FULL, 1);
                assertThat(v.ok()).as("first mismatch at %d", v.firstMismatch()).isTrue();
                Workload.Check c = guest.check(rig.destinationData());
                assertThat(c.blocksChecked()).isGreaterThan(100);
                assertThat(c.badBlocks()).as("first bad block %d", c.firstBad()).isZero();
            }
        }
    }

    @Test
    void theCrc32cLedgerIsKeptOnlyWhenAskedFor() throws Exception {
        for (boolean record : new boolean[] {true, false}) {
            Path work = dir.resolve("ledger-" + record), src = work.resolve("src.img"), dst = work.resolve("dst.img");
            java.nio.file.Files.createDirectories(work);
            Images.dense(src, 8 << 20, 12);
            try (LiveMigrationRig rig = new LiveMigrationRig(src, dst, work.resolve("work"), 8 << 20, 4096)) {
                MediaMigration m = new MediaMigration(rig.sourceSide(), rig.destinationSide(), rig.handover(),
                        MediaMigration.Options.defaults().withRecordWrites(record), System::nanoTime, null);
                try (MediaMigration.Outcome out = m.run()) {
                    assertThat(out.verify(Verifier.Mode.FULL, 1).ok()).isTrue();
                    assertThat(out.writeCheck().extentsChecked()).as("ledger on: %s", record).isEqualTo(record ? 128 : 0);
                }
            }
        }
    }
}
