package dev.nvmelm.migrate;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.cdq.CdqAnomaly;
import dev.nvmelm.host.cdq.CdqConsumer;
import dev.nvmelm.host.cdq.CdqListener;
import dev.nvmelm.host.cdq.CdqMarker;
import dev.nvmelm.host.cdq.DirtyExtents;
import dev.nvmelm.spec.TrackSendCommand;

import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * User-data change tracking of one migratable controller: a CDQ on its MMC, the consumer loop
 * feeding {@link DirtyExtents}, and the markers the engine waits for (ESA 1 on start, ESA 3 on
 * suspend). The only place the engine touches the CDQ consumer; {@code device serve --nbd-dirty}
 * tracks with it too.
 */
public final class Tracking implements AutoCloseable {
    private final NvmeDevice mmc;
    private final CdqQueue cdq;
    private final CdqConsumer consumer;
    private final Map<CdqMarker.Kind, AtomicLong> seen = new EnumMap<>(CdqMarker.Kind.class);
    private final AtomicLong anomalies = new AtomicLong();

    public Tracking(NvmeDevice mmc, int cntlid, List<DirtyExtents> namespaces, long cdqBytes) throws NvmeException {
        this.mmc = mmc;
        for (CdqMarker.Kind k : CdqMarker.Kind.values()) seen.put(k, new AtomicLong());
        this.cdq = mmc.createCdq(cntlid, cdqBytes);
        this.consumer = CdqConsumer.builder(mmc, cdq).namespaces(namespaces).listener(new CdqListener() {
            @Override
            public void onMarker(CdqMarker m) {
                AtomicLong n = seen.get(m.kind());
                synchronized (n) {
                    n.incrementAndGet();
                    n.notifyAll();
                }
            }

            @Override
            public void onAnomaly(CdqAnomaly a) {
                anomalies.incrementAndGet();
            }
        }).build();
        consumer.start();
    }

    long markers(CdqMarker.Kind kind) {
        return seen.get(kind).get();
    }

    /** Waits until more than {@code before} markers of {@code kind} were consumed. */
    void awaitMarker(CdqMarker.Kind kind, long before, Duration timeout) throws NvmeException, InterruptedException {
        AtomicLong n = seen.get(kind);
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (n) {
            while (n.get() <= before) {
                long left = deadline - System.nanoTime();
                if (left <= 0) throw new NvmeException(mmc.name() + ": no ESA " + kind.esa + " (" + kind + ") marker within " + timeout.toMillis() + " ms");
                n.wait(Math.max(1, left / 1_000_000));
            }
        }
    }

    /** Track Send start, then wait for the ESA 1 marker: nothing changed before it is missed. */
    public void startLogging() throws NvmeException, InterruptedException {
        long before = markers(CdqMarker.Kind.FIRST);
        // a kernel that starts logging with the queue (Linux CDQ ioctl, RFC v2) already sent it
        if (!cdq.loggingFollowsQueue()) mmc.admin(TrackSendCommand.start(cdq.cdqid()).toSqe(), null).orThrow("Track Send start on CDQ " + cdq.cdqid());
        awaitMarker(CdqMarker.Kind.FIRST, before, Duration.ofSeconds(10));
    }

    private void needTrackSend(String what) throws NvmeException {
        if (cdq.loggingFollowsQueue()) {
            throw new NvmeException(mmc.name() + ": the kernel starts and stops logging with the CDQ itself, so " + what
                    + " (Track Send) cannot be sent; live migration needs a kernel CDQ interface that leaves Track Send to the host");
        }
    }

    /**
     * Restarts logging after a CDQ Full (ESA 7): Track Send start needs two free slots, which
     * the controller sees only once the consumer has reported its head, so a "CDQ full" (3Bh)
     * refusal is retried until {@code timeout}.
     */
    void restartLogging(Duration timeout) throws NvmeException, InterruptedException {
        needTrackSend("restarting logging after CDQ Full");
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long before = markers(CdqMarker.Kind.FIRST);
            var c = mmc.admin(TrackSendCommand.start(cdq.cdqid()).toSqe(), null);
            if (c.ok()) {
                awaitMarker(CdqMarker.Kind.FIRST, before, Duration.ofSeconds(10));
                return;
            }
            if (System.nanoTime() > deadline) c.orThrow("Track Send start (restart after CDQ Full) on CDQ " + cdq.cdqid());
            Thread.sleep(2);
        }
    }

    /** The consumer's counters (entries, change entries, bytes dirtied, ...). */
    dev.nvmelm.host.cdq.CdqCounters counters() {
        return consumer.counters();
    }

    /** Track Send stop, then wait for the ESA 2 marker: every earlier entry has been consumed. */
    void stopLogging() throws NvmeException, InterruptedException {
        needTrackSend("stopping logging");
        long before = markers(CdqMarker.Kind.STOPPED);
        mmc.admin(TrackSendCommand.stop(cdq.cdqid()).toSqe(), null).orThrow("Track Send stop on CDQ " + cdq.cdqid());
        awaitMarker(CdqMarker.Kind.STOPPED, before, Duration.ofSeconds(10));
    }

    /** Consumes what the controller has logged so far, now (the loop would get to it shortly). */
    public void pollNow() {
        consumer.pollOnce();
    }

    long entries() {
        return consumer.counters().entries();
    }

    long anomalies() {
        return anomalies.get();
    }

    int cdqid() {
        return cdq.cdqid();
    }

    /** The CDQ (for a server that must keep its clients off it). */
    public CdqQueue queue() {
        return cdq;
    }

    /** True once changes may have gone unlogged: the queue filled (ESA 7) or the consumer failed. */
    public boolean broken() {
        return markers(CdqMarker.Kind.QUEUE_FULL) > 0 || consumer.failure().isPresent();
    }

    /** Stops the consumer and deletes the CDQ (which stops logging on the controller). */
    @Override
    public void close() throws NvmeException {
        consumer.close();
        cdq.close();
    }
}
