package dev.nvmelm.host;

import dev.nvmelm.spec.CdqFeature;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * A Controller Data Queue living in host memory that the controller writes by DMA and the
 * host reads in place. Closing it deletes the CDQ on the controller (after which the memory
 * is released), mirroring the RFC's fd-owned CDQ.
 */
public interface CdqQueue extends AutoCloseable {
    int cdqid();

    /** CNTLID of the migratable controller this queue logs for. */
    int cntlid();

    /** Number of 32-byte entries (slots) in the ring. */
    int entryCount();

    /** The ring, entryCount * 32 bytes, read-only from the host's point of view. */
    MemorySegment ring();

    /**
     * Waits for a Tail Pointer Trigger or CDQ Full notification for this queue.
     * @return true if notified, false on timeout
     */
    boolean awaitNotification(Duration timeout) throws InterruptedException;

    /**
     * Where a reader of this ring left off: the next slot to read and the phase tag that slots
     * not yet rewritten carry (0 before the first wrap, since the ring starts zeroed).
     */
    record Cursor(int head, boolean stalePhase) {
        public static final Cursor START = new Cursor(0, false);
    }

    /**
     * True when creating the queue already started logging and deleting it stops it, so the
     * host must not send Track Send itself (the Linux CDQ ioctl of RFC v2 does this in the kernel).
     */
    default boolean loggingFollowsQueue() {
        return false;
    }

    /**
     * Reports the host's head for this queue and optionally arms the Tail Pointer Trigger
     * (Set Features FID 21h, NVMe Base 2.1, Figures 425-426): the queue decides where the report
     * goes. A ring the controller writes reports through {@code device}'s admin queue; a ring
     * whose controller-side consumer is the kernel (the Linux CDQ ioctl) frees slots of its
     * user-space copy instead, and the kernel never sees a second head.
     *
     * @param device the device this queue belongs to (or a wrapper of it)
     */
    default CompletableFuture<Completion> reportHead(NvmeDevice device, int head, boolean armTrigger, int tailPointerTrigger) {
        return device.submitAdmin(new CdqFeature.SetCdq(cdqid(), head, armTrigger, armTrigger ? tailPointerTrigger : 0).toSqe(), null);
    }

    /** The cursor saved by the last process that let go of this CDQ, or {@link Cursor#START}. */
    default Cursor cursor() {
        return Cursor.START;
    }

    /**
     * Leaves the CDQ alive after this process lets go of it (nvme-cli's create-cdq semantics:
     * a later command reads or deletes it by CDQID), saving the reader's cursor with it. Only
     * backends whose ring memory outlives the process (a served device) can do this.
     */
    default void detach(Cursor cursor) throws NvmeException {
        throw new NvmeException("this device cannot keep a CDQ alive after the command exits;"
                + " use 'nvme-lm lm cdq-watch' to create, read and delete a CDQ in one process");
    }

    /** Deletes the CDQ on the controller and releases its memory. */
    @Override
    void close() throws NvmeException;
}
