package dev.nvmelm.host.linux;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A CDQ created through the kernel's CDQ ioctl ({@link CdqSupport#RFC_V2} or
 * {@link CdqSupport#RFC_V1}). Both known uAPIs keep the controller-written ring in kernel memory
 * and return a descriptor from which read(2) yields whole 32-byte entries; the kernel reports
 * its head to the controller itself. So this queue keeps a {@link MirrorRing} in page-aligned
 * user memory, fills it from the descriptor, and {@link #ring()} is that mirror: the consumer
 * in {@code host.cdq} reads it in place with the same phase rules as a controller-written ring.
 *
 * <p>Head reports ({@link #reportHead}) are answered by this queue and never reach the
 * controller: the kernel is the controller's consumer, and a second head from user space would
 * move the controller's head backwards ({@link LinuxNvmeDevice} refuses a raw Set Features FID
 * 21h naming this queue). A report frees mirror slots, which is the back-pressure: while the mirror is full
 * nothing is read, the kernel ring fills, and the controller reports CDQ full (ESA 7) as it
 * would for a slow consumer of its own ring.
 *
 * <p>Notifications: with RFC_V2 a read that copies nothing makes the kernel arm the Tail Pointer
 * Trigger at (head + 1) mod N, and its AEN handler signals the eventfd passed at creation;
 * {@link #awaitNotification} reads until nothing is left, then polls that eventfd and reads its
 * counter. RFC v1 has no notification at all, so it re-reads with a short backoff (at most
 * {@link #V1_MAX_BACKOFF_MS} ms) until the timeout.
 */
public final class LinuxCdqQueue implements CdqQueue {
    static final int V1_MAX_BACKOFF_MS = 10;

    /** How the kernel deletes the CDQ when the queue closes (after the read descriptor is done with). */
    @FunctionalInterface
    interface KernelDelete {
        void delete() throws NvmeException;
    }

    private final String device;
    private final CdqSupport kernelInterface;
    private final int cdqid;
    private final boolean cdqidFromKernel;
    private final int cntlid;
    private final int entryCount;
    private final int readFd;
    private final EventFd tpt;
    private final KernelDelete kernelDelete;
    private final Runnable forget;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment ringView;
    private final MemorySegment staging;
    private final MirrorRing mirror;

    private final ReentrantLock pumpLock = new ReentrantLock();
    private final ReentrantLock stateLock = new ReentrantLock();
    private final Condition idle = stateLock.newCondition();
    private int waiters;
    private volatile boolean closed;
    private volatile long notifications;

    /**
     * @param readFd        cdq_fd (RFC_V2) or read_fd (RFC v1); owned by this queue from now on
     * @param tpt           the eventfd given to the kernel (RFC_V2), or null; owned by this queue
     * @param kernelDelete  run on close before readFd is closed (RFC_V2: the delete ioctl)
     * @param forget        run last on close (the device drops its reference)
     */
    LinuxCdqQueue(String device, CdqSupport kernelInterface, int cdqid, boolean cdqidFromKernel, int cntlid, int entryCount,
                  int readFd, EventFd tpt, KernelDelete kernelDelete, Runnable forget) {
        if (kernelInterface == CdqSupport.NONE) throw new IllegalArgumentException("no kernel CDQ interface");
        this.device = device;
        this.kernelInterface = kernelInterface;
        this.cdqid = cdqid;
        this.cdqidFromKernel = cdqidFromKernel;
        this.cntlid = cntlid;
        this.entryCount = entryCount;
        this.readFd = readFd;
        this.tpt = tpt;
        this.kernelDelete = kernelDelete;
        this.forget = forget;
        long bytes = (long) entryCount * MirrorRing.ENTRY_BYTES;
        MemorySegment ring = arena.allocate(bytes, LinuxNvmeDevice.PAGE_BYTES);   // zeroed: every phase tag 0
        this.ringView = ring.asReadOnly();
        this.staging = arena.allocate(bytes, LinuxNvmeDevice.PAGE_BYTES);
        this.mirror = new MirrorRing(ring, entryCount);
    }

    /**
     * The CDQID. From the kernel with RFC v1 (a controller CDQID). With RFC_V2 the uAPI does not
     * return it ({@link #cdqidFromKernel()} is false): this is then a handle this device allocates
     * from FFFFh downwards, recognized only in Set Features FID 21h head reports to this device.
     */
    @Override
    public int cdqid() {
        return cdqid;
    }

    /** True if {@link #cdqid()} is the controller's CDQID (RFC v1), false if it is a local handle (RFC_V2). */
    public boolean cdqidFromKernel() {
        return cdqidFromKernel;
    }

    /** True with RFC_V2: the kernel started logging (Track Send) when it created the CDQ and stops it on delete. */
    public boolean kernelStartsLogging() {
        return kernelInterface == CdqSupport.RFC_V2;
    }

    @Override
    public boolean loggingFollowsQueue() {
        return kernelStartsLogging();
    }

    public CdqSupport kernelInterface() {
        return kernelInterface;
    }

    @Override
    public int cntlid() {
        return cntlid;
    }

    @Override
    public int entryCount() {
        return entryCount;
    }

    @Override
    public MemorySegment ring() {
        return ringView;
    }

    /** Entries read from the kernel into the ring so far. */
    public long entriesRead() {
        return mirror.published();
    }

    /** eventfd signals received (RFC_V2). */
    public long notifications() {
        return notifications;
    }

    /**
     * Reads every entry the kernel has, as far as the mirror has room.
     *
     * @return entries added to the ring
     * @throws IllegalStateException (one clear line) if the kernel refuses the read
     */
    int pump() {
        pumpLock.lock();
        try {
            if (closed) return 0;
            int total = 0;
            while (true) {
                int free = mirror.freeSlots();
                if (free == 0) return total;
                long want = (long) Math.min(free, entryCount) * MirrorRing.ENTRY_BYTES;
                long n;
                try {
                    n = Libc.read(readFd, staging, want);
                } catch (LibcException e) {
                    if (e.errno() == Libc.EAGAIN) return total;
                    throw new IllegalStateException(readFailure(e));
                }
                if (n % MirrorRing.ENTRY_BYTES != 0) {
                    throw new IllegalStateException(device + ": the kernel's CDQ read returned " + n
                            + " bytes, not whole 32-byte entries; the CDQ cannot be trusted, delete it and start again");
                }
                if (n == 0) return total;
                mirror.publish(staging, (int) (n / MirrorRing.ENTRY_BYTES));
                total += (int) (n / MirrorRing.ENTRY_BYTES);
                if (n < want) return total;
            }
        } finally {
            pumpLock.unlock();
        }
    }

    private String readFailure(LibcException e) {
        if (e.errno() == Libc.ENOSPC) {
            return device + ": CDQ " + cdqid + " of CNTLID " + cntlid + " filled up and the kernel stopped reading it (ENOSPC);"
                    + " changes were lost: restart tracking and recopy, or mark the namespaces dirty";
        }
        if (e.errno() == Libc.EINVAL) {
            return device + ": the kernel no longer accepts reads of CDQ " + cdqid + " (EINVAL): it was deleted,"
                    + " or the controller was reset or removed; create a new CDQ";
        }
        return device + ": reading CDQ " + cdqid + " from the kernel failed: " + e.getMessage();
    }

    /**
     * Makes new entries visible in {@link #ring()}: reads what the kernel has and, if there is
     * nothing, waits for the Tail Pointer Trigger eventfd (RFC_V2) or re-reads with backoff (v1).
     *
     * @return true if entries were added or the trigger fired, false on timeout
     */
    @Override
    public boolean awaitNotification(Duration timeout) throws InterruptedException {
        if (!enter()) return false;
        try {
            if (pump() > 0) return true;
            long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
            if (tpt != null) {
                // The empty read just armed the trigger in the kernel; an entry written before the
                // arming Set Features took effect raises no event (NVMe Base 2.1, Figure 426; docs/cdq.md), which
                // the caller's bounded timeout covers.
                long signalled;
                try {
                    signalled = tpt.await(timeout);
                } catch (LibcException e) {
                    throw new IllegalStateException(device + ": waiting for the CDQ eventfd failed: " + e.getMessage());
                }
                if (closed) return false;
                if (signalled > 0) notifications++;
                return pump() > 0 || signalled > 0;
            }
            long backoffMs = 1;
            while (!closed) {
                long leftNs = deadline - System.nanoTime();
                if (leftNs <= 0) return false;
                TimeUnit.NANOSECONDS.sleep(Math.min(leftNs, backoffMs * 1_000_000));
                if (pump() > 0) return true;
                backoffMs = Math.min(backoffMs * 2, V1_MAX_BACKOFF_MS);
            }
            return false;
        } finally {
            leave();
        }
    }

    private boolean enter() {
        stateLock.lock();
        try {
            if (closed) return false;
            waiters++;
            return true;
        } finally {
            stateLock.unlock();
        }
    }

    private void leave() {
        stateLock.lock();
        try {
            if (--waiters == 0) idle.signalAll();
        } finally {
            stateLock.unlock();
        }
    }

    /**
     * Frees mirror slots up to {@code head}, with the checks a controller applies to Set Features
     * FID 21h (NVMe Base 2.1, Figure 426): a head in [0, N) within the occupied region, a TPT in
     * [0, N); anything else is Invalid Field in Command. The report never reaches the controller
     * (the kernel is its consumer), and arming needs no action: the kernel arms its own trigger on
     * an empty read (RFC_V2) or there is none (v1).
     */
    @Override
    public CompletableFuture<Completion> reportHead(NvmeDevice via, int head, boolean armTrigger, int tailPointerTrigger) {
        boolean badTrigger = armTrigger && Integer.compareUnsigned(tailPointerTrigger, entryCount) >= 0;
        boolean ok = !badTrigger && mirror.reportHead(head);
        return CompletableFuture.completedFuture(ok ? new Completion(0, 0, Status.SUCCESS) : failed(Status.dnr(StatusCodes.INVALID_FIELD)));
    }

    private static Completion failed(Status s) {
        return new Completion(0, 0, s);
    }

    /** Threads inside {@link #awaitNotification} now. */
    int waiters() {
        stateLock.lock();
        try {
            return waiters;
        } finally {
            stateLock.unlock();
        }
    }

    /** The head last reported by the consumer (slots before it may be overwritten). */
    int reportedHead() {
        return mirror.head();
    }

    /**
     * Deletes the CDQ: wakes and waits out a waiting consumer, has the kernel delete the CDQ
     * (RFC_V2: the delete ioctl, which stops logging first; v1: closing read_fd), then closes the
     * descriptors and frees the mirror.
     */
    @Override
    public void close() throws NvmeException {
        stateLock.lock();
        try {
            if (closed) return;
            closed = true;
        } finally {
            stateLock.unlock();
        }
        NvmeException failure = null;
        try {
            if (tpt != null) {
                try {
                    tpt.signal(1);   // wake a consumer in poll(2) now rather than after its slice
                } catch (LibcException ignored) {
                    // it wakes at the end of its slice anyway
                }
            }
            stateLock.lock();
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (waiters > 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) throw new NvmeException(device + ": CDQ " + cdqid + " is still being waited on after 5 s; not closing it under the waiter");
                    idle.awaitNanos(left);
                }
            } finally {
                stateLock.unlock();
            }
            try {
                kernelDelete.delete();
            } catch (NvmeException e) {
                failure = e;
            }
            pumpLock.lock();
            try {
                Libc.closeQuietly(readFd);
            } finally {
                pumpLock.unlock();
            }
            if (tpt != null) tpt.close();
            arena.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failure = new NvmeException(device + ": interrupted while closing CDQ " + cdqid + "; it may still exist in the kernel");
        } catch (NvmeException e) {
            failure = e;
        } finally {
            forget.run();
        }
        if (failure != null) throw failure;
    }

    @Override
    public String toString() {
        return "CDQ " + (cdqidFromKernel ? String.valueOf(cdqid) : "handle 0x" + Integer.toHexString(cdqid))
                + " of CNTLID " + cntlid + " (" + entryCount + " entries, " + kernelInterface + ")";
    }
}
