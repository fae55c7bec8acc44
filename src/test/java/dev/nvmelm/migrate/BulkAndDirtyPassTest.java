package dev.nvmelm.migrate;

import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.migrate.copy.Verifier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Which CDQ ranges the engine copies, made deterministic by having the guest write from inside
 * the copier's own reads: a change ahead of the bulk frontier is left to the bulk copy, a
 * change to a range whose read is in flight is copied again, and a change made while a dirty
 * pass copies that very range is copied once more (clear, then read).
 */
class BulkAndDirtyPassTest {
    static final long SIZE = 16 << 20;
    static final long LAST = SIZE / Fixture.LBA - 1;

    @TempDir
    Path dir;

    @Test
    void aheadIsLeftToTheBulkInFlightAndReReportedRangesAreCopiedAgain() throws Exception {
        try (Fixture fx = Fixture.dense(dir, SIZE)) {
            AtomicReference<MediaMigration> m = new AtomicReference<>();
            Map<MediaMigration.Phase, AtomicInteger> readsOfBlock0 = new ConcurrentHashMap<>();
            Faults.Hook hook = new Faults.Hook() {
                @Override
                public void afterRead(long offset, long length) throws IOException {
                    if (offset != 0) return;
                    MediaMigration.Phase phase = m.get().phase();
                    int n = readsOfBlock0.computeIfAbsent(phase, p -> new AtomicInteger()).incrementAndGet();
                    try {
                        if (phase == MediaMigration.Phase.BULK && n == 1) {
                            fx.guestWrite(0, 1);          // its read is in flight: must be copied again
                            fx.guestWrite(LAST, 1);       // far ahead of the frontier: the bulk reads it later
                        } else if (phase == MediaMigration.Phase.DIRTY && n == 1) {
                            fx.guestWrite(0, 2);          // re-reported during its own copy
                        }
                    } catch (Exception e) {
                        throw new IOException(e);
                    }
                }
            };
            var srcSide = fx.rig.sourceSide();
            var hooked = new MediaMigration.Side(srcSide.mmc(), srcSide.cntlid(), srcSide.nsid(), new Faults.Hooked(srcSide.data(), hook));
            // 1 MiB work units at 16 MiB/s: the bulk takes about a second, the frontier moves per MiB.
            var copy = new Copier.Config(1 << 20, 4, 1 << 20, false, 16L << 20);
            m.set(new MediaMigration(hooked, fx.rig.destinationSide(), fx.rig.handover(),
                    MediaMigration.Options.defaults().withCopy(copy), System::nanoTime, null));
            try (MediaMigration.Outcome out = m.get().run()) {
                MediaMigration.Report r = out.report();
                assertThat(out.verify(Verifier.Mode.FULL, 1).ok()).isTrue();
                assertThat(Files.mismatch(fx.src, fx.dst)).isEqualTo(-1L);
                assertThat(r.bytesIgnoredAhead).as("the write to the last block").isEqualTo(Fixture.LBA);
                assertThat(readsOfBlock0.get(MediaMigration.Phase.BULK)).hasValue(1);
                assertThat(readsOfBlock0.get(MediaMigration.Phase.DIRTY).get()
                        + readsOfBlock0.getOrDefault(MediaMigration.Phase.STOP_AND_COPY, new AtomicInteger()).get())
                        .as("block 0 copied after the in-flight write and again after the write during its pass").isEqualTo(2);
                assertThat(r.bytesCopied).as("the bulk, then block 0 twice; the last block only by the bulk").isEqualTo(SIZE + 2L * Fixture.LBA);
            }
        }
    }
}
