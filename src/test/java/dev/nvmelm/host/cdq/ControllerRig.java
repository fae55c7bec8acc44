package dev.nvmelm.host.cdq;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.pci.HostMemory;
import dev.nvmelm.host.pci.PciNvmeDevice;
import dev.nvmelm.spec.Disagreements;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.TailPointerTrigger;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.TrackSendCommand;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The software NVM subsystem wired as a host sees it (the way EmbeddedSubsystem and the device
 * tests' Rig do): the migration host drives the MMC from its own memory; the "guest" drives
 * MC 1 from guest memory through several I/O queues. Every command below goes through the real
 * queue driver to the real controller; nothing is scripted.
 */
final class ControllerRig implements AutoCloseable {
    static final int LBA_BYTES = 4096;

    final Subsystem subsystem;
    final HostMemory hostMem = new HostMemory();
    final HostMemory guestMem = new HostMemory();
    final PciNvmeDevice mmc;
    final PciNvmeDevice guest;
    final int namespaces;
    final long lbaCount;

    ControllerRig(Path dir, long nsBytes, int namespaces, int guestIoQueues) throws IOException, NvmeException {
        this(Disagreements.TAIL_POINTER_TRIGGER, dir, nsBytes, namespaces, guestIoQueues);
    }

    /** @param rule when the controller fires an armed Tail Pointer Trigger */
    ControllerRig(TailPointerTrigger rule, Path dir, long nsBytes, int namespaces, int guestIoQueues) throws IOException, NvmeException {
        this.namespaces = namespaces;
        this.lbaCount = nsBytes / LBA_BYTES;
        subsystem = Subsystem.open(new Subsystem.Config(dir, nsBytes, namespaces, 1, LBA_BYTES),
                Subsystem.Options.defaults().withTailPointerTrigger(rule));
        subsystem.controller(0).attach(hostMem);
        subsystem.controller(1).attach(guestMem);
        mmc = new PciNvmeDevice(subsystem.controller(0), hostMem, PciNvmeDevice.Options.defaults("mmc"));
        var d = PciNvmeDevice.Options.defaults("guest");
        guest = new PciNvmeDevice(subsystem.controller(1), guestMem,
                new PciNvmeDevice.Options("guest", guestIoQueues, 64, d.timeout(), d.outstandingAers()));
    }

    /** One DirtyExtents per namespace of MC 1 (NSID 1..n), with the given config. */
    List<DirtyExtents> extents(DirtyExtents.Config config) {
        return java.util.stream.IntStream.rangeClosed(1, namespaces)
                .mapToObj(n -> new DirtyExtents(n, lbaCount, LBA_BYTES, config)).toList();
    }

    void trackStart(int cdqid) throws NvmeException {
        mmc.admin(TrackSendCommand.start(cdqid).toSqe(), null).orThrow("Track Send start");
    }

    void trackStop(int cdqid) throws NvmeException {
        mmc.admin(TrackSendCommand.stop(cdqid).toSqe(), null).orThrow("Track Send stop");
    }

    void suspend() throws NvmeException {
        mmc.admin(new MigrationSendCommand.Suspend(1, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe(), null).orThrow("Suspend");
    }

    void resume() throws NvmeException {
        mmc.admin(new MigrationSendCommand.Resume(1, 0).toSqe(), null).orThrow("Resume");
    }

    /** A guest write of {@code count} LBAs (synchronous). */
    void write(int nsid, long slba, int count) throws NvmeException {
        MemorySegment buf = guestMem.allocate((long) count * LBA_BYTES);
        try {
            guest.io(IoCommands.write(nsid, slba, count, false).toSqe(), buf).orThrow("write");
        } finally {
            guestMem.free(buf);
        }
    }

    /** Guest-side changes of the namespace data, each logged as one or more CDQ entries. */
    sealed interface Change permits Write, Zeroes, Deallocate {
        int nsid();

        /** CDQ entries the controller logs for it, at most. */
        int maxEntries();

        /** Marks every LBA it changes. */
        void markInto(BitSet lbas);
    }

    record Write(int nsid, long slba, int count) implements Change {
        public int maxEntries() { return 1; }

        public void markInto(BitSet b) { b.set((int) slba, (int) (slba + count)); }
    }

    record Zeroes(int nsid, long slba, int count, boolean deallocate) implements Change {
        public int maxEntries() { return 1; }

        public void markInto(BitSet b) { b.set((int) slba, (int) (slba + count)); }
    }

    /** Dataset Management deallocate: one entry per contiguous run of its ranges. */
    record Deallocate(int nsid, List<IoCommands.DsmRange> ranges) implements Change {
        public int maxEntries() { return ranges.size(); }

        public void markInto(BitSet b) {
            for (var r : ranges) b.set((int) r.slba(), (int) (r.slba() + r.blockCount()));
        }
    }

    /** Submits a change on one of the guest's I/O queues (round robin); completes when the controller did. */
    CompletableFuture<Completion> submit(Change ch) {
        return switch (ch) {
            case Write w -> {
                MemorySegment buf = guestMem.allocate((long) w.count() * LBA_BYTES);
                buf.fill((byte) w.slba());
                yield guest.submitIo(IoCommands.write(w.nsid(), w.slba(), w.count(), false).toSqe(), buf)
                        .whenComplete((c, t) -> guestMem.free(buf));
            }
            case Zeroes z -> guest.submitIo(new IoCommands.WriteZeroes(z.nsid(), z.slba(), z.count() - 1, z.deallocate()).toSqe(), null);
            case Deallocate d -> {
                MemorySegment buf = guestMem.allocate((long) d.ranges().size() * IoCommands.DsmRange.SIZE);
                IoCommands.encodeRanges(d.ranges(), buf);
                yield guest.submitIo(new IoCommands.DatasetManagement(d.nsid(), d.ranges().size(), true).toSqe(), buf)
                        .whenComplete((c, t) -> guestMem.free(buf));
            }
        };
    }

    static Duration seconds(long s) {
        return Duration.ofSeconds(s);
    }

    @Override
    public void close() throws IOException {
        guest.close();
        mmc.close();
        subsystem.close();
        hostMem.close();
        guestMem.close();
    }
}
