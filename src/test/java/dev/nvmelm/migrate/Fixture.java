package dev.nvmelm.migrate;

import dev.nvmelm.embedded.LiveMigrationRig;
import dev.nvmelm.migrate.workload.Workload;
import dev.nvmelm.migrate.workload.WorkloadSpec;
import dev.nvmelm.spec.IoCommands;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A source image, a pristine copy of it, the two-subsystem rig, and the guest's hand: direct
 * 4 KiB writes through the guest's own I/O queues (remembered, so "intact" can be checked), or
 * a paced workload with its oracle.
 */
final class Fixture implements AutoCloseable {
    static final int LBA = 4096;
    final Path dir, src, dst, original;
    final long sizeBytes;
    final LiveMigrationRig rig;
    private final Set<Long> handWritten = ConcurrentHashMap.newKeySet();

    Fixture(Path dir, long sizeBytes, ImageMaker maker) throws Exception {
        this.dir = dir;
        this.sizeBytes = sizeBytes;
        src = dir.resolve("src.img");
        dst = dir.resolve("dst.img");
        original = dir.resolve("original.img");
        maker.make(src, sizeBytes);
        Files.copy(src, original);
        rig = new LiveMigrationRig(src, dst, dir.resolve("work"), sizeBytes, LBA);
    }

    interface ImageMaker {
        void make(Path file, long sizeBytes) throws IOException;
    }

    static Fixture dense(Path dir, long sizeBytes) throws Exception {
        return new Fixture(dir, sizeBytes, (f, n) -> dev.nvmelm.bench.Images.dense(f, n, 11));
    }

    MediaMigration migration(MediaMigration.Options options) {
        return new MediaMigration(rig.sourceSide(), rig.destinationSide(), rig.handover(), options, System::nanoTime, null);
    }

    Workload workload(String spec) {
        return new Workload(rig.guest(), LiveMigrationRig.NSID, sizeBytes, LBA, WorkloadSpec.parse(spec), System::nanoTime);
    }

    /** One synchronous 4 KiB guest write of block {@code block}, filled from {@code tag}. */
    void guestWrite(long block, long tag) throws Exception {
        MemorySegment buf = rig.guest().allocateBuffer(LBA);
        for (long o = 0; o < LBA; o += 8) buf.set(ValueLayout.JAVA_LONG_UNALIGNED, o, tag * 31 + block * 7 + o + 1);
        var c = rig.guest().io(IoCommands.write(LiveMigrationRig.NSID, block, 1, false).toSqe(), buf);
        assertThat(c.ok()).as("guest write of block %d: %s", block, c.status()).isTrue();
        handWritten.add(block);
    }

    /**
     * The guest's controller runs: a read through its queues completes (a suspended controller
     * would leave it unfetched). Use while a workload writes, which owns the data.
     */
    void assertGuestReadCompletes() throws Exception {
        MemorySegment buf = rig.guest().allocateBuffer(LBA);
        var c = rig.guest().io(IoCommands.read(LiveMigrationRig.NSID, 0, 1).toSqe(), buf);
        assertThat(c.ok()).as("guest read: %s", c.status()).isTrue();
    }

    /** The guest can write and read back through its queues (no workload running). */
    void assertGuestIoCompletes() throws Exception {
        long block = sizeBytes / LBA - 1;
        guestWrite(block, 0xfeed);
        MemorySegment buf = rig.guest().allocateBuffer(LBA);
        var c = rig.guest().io(IoCommands.read(LiveMigrationRig.NSID, block, 1).toSqe(), buf);
        assertThat(c.ok()).as("guest read: %s", c.status()).isTrue();
        assertThat(buf.get(ValueLayout.JAVA_LONG_UNALIGNED, 0)).isEqualTo(0xfeedL * 31 + block * 7 + 1);
    }

    /**
     * The source namespace holds the original image except where the guest wrote, and there it
     * holds what the guest wrote (workload oracle): nothing was corrupted.
     */
    void assertSourceIntact(Workload w) throws IOException {
        if (w != null) {
            Workload.Check c = w.check(rig.sourceData());
            assertThat(c.badBlocks()).as("source blocks the guest wrote; first bad %d", c.firstBad()).isZero();
        }
        MemorySegment buf = rig.sourceData().allocateBuffer(LBA);
        ByteBuffer orig = ByteBuffer.allocate(LBA);
        try (FileChannel ch = FileChannel.open(original, StandardOpenOption.READ)) {
            for (long b = 0; b < sizeBytes / LBA; b++) {
                if (handWritten.contains(b) || (w != null && w.versionOf(b) != 0)) continue;
                rig.sourceData().read(b * LBA, buf);
                orig.clear();
                ch.read(orig, b * LBA);
                assertThat(MemorySegment.mismatch(buf, 0, LBA, MemorySegment.ofArray(orig.array()), 0, LBA))
                        .as("source block %d differs from the original image", b).isEqualTo(-1L);
            }
        }
    }

    @Override
    public void close() throws IOException {
        rig.close();
    }
}
