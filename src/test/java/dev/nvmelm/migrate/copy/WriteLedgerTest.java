package dev.nvmelm.migrate.copy;

import dev.nvmelm.block.FileBlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** CRC32C per written extent: a destination that lost or changed a write is caught on read-back. */
class WriteLedgerTest {
    @TempDir
    Path dir;

    @Test
    void aWriteChangedBehindTheLedgersBackIsAMismatchAndRewrittenBlocksAreSkipped() throws Exception {
        try (FileBlockDevice file = FileBlockDevice.createOrReuse(dir.resolve("d.img"), 8 << 20, 4096); Arena a = Arena.ofConfined()) {
            WriteLedger ledger = new WriteLedger(file);
            MemorySegment data = a.allocate(1 << 20).fill((byte) 7);
            ledger.write(0, data);
            ledger.write(2 << 20, data.asSlice(0, 4096).fill((byte) 9));
            ledger.writeZeroes(4 << 20, 1 << 20, true);
            assertThat(ledger.check(Verifier.Mode.FULL, (off, len) -> false)).satisfies(c -> {
                assertThat(c.ok()).isTrue();
                assertThat(c.extentsChecked()).isEqualTo(16 + 1 + 1);   // 64 KiB chunks of the MiB, the block, the zeroes
                assertThat(c.bytesChecked()).isEqualTo((1 << 20) + 4096 + (1 << 20));
            });
            // a lost write: the device ends up with other bytes than the ledger recorded
            file.write(8192, a.allocate(4096).fill((byte) 1));
            file.write((4 << 20) + 4096, a.allocate(4096).fill((byte) 1));   // "zeroes" that are not
            WriteLedger.Check bad = ledger.check(Verifier.Mode.FULL, (off, len) -> false);
            assertThat(bad.ok()).isFalse();
            assertThat(bad.mismatches()).isEqualTo(2);
            assertThat(bad.firstMismatch()).isZero();
            // the guest rewrote those blocks after switchover: not a failure
            WriteLedger.Check excused = ledger.check(Verifier.Mode.FULL, (off, len) -> (off <= 8192 && 8192 < off + len) || (off <= (4 << 20) + 4096 && (4 << 20) + 4096 < off + len));
            assertThat(excused.ok()).isTrue();
            assertThat(excused.extentsSkipped()).isEqualTo(2);
        }
    }

    @Test
    void aLaterOverlappingWriteReplacesTheEntryItCovers() throws Exception {
        try (FileBlockDevice file = FileBlockDevice.createOrReuse(dir.resolve("d.img"), 8 << 20, 4096); Arena a = Arena.ofConfined()) {
            WriteLedger ledger = new WriteLedger(file);
            ledger.write(0, a.allocate(1 << 20).fill((byte) 3));
            ledger.write(4096, a.allocate(4096).fill((byte) 4));   // a dirty pass rewrites one block: only its chunk goes
            assertThat(ledger.size()).isEqualTo(16);
            ledger.writeZeroes(2 << 20, 1 << 20, true);
            ledger.write((2 << 20) + 8192, a.allocate(4096).fill((byte) 6));   // zeroes are trimmed around it, not dropped
            assertThat(ledger.size()).isEqualTo(16 + 3);
            assertThat(ledger.check(Verifier.Mode.FULL, (off, len) -> false).bytesChecked()).isEqualTo((1 << 20) - (64 << 10) + 4096 + (1 << 20));
            assertThat(ledger.check(Verifier.Mode.FULL, (off, len) -> false).ok()).isTrue();
        }
    }

    @Test
    void concurrentWritersNeverLeaveAFalseRecord() throws Exception {
        try (FileBlockDevice file = FileBlockDevice.createOrReuse(dir.resolve("d.img"), 8 << 20, 4096)) {
            WriteLedger ledger = new WriteLedger(file);
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                byte v = (byte) (t + 1);
                fs.add(CompletableFuture.runAsync(() -> {
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment buf = a.allocate(4 * 4096).fill(v);
                        for (int i = 0; i < 300; i++) ledger.write((long) (i % 64) * 4096, buf);   // heavy overlap
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            for (var f : fs) f.get();
            assertThat(ledger.check(Verifier.Mode.FULL, (off, len) -> false).ok()).isTrue();
        }
    }

    @Test
    void aFullLedgerSaysSo() throws Exception {
        try (FileBlockDevice file = FileBlockDevice.createOrReuse(dir.resolve("d.img"), 8 << 20, 4096); Arena a = Arena.ofConfined()) {
            WriteLedger ledger = new WriteLedger(file, 2);
            MemorySegment b = a.allocate(4096).fill((byte) 5);
            for (int i = 0; i < 4; i++) ledger.write(i * 8192L, b);
            WriteLedger.Check c = ledger.check(Verifier.Mode.FULL, (off, len) -> false);
            assertThat(c.complete()).isFalse();
            assertThat(c.extentsChecked()).isEqualTo(2);
        }
    }
}
