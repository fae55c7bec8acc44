package dev.nvmelm.device;

import dev.nvmelm.host.Completion;
import dev.nvmelm.host.pci.PciNvmeDevice;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.TrackSendCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Real threads: several writers on several I/O queues of one MC while tracking is on, and a
 * consumer reading the ring in place as the controller writes it. Every written LBA must be in
 * some logged range, every logged range must be a write, and the consumer must never see a
 * torn entry: it reads the phase byte first and scrubs each slot after reading it, so an entry
 * whose byte 31 became visible before bytes 0-30 would show up as NSID 0.
 */
class ConcurrentWritersTest {
    static final int WRITERS = 4, WRITES_EACH = 600, RING = 1024, MAX_BLOCKS = 8;

    @Test
    void everyLbaWrittenOnAnyQueueIsInSomeLoggedRange(@TempDir Path dir) throws Exception {
        long nsBytes = 8 << 20;
        try (Rig rig = new Rig(dir, nsBytes, 2, new PciNvmeDevice.Options("guest", 4, 64, Duration.ofSeconds(30), 4))) {
            long lbas = nsBytes / 4096;
            MemorySegment ring = rig.hostMem.allocate((long) RING * 32);
            Completion created = rig.mmc.admin(new ControllerDataQueueCommand.Create(0, true, 1, RING * 8L,
                    rig.hostMem.iovaOf(ring)).toSqe(), null).orThrow("create CDQ");
            int cdqid = created.dw0() & 0xffff;
            rig.mmc.admin(TrackSendCommand.start(cdqid).toSqe(), null).orThrow("track start");

            AtomicLong issued = new AtomicLong(), consumedChanges = new AtomicLong();
            List<LbaMigrationEntry> entries = new ArrayList<>();
            List<String> problems = java.util.Collections.synchronizedList(new ArrayList<>());
            Flag stop = new Flag();
            Thread consumer = Thread.ofPlatform().name("cdq-consumer").start(() -> {
                long k = 0;
                try {
                    while (true) {
                        int slot = (int) (k % RING);
                        boolean phase = (k / RING) % 2 == 0;
                        long off = slot * 32L;
                        if ((ring.get(ValueLayout.JAVA_BYTE, off + 31) & 1) != (phase ? 1 : 0)) {
                            if (stop.done && entries.size() > 0 && entries.getLast().esa() == LbaMigrationEntry.ESA_STOPPED) return;
                            Thread.onSpinWait();
                            continue;
                        }
                        VarHandle.acquireFence();   // the phase first, then the rest (Base 2.2, section 8.1.6.1: the phase tag is written last)
                        LbaMigrationEntry e = LbaMigrationEntry.decode(ring, off);
                        if (LbaMigrationEntry.reservedBitsSet(ring, off)) problems.add("reserved bits in entry " + k);
                        if (e.lbaci() == LbaMigrationEntry.LBACI_RANGE && (e.nsid() != 1 || e.blockCount() > MAX_BLOCKS
                                || e.slba() < 0 || e.slba() + e.blockCount() > lbas || e.esa() != 0)) problems.add("torn or bad entry " + k + ": " + e);
                        entries.add(e);
                        if (e.lbaci() == LbaMigrationEntry.LBACI_RANGE) consumedChanges.incrementAndGet();
                        ring.asSlice(off, 31).fill((byte) 0);   // scrub: a stale read would now show NSID 0
                        k++;
                        if (k % 16 == 0 || e.esa() != 0) {
                            rig.mmc.admin(new CdqFeature.SetCdq(cdqid, (int) (k % RING), false, 0).toSqe(), null).orThrow("head");
                        }
                    }
                } catch (Exception ex) {
                    problems.add("consumer: " + ex);
                }
            });

            List<ConcurrentLinkedQueue<long[]>> written = new ArrayList<>();
            List<Thread> writers = new ArrayList<>();
            for (int w = 0; w < WRITERS; w++) {
                ConcurrentLinkedQueue<long[]> mine = new ConcurrentLinkedQueue<>();
                written.add(mine);
                long seed = 1234 + w;
                writers.add(Thread.ofPlatform().name("writer-" + w).start(() -> {
                    SplittableRandom rnd = new SplittableRandom(seed);
                    MemorySegment buf = rig.guest.allocateBuffer(MAX_BLOCKS * 4096L);
                    try {
                        for (int i = 0; i < WRITES_EACH; i++) {
                            // host-side flow control: never let the ring fill (that is CdqProducerTest's subject)
                            long deadline = System.nanoTime() + 30_000_000_000L;
                            while (issued.get() - consumedChanges.get() > RING / 2) {
                                if (System.nanoTime() > deadline) throw new IllegalStateException("the consumer stopped consuming");
                                Thread.yield();
                            }
                            issued.incrementAndGet();
                            int blocks = 1 + rnd.nextInt(MAX_BLOCKS);
                            long slba = rnd.nextLong(lbas - blocks + 1);
                            Completion c = rnd.nextInt(4) == 0
                                    ? rig.guest.io(new IoCommands.WriteZeroes(1, slba, blocks - 1, rnd.nextBoolean()).toSqe(), null)
                                    : rig.guest.io(IoCommands.write(1, slba, blocks, false).toSqe(), buf.asSlice(0, blocks * 4096L));
                            c.orThrow("write");
                            mine.add(new long[]{slba, blocks});
                        }
                    } catch (Exception ex) {
                        problems.add(Thread.currentThread().getName() + ": " + ex);
                    }
                }));
            }
            for (Thread t : writers) t.join();
            rig.mmc.admin(TrackSendCommand.stop(cdqid).toSqe(), null).orThrow("track stop");
            stop.done = true;
            consumer.join(30_000);
            assertThat(consumer.isAlive()).as("consumer reached the ESA 2 marker").isFalse();
            assertThat(problems).isEmpty();

            BitSet expected = new BitSet(), logged = new BitSet();
            long writes = 0;
            for (var q : written) for (long[] r : q) {
                expected.set((int) r[0], (int) (r[0] + r[1]));
                writes++;
            }
            assertThat(writes).isEqualTo((long) WRITERS * WRITES_EACH);
            assertThat(entries.getFirst().esa()).isEqualTo(LbaMigrationEntry.ESA_FIRST);
            assertThat(entries.getLast().esa()).isEqualTo(LbaMigrationEntry.ESA_STOPPED);
            List<LbaMigrationEntry> changes = entries.subList(1, entries.size() - 1);
            assertThat(changes).as("one entry per command, no marker in between").hasSize((int) writes)
                    .allSatisfy(e -> assertThat(e.esa()).isZero());
            for (LbaMigrationEntry e : changes) logged.set((int) e.slba(), (int) (e.slba() + e.blockCount()));
            BitSet missing = (BitSet) expected.clone();
            missing.andNot(logged);
            assertThat(missing.isEmpty()).as("written but not logged: %s", missing).isTrue();
            assertThat(logged).isEqualTo(expected);
            assertThat(entries.size()).as("the ring wrapped several times").isGreaterThan(2 * RING);
        }
    }

    private static final class Flag {
        volatile boolean done;
    }
}
