package dev.nvmelm.host.linux;

import dev.nvmelm.Await;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.cdq.CdqConsumer;
import dev.nvmelm.host.cdq.CdqMarker;
import dev.nvmelm.host.cdq.DirtyExtents;
import dev.nvmelm.host.cdq.LbaRange;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.TrackSendCommand;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link LinuxCdqQueue} with the kernel's part played through real descriptors: a non-blocking
 * pipe stands for the kernel's cdq_fd (read(2) returns whole 32-byte entries, nothing when
 * empty) and a real eventfd for the Tail Pointer Trigger. The device is a {@link LinuxNvmeDevice}
 * over /dev/null, so head reports go through the queue's own {@link LinuxCdqQueue#reportHead}, the
 * commands that contradict the kernel's ownership are refused, and every other command reaches
 * a real ioctl (ENOTTY). The unmodified host.cdq consumer runs on top.
 *
 * <p>What this cannot show is the RFC kernel itself (none is available here): that its read
 * and eventfd behave as the RFC source says is an assumption documented in docs/linux-backend.md.
 */
class LinuxCdqQueueTest {
    private static final int HANDLE = 0xffff, CNTLID = 2;
    private final List<Runnable> cleanup = new ArrayList<>();

    @AfterEach
    void tearDown() {
        for (Runnable r : cleanup.reversed()) r.run();
    }

    /** The kernel's side: entries go into the pipe's write end; the trigger is the eventfd. */
    private final class Kernel {
        final int readFd, writeFd;
        final EventFd tpt;
        final AtomicInteger deletes = new AtomicInteger();
        final Arena arena = Arena.ofShared();

        Kernel(boolean withEventFd) throws LibcException {
            int[] p = Libc.pipe(Libc.O_NONBLOCK | Libc.O_CLOEXEC);
            readFd = p[0];
            writeFd = p[1];
            tpt = withEventFd ? EventFd.create() : null;
            cleanup.add(() -> Libc.closeQuietly(writeFd));
        }

        /** Writes entries, at most 128 (4096 bytes, one atomic pipe write) at a time. */
        void post(List<LbaMigrationEntry> list) throws Exception {
            for (int from = 0; from < list.size(); from += 128) {
                int k = Math.min(128, list.size() - from);
                MemorySegment m = arena.allocate(32L * k);
                for (int i = 0; i < k; i++) list.get(from + i).encode(m, 32L * i);
                // a full pipe (EAGAIN) waits for the consumer to read
                Await.until("the pipe has room for " + k + " entries", Duration.ofSeconds(60), () -> {
                    try {
                        assertThat(Libc.write(writeFd, m, 32L * k)).isEqualTo(32L * k);
                        return true;
                    } catch (LibcException e) {
                        if (e.errno() != Libc.EAGAIN) throw e;
                        return false;
                    }
                });
            }
        }

        void trigger() throws LibcException {
            tpt.signal(1);
        }
    }

    private LinuxNvmeDevice device() throws Exception {
        int fd = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC);
        LinuxNvmeDevice d = new LinuxNvmeDevice("/dev/null", fd, LinuxNvmeDevice.NodeKind.CONTROLLER, 0, true, Duration.ofSeconds(10), 2);
        cleanup.add(d::close);
        return d;
    }

    private static LinuxCdqQueue queue(LinuxNvmeDevice d, Kernel k, CdqSupport via, int cdqid, int entries) {
        LinuxCdqQueue q = new LinuxCdqQueue("/dev/null", via, cdqid, via == CdqSupport.RFC_V1, CNTLID, entries, k.readFd, k.tpt,
                k.deletes::incrementAndGet, () -> d.forget(cdqid));
        d.register(q);
        return q;
    }

    private static Completion reportHead(LinuxNvmeDevice d, LinuxCdqQueue q, int head, boolean etpt, int tpt) throws Exception {
        return q.reportHead(d, head, etpt, tpt).get(30, TimeUnit.SECONDS);
    }

    private static List<LbaMigrationEntry> ranges(long firstLba, int count) {
        List<LbaMigrationEntry> l = new ArrayList<>();
        for (int i = 0; i < count; i++) l.add(LbaMigrationEntry.range(1, firstLba + i, 1, true));
        return l;
    }

    @Test
    void theConsumerReadsEveryLoggedRangeThroughTheMirrorAndStopsAtTheStoppedMarker() throws Exception {
        LinuxNvmeDevice d = device();
        Kernel k = new Kernel(true);
        int n = 256;
        LinuxCdqQueue q = queue(d, k, CdqSupport.RFC_V2, HANDLE, n);
        long lbaCount = 1 << 20;
        DirtyExtents ns = new DirtyExtents(1, lbaCount, 512);
        CdqConsumer consumer = CdqConsumer.builder(d, q).namespaces(List.of(ns))
                .config(new CdqConsumer.Config(64, 1, Duration.ofMillis(20), Duration.ofSeconds(5))).build();
        cleanup.add(consumer::close);

        // 5000 random writes (more than the pipe and far more than the ring hold: back-pressure),
        // posted in bursts with a trigger after each, then the stopped marker.
        Random rnd = new Random(7);
        TreeSet<Long> written = new TreeSet<>();
        List<LbaMigrationEntry> all = new ArrayList<>();
        all.add(LbaMigrationEntry.marker(LbaMigrationEntry.ESA_FIRST, true));
        for (int i = 0; i < 5000; i++) {
            long slba = rnd.nextLong(lbaCount - 8);
            int blocks = 1 + rnd.nextInt(8);
            for (int b = 0; b < blocks; b++) written.add(slba + b);
            all.add(LbaMigrationEntry.range(1, slba, blocks, true));
        }
        all.add(LbaMigrationEntry.marker(LbaMigrationEntry.ESA_STOPPED, true));
        CompletableFuture<Void> kernel = CompletableFuture.runAsync(() -> {
            try {
                for (int from = 0; from < all.size(); from += 300) {
                    k.post(all.subList(from, Math.min(all.size(), from + 300)));
                    k.trigger();
                }
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }, r -> Thread.ofPlatform().start(r));

        Optional<CdqMarker> stopped = consumer.drainUntilStopped(Duration.ofSeconds(60));
        kernel.get(60, TimeUnit.SECONDS);
        assertThat(stopped).as("the ESA 2 marker arrived").isPresent();
        assertThat(consumer.counters().entries()).isEqualTo(all.size());
        assertThat(consumer.counters().headReportFailures()).isZero();
        assertThat(q.entriesRead()).isEqualTo(all.size());
        // head reports complete asynchronously: let the last one land before comparing
        Await.until("the last head was reported", Duration.ofSeconds(5), () -> consumer.reportedHead() == consumer.head());
        assertThat(q.reportedHead()).as("head reports went to the mirror through the queue").isEqualTo(consumer.reportedHead());
        assertThat(consumer.head()).isEqualTo(all.size() % n);
        // Exactly the written LBAs are dirty
        TreeSet<Long> dirty = new TreeSet<>();
        for (LbaRange r : ns.snapshot()) {
            for (long l = r.slba(); l < r.end(); l++) dirty.add(l);
        }
        assertThat(dirty).isEqualTo(written);
        consumer.close();
        q.close();
        assertThat(k.deletes).as("the kernel delete ran once").hasValue(1);
    }

    @Test
    void theMirrorReadsOnlyWhatFitsUntilTheConsumerReportsItsHead() throws Exception {
        LinuxNvmeDevice d = device();
        Kernel k = new Kernel(true);
        LinuxCdqQueue q = queue(d, k, CdqSupport.RFC_V2, HANDLE, 64);
        k.post(ranges(0, 300));
        assertThat(q.awaitNotification(Duration.ofSeconds(1))).isTrue();
        assertThat(q.entriesRead()).as("N-1 slots").isEqualTo(63);
        assertThat(q.awaitNotification(Duration.ofMillis(20))).as("full: nothing more is read").isFalse();
        assertThat(q.entriesRead()).isEqualTo(63);
        assertThat(reportHead(d, q, 10, true, 11).status()).isEqualTo(Status.SUCCESS);
        assertThat(q.awaitNotification(Duration.ofSeconds(1))).isTrue();
        assertThat(q.entriesRead()).isEqualTo(73);
    }

    @Test
    void withNothingToReadItWaitsForTheEventfdAndTimesOutWithoutIt() throws Exception {
        LinuxNvmeDevice d = device();
        Kernel k = new Kernel(true);
        LinuxCdqQueue q = queue(d, k, CdqSupport.RFC_V2, HANDLE, 64);
        assertThat(q.awaitNotification(Duration.ofMillis(30))).as("no entries, no trigger").isFalse();
        assertThat(q.notifications()).isZero();
        CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> {
            try {
                return q.awaitNotification(Duration.ofSeconds(60));
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        }, r -> Thread.ofPlatform().start(r));
        k.post(ranges(100, 1));
        k.trigger();
        assertThat(waiter.get(60, TimeUnit.SECONDS)).isTrue();
        assertThat(q.entriesRead()).isEqualTo(1);
    }

    @Test
    void rfcV1HasNoNotificationSoItRereadsWithBackoff() throws Exception {
        LinuxNvmeDevice d = device();
        Kernel k = new Kernel(false);
        LinuxCdqQueue q = queue(d, k, CdqSupport.RFC_V1, 3, 64);
        assertThat(q.cdqidFromKernel()).isTrue();
        assertThat(q.kernelStartsLogging()).isFalse();
        assertThat(q.awaitNotification(Duration.ofMillis(25))).isFalse();
        CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> {
            try {
                return q.awaitNotification(Duration.ofSeconds(60));
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        }, r -> Thread.ofPlatform().start(r));
        k.post(ranges(5, 2));
        assertThat(waiter.get(60, TimeUnit.SECONDS)).isTrue();
        assertThat(q.entriesRead()).isEqualTo(2);
        // v1: Track Send names the kernel's real CDQID and goes to the controller (here: /dev/null's ENOTTY)
        assertThatThrownBy(() -> d.submitAdmin(TrackSendCommand.start(3).toSqe(), null).get(30, TimeUnit.SECONDS))
                .hasCauseInstanceOf(NvmeException.class).cause().hasMessageContaining("ENOTTY");
    }

    @Test
    void headReportsAreCheckedAsTheControllerChecksThem() throws Exception {
        LinuxNvmeDevice d = device();
        Kernel k = new Kernel(true);
        LinuxCdqQueue q = queue(d, k, CdqSupport.RFC_V2, HANDLE, 16);
        k.post(ranges(0, 5));
        assertThat(q.awaitNotification(Duration.ofSeconds(1))).isTrue();
        Status invalidField = Status.dnr(StatusCodes.INVALID_FIELD);
        assertThat(reportHead(d, q, 6, false, 0).status()).as("past the tail").isEqualTo(invalidField);
        assertThat(reportHead(d, q, 16, false, 0).status()).as("not a slot").isEqualTo(invalidField);
        assertThat(reportHead(d, q, 3, true, 16).status()).as("TPT not a slot").isEqualTo(invalidField);
        assertThat(reportHead(d, q, 3, true, 4).status()).isEqualTo(Status.SUCCESS);
        assertThat(q.reportedHead()).isEqualTo(3);
        assertThat(reportHead(d, q, 2, false, 0).status()).as("backwards").isEqualTo(invalidField);
        // a raw Set Features FID 21h naming the queue never moves its head: the device refuses it
        assertThat(cause(d, new CdqFeature.SetCdq(HANDLE, 4, false, 0).toSqe())).contains("report this process's head through the queue");
        assertThat(q.reportedHead()).isEqualTo(3);
    }

    @Test
    void commandsThatContradictTheKernelsOwnershipAreRefusedAndOthersPassThrough() throws Exception {
        LinuxNvmeDevice d = device();
        Kernel k = new Kernel(true);
        LinuxCdqQueue q = queue(d, k, CdqSupport.RFC_V2, HANDLE, 16);
        assertThat(q.cdqidFromKernel()).isFalse();
        assertThat(q.kernelStartsLogging()).isTrue();
        assertThat(cause(d, TrackSendCommand.start(HANDLE).toSqe()))
                .contains("starts logging when it creates the CDQ").contains("Track Send for it is not available");
        assertThat(cause(d, new CdqFeature.GetCdq(HANDLE).toSqe())).contains("does not return its CDQID");
        assertThat(cause(d, new ControllerDataQueueCommand.Delete(HANDLE).toSqe())).contains("delete it by closing the queue");
        // A head report for a CDQ this device did not create is an ordinary command
        assertThat(cause(d, new CdqFeature.SetCdq(5, 0, false, 0).toSqe())).contains("ENOTTY");
        q.close();
        assertThat(cause(d, new CdqFeature.SetCdq(HANDLE, 0, false, 0).toSqe())).as("forgotten after close").contains("ENOTTY");
    }

    private static String cause(LinuxNvmeDevice d, dev.nvmelm.spec.Sqe sqe) throws Exception {
        try {
            Completion c = d.submitAdmin(sqe, null).get(30, TimeUnit.SECONDS);
            throw new AssertionError("expected a failure, got " + c);
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(NvmeException.class);
            return e.getCause().getMessage();
        }
    }

    @Test
    void closeWakesAWaitingConsumerAndDeletesOnce() throws Exception {
        LinuxNvmeDevice d = device();
        Kernel k = new Kernel(true);
        LinuxCdqQueue q = queue(d, k, CdqSupport.RFC_V2, HANDLE, 16);
        CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> {
            try {
                return q.awaitNotification(Duration.ofMinutes(5));
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        }, r -> Thread.ofPlatform().start(r));
        while (q.waiters() == 0) Thread.onSpinWait();   // the consumer is inside awaitNotification
        q.close();
        assertThat(waiter.get(30, TimeUnit.SECONDS)).isFalse();
        assertThat(k.deletes).hasValue(1);
        q.close();
        assertThat(k.deletes).as("close is idempotent").hasValue(1);
        assertThat(q.awaitNotification(Duration.ofSeconds(1))).isFalse();
    }

    @Test
    void aReadThatIsNotWholeEntriesIsRefused() throws Exception {
        LinuxNvmeDevice d = device();
        Kernel k = new Kernel(true);
        LinuxCdqQueue q = queue(d, k, CdqSupport.RFC_V2, HANDLE, 16);
        try (Arena a = Arena.ofConfined()) {
            Libc.write(k.writeFd, a.allocate(31), 31);
        }
        assertThatThrownBy(() -> q.awaitNotification(Duration.ofSeconds(1))).isInstanceOf(IllegalStateException.class)
                .hasMessage("/dev/null: the kernel's CDQ read returned 31 bytes, not whole 32-byte entries; the CDQ cannot be"
                        + " trusted, delete it and start again");
    }

    @Test
    void aDeleteFailureIsReportedAfterEverythingIsReleased() throws Exception {
        LinuxNvmeDevice d = device();
        Kernel k = new Kernel(true);
        LinuxCdqQueue q = new LinuxCdqQueue("/dev/null", CdqSupport.RFC_V2, HANDLE, false, CNTLID, 16, k.readFd, k.tpt,
                () -> {
                    throw new NvmeException("/dev/null: delete refused");
                }, () -> d.forget(HANDLE));
        d.register(q);
        assertThatThrownBy(q::close).hasMessage("/dev/null: delete refused");
        assertThat(q.awaitNotification(Duration.ZERO)).isFalse();
        assertThatThrownBy(() -> q.ring().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0)).as("mirror freed")
                .isInstanceOf(IllegalStateException.class);
    }
}
