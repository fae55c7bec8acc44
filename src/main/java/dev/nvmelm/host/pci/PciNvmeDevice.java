package dev.nvmelm.host.pci;

import dev.nvmelm.host.AsyncEventInfo;
import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.NvmeStatusException;
import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.AsyncEvent;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.ControllerState;
import dev.nvmelm.spec.IoCqState;
import dev.nvmelm.spec.IoSqState;
import dev.nvmelm.spec.DataDirection;
import dev.nvmelm.spec.Prp;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.bus.ControllerBar;
import dev.nvmelm.spec.bus.Registers;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The in-process backend of {@link NvmeDevice}: a small queue driver (the role of Linux's
 * nvme-pci) for any controller reachable as a {@link ControllerBar}. It enables the controller,
 * creates an admin queue and I/O queue pairs in {@link HostMemory}, builds PRPs (zero-copy for
 * buffers from {@link #allocateBuffer}, bounce buffers otherwise), keeps Asynchronous Event
 * Requests outstanding and routes CDQ events to the matching {@link CdqQueue}.
 */
public final class PciNvmeDevice implements NvmeDevice {
    public record Options(String name, int ioQueues, int queueDepth, Duration timeout, int outstandingAers) {
        public static Options defaults(String name) {
            return new Options(name, 2, 256, Duration.ofSeconds(30), 4);
        }
    }

    private static final int ADMIN_DEPTH = 64;
    private volatile ControllerBar bar;
    private final List<QueuePair> byVector = new CopyOnWriteArrayList<>();
    private final HostMemory mem;
    private final Options options;
    private final QueuePair admin;
    private final List<QueuePair> io = new ArrayList<>();
    private final AtomicInteger nextIo = new AtomicInteger();
    private final Map<Integer, PciCdqQueue> cdqs = new ConcurrentHashMap<>();
    private final List<Consumer<AsyncEventInfo>> listeners = new CopyOnWriteArrayList<>();
    private final List<BiConsumer<Integer, AsyncEvent>> cdqListeners = new CopyOnWriteArrayList<>();
    private final List<MemorySegment> buffers = new CopyOnWriteArrayList<>();
    private final IoGate gate = new IoGate();
    private volatile boolean closed;

    public PciNvmeDevice(ControllerBar bar, HostMemory mem, Options options) throws NvmeException {
        this.bar = bar;
        this.mem = mem;
        this.options = options;
        long cap = bar.read64(Registers.CAP);
        int dstrd = Registers.capDstrd(cap);
        int maxDepth = Registers.capMqes(cap) + 1;
        bar.write32(Registers.CC, 0);
        waitReady(false, cap);
        admin = new QueuePair(0, ADMIN_DEPTH, mem, bar, dstrd);
        byVector.add(admin);
        enableAdmin(bar, cap);
        int depth = Math.min(options.queueDepth(), maxDepth);
        for (int q = 1; q <= options.ioQueues(); q++) {
            QueuePair p = new QueuePair(q, depth, mem, bar, dstrd);
            byVector.add(p);
            adminOk(new AdminCommands.CreateIoCq(q, depth - 1, true, true, q, p.cqIova).toSqe(), "Create I/O CQ " + q);
            adminOk(new AdminCommands.CreateIoSq(q, depth - 1, true, 0, q, p.sqIova).toSqe(), "Create I/O SQ " + q);
            io.add(p);
        }
        for (int i = 0; i < options.outstandingAers(); i++) postAer();
    }

    /**
     * A driver for a controller that received a migrated controller state (Set Controller State)
     * and is not yet resumed: it adopts the I/O queues the state names where they are, in
     * {@code mem} at the state's PRP1 addresses (mapped there by the caller before the state was
     * loaded, as a VMM recreates guest memory), continuing at each SQ's tail and CQ's head and
     * phase. Completions the controller had posted but the old host had not reaped belong to
     * that host, so the CQ heads start at the tails. The admin queue is not part of the NVMe
     * controller state and is created afresh. Commands submitted before the controller's Resume
     * wait in its queues. Refused (nothing left enabled): a submission queue with commands
     * waiting (their SQEs are in memory that did not come along), queues this driver cannot pair
     * (SQ n completing to CQ n, interrupts enabled), rings outside {@code mem}, a controller
     * already enabled.
     */
    public static PciNvmeDevice adopt(ControllerBar bar, HostMemory mem, ControllerState loaded, Options options) throws NvmeException {
        java.util.Map<Integer, IoCqState> cqs = new java.util.HashMap<>();
        for (IoCqState cq : loaded.cqs()) cqs.put(cq.qid(), cq);
        for (IoSqState sq : loaded.sqs()) {
            IoCqState cq = cqs.get(sq.cqid());
            String why = sq.head() != sq.tail() ? "has commands waiting (head " + sq.head() + ", tail " + sq.tail() + ")"
                    : sq.cqid() != sq.qid() ? "completes to CQ " + sq.cqid() + ": only SQ n on CQ n is adopted"
                    : cq == null ? "names CQ " + sq.cqid() + ", which the state does not hold"
                    : !cq.interruptsEnabled() ? "completes to a polled CQ (interrupts disabled)"
                    : !sq.physicallyContiguous() || !cq.physicallyContiguous() ? "is not physically contiguous" : null;
            if (why != null) throw new NvmeException(options.name() + ": cannot adopt SQ " + sq.qid() + ": it " + why);
        }
        if (loaded.cqs().size() != loaded.sqs().size()) throw new NvmeException(options.name() + ": cannot adopt a CQ that no SQ completes to");
        if ((bar.read32(Registers.CSTS) & Registers.CSTS_RDY) != 0 || (bar.read32(Registers.CC) & Registers.CC_EN) != 0) {
            throw new NvmeException(options.name() + ": the controller is already enabled by another host: its queues are not adopted");
        }
        return new PciNvmeDevice(bar, mem, options, loaded, cqs);
    }

    private PciNvmeDevice(ControllerBar bar, HostMemory mem, Options options, ControllerState loaded, java.util.Map<Integer, IoCqState> cqs) throws NvmeException {
        this.bar = bar;
        this.mem = mem;
        this.options = options;
        long cap = bar.read64(Registers.CAP);
        int dstrd = Registers.capDstrd(cap);
        admin = new QueuePair(0, ADMIN_DEPTH, mem, bar, dstrd);
        byVector.add(admin);
        try {
            for (IoSqState sq : loaded.sqs().stream().sorted(java.util.Comparator.comparingInt(IoSqState::qid)).toList()) {
                IoCqState cq = cqs.get(sq.cqid());
                MemorySegment sqRing, cqRing;
                try {
                    sqRing = mem.resolve(sq.prp1(), (sq.qsizeZeroBased() + 1L) * Sqe.SIZE);
                    cqRing = mem.resolve(cq.prp1(), (cq.qsizeZeroBased() + 1L) * Cqe.SIZE);
                } catch (dev.nvmelm.spec.bus.DmaFault e) {
                    throw new NvmeException(options.name() + ": the rings of queue " + sq.qid() + " are not in host memory: " + e.getMessage(), e);
                }
                QueuePair p = new QueuePair(sq.qid(), sq.qsizeZeroBased() + 1, cq.qsizeZeroBased() + 1, cq.interruptVector(), sqRing, cqRing, mem, bar,
                        dstrd, sq.tail(), cq.tail(), cq.producerPhase());
                p.markConsumed();
                byVector.add(p);
                io.add(p);
            }
            enableAdmin(bar, cap);
        } catch (NvmeException | RuntimeException e) {
            bar.write32(Registers.CC, 0);
            admin.close();
            io.forEach(QueuePair::close);
            mem.free(admin.sqRing);
            mem.free(admin.cqRing);
            throw e;
        }
        for (QueuePair p : io) p.ringCqHead();
        for (int i = 0; i < options.outstandingAers(); i++) postAer();
    }

    private void enableAdmin(ControllerBar b, long cap) throws NvmeException {
        b.connectInterrupts(v -> {
            for (QueuePair p : byVector) if (p.vector == v) p.interrupt();   // adopted queues may share a vector
        });
        b.write32(Registers.AQA, (ADMIN_DEPTH - 1) | (ADMIN_DEPTH - 1) << 16);
        b.write64(Registers.ASQ, admin.sqIova);
        b.write64(Registers.ACQ, admin.cqIova);
        b.write32(Registers.CC, Registers.CC_EN | 6 << 16 | 4 << 20);   // IOSQES 64 B, IOCQES 16 B, MPS 4 KiB
        waitReady(true, cap);
    }

    /**
     * Switchover, in the VMM's role: the guest's controller is now {@code target}, which received
     * this controller's I/O queue state (Set Controller State) and is not yet resumed. The I/O
     * queues continue as they are, their doorbells and interrupts now on the target; the admin
     * queue is not part of the NVMe controller state, so it starts afresh on the target, and the
     * Asynchronous Event Requests left on the source are posted again.
     */
    public void moveTo(ControllerBar target) throws NvmeException {
        long cap = target.read64(Registers.CAP);
        this.bar = target;
        for (QueuePair q : io) q.rebind(target);
        admin.restart(target, new Cqe(0, 0, 0, 0, 0, false, Status.dnr(StatusCodes.ABORT_SQ_DELETED)));
        enableAdmin(target, cap);
        for (int i = 0; i < options.outstandingAers(); i++) postAer();
    }

    private void waitReady(boolean ready, long cap) throws NvmeException {
        long deadline = System.nanoTime() + Math.max(1000, Registers.capTimeoutMs(cap)) * 1_000_000L;
        while (true) {
            int csts = bar.read32(Registers.CSTS);
            if ((csts & Registers.CSTS_CFS) != 0) throw new NvmeException(options.name() + ": controller fatal status while " + (ready ? "enabling" : "disabling"));
            if (((csts & Registers.CSTS_RDY) != 0) == ready) return;
            if (System.nanoTime() > deadline) throw new NvmeException(options.name() + ": controller did not become " + (ready ? "ready" : "disabled") + " in time");
            // A software controller is ready within tens of microseconds; a 1 ms sleep per look
            // made the switchover's admin-queue restart (the handover, inside the downtime) 1.2 ms.
            java.util.concurrent.locks.LockSupport.parkNanos(20_000);
            if (Thread.interrupted()) {
                Thread.currentThread().interrupt();
                throw new NvmeException(options.name() + ": interrupted while waiting for the controller");
            }
        }
    }

    private void adminOk(Sqe sqe, String what) throws NvmeException {
        admin(sqe, null).orThrow(options.name() + ": " + what);
    }

    @Override
    public String name() {
        return options.name();
    }

    @Override
    public Duration timeout() {
        return options.timeout();
    }

    @Override
    public CompletableFuture<Completion> submitAdmin(Sqe sqe, MemorySegment data) {
        return submit(admin, sqe, data);
    }

    @Override
    public CompletableFuture<Completion> submitIo(Sqe sqe, MemorySegment data) {
        if (io.isEmpty()) return QueuePair.failed(new NvmeException(name() + ": no I/O queues"));
        CompletableFuture<Completion> gated = gate.admit(sqe, data);
        return gated != null ? gated : dispatchIo(sqe, data);
    }

    /** An I/O command the gate admitted (and counts until it completes). */
    private CompletableFuture<Completion> dispatchIo(Sqe sqe, MemorySegment data) {
        return submit(io.get(Math.floorMod(nextIo.getAndIncrement(), io.size())), sqe, data).whenComplete((c, t) -> gate.completed());
    }

    /**
     * Quiesces the guest before its controller is suspended for a move to another host (the
     * VMM's part, see {@link IoGate}): new I/O commands are held, and this returns once every
     * I/O command already submitted has completed. If some are still outstanding after
     * {@code timeout}, the held commands are submitted again and the quiesce fails.
     */
    public void quiesceIo(Duration timeout) throws NvmeException {
        int stuck = gate.quiesce(timeout, name());
        if (stuck == 0) return;
        releaseIo();
        throw new NvmeException(name() + ": " + stuck + " I/O commands still outstanding after " + timeout.toMillis()
                + " ms; quiesce abandoned, the held commands are submitted");
    }

    /** Ends a quiesce: the held commands go to the controller in the order they came. */
    public void releaseIo() {
        for (IoGate.Held h : gate.open()) {
            submit(io.get(Math.floorMod(nextIo.getAndIncrement(), io.size())), h.sqe(), h.data()).whenComplete((c, t) -> {
                gate.completed();
                if (t != null) h.result().completeExceptionally(t);
                else h.result().complete(c);
            });
        }
    }

    /**
     * The guest now runs elsewhere ({@code where}, for messages): held and later I/O commands
     * complete with Command Aborted due to SQ Deletion (DNR), except a Flush, which succeeds
     * (everything acknowledged is durable at the destination; {@link IoGate}); admin commands fail with
     * {@code where}. Call it on a quiesced driver, before the controller is reset.
     */
    public void detachIo(String where) {
        for (IoGate.Held h : gate.detach(where)) h.result().complete(IoGate.afterDetach(h.sqe()));
    }

    /** Where the guest went if {@link #detachIo} detached this driver, else null. */
    public String detachedTo() {
        return gate.detachedTo();
    }

    /** I/O commands waiting in the gate (for tests and logs). */
    public int heldIo() {
        return gate.heldCount();
    }

    private CompletableFuture<Completion> submit(QueuePair q, Sqe sqe, MemorySegment data) {
        String away = gate.detachedTo();
        if (away != null) return QueuePair.failed(new NvmeException(name() + ": " + away));
        if (closed) return QueuePair.failed(new NvmeException(name() + ": device is closed"));
        CompletableFuture<Completion> f = new CompletableFuture<>();
        List<MemorySegment> owned = new ArrayList<>();
        try {
            Sqe cmd = sqe;
            MemorySegment dma = null;
            if (data != null && data.byteSize() > 0) {
                long iova = mem.iovaOf(data);
                if (iova < 0) {   // not DMA memory: bounce it
                    dma = mem.allocate(data.byteSize());
                    owned.add(dma);
                    if (toController(sqe.opcode())) MemorySegment.copy(data, 0, dma, 0, data.byteSize());
                    iova = mem.iovaOf(dma);
                }
                Prp.Pointers p = Prp.build(iova, data.byteSize(), HostMemory.PAGE, mem, () -> {
                    MemorySegment page = mem.allocate(HostMemory.PAGE);
                    owned.add(page);
                    return mem.iovaOf(page);
                });
                cmd = cmd.withPrp(p.prp1(), p.prp2());
            }
            MemorySegment bounce = dma;
            q.submit(cmd, cqe -> {
                if (bounce != null && cqe.status().isSuccess() && !toController(sqe.opcode())) {
                    MemorySegment.copy(bounce, 0, data, 0, data.byteSize());
                }
                for (MemorySegment m : owned) mem.free(m);
                f.complete(QueuePair.toCompletion(cqe));
            });
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            for (MemorySegment m : owned) mem.free(m);
            f.completeExceptionally(new NvmeException(name() + ": interrupted"));
        } catch (RuntimeException e) {
            for (MemorySegment m : owned) mem.free(m);
            f.completeExceptionally(new NvmeException(name() + ": " + e.getMessage(), e));
        }
        return f;
    }

    /** Write-direction data (opcode bit 0); admin commands without a direction bit send nothing. */
    private static boolean toController(int opcode) {
        return DataDirection.ofOpcodeByte(opcode) == DataDirection.HOST_TO_CONTROLLER;
    }

    private void postAer() {
        if (closed) return;
        submit(admin, AdminCommands.asyncEventRequest(), null).whenComplete((c, t) -> {
            if (t != null || closed || !c.ok()) return;   // an AER error ends this slot
            AsyncEvent e = AsyncEvent.decode(c.dw0(), c.dw1());
            PciCdqQueue q = e.isCdqEvent() ? cdqs.get(e.cdqid()) : null;
            if (q != null) q.notifyEvent(e);
            if (e.isCdqEvent()) cdqListeners.forEach(l -> l.accept(e.cdqid(), e));
            if (q == null) listeners.forEach(l -> l.accept(AsyncEventInfo.fromCompletion(c.dw0(), c.dw1())));
            postAer();
        });
    }

    @Override
    public MemorySegment allocateBuffer(long sizeBytes) {
        MemorySegment m = mem.allocate(sizeBytes);
        buffers.add(m);
        return m;
    }

    @Override
    public void freeBuffer(MemorySegment buffer) {
        for (MemorySegment b : buffers) {
            if (b.address() == buffer.address()) {
                if (buffers.remove(b)) mem.free(b);
                return;
            }
        }
    }

    @Override
    public CdqQueue createCdq(int cntlid, long sizeBytes) throws NvmeException {
        return createCdq(cntlid, sizeBytes, true);
    }

    /**
     * Creates a CDQ in host memory: one contiguous ring (PC=1), or 4 KiB pages described by a
     * PRP list (PC=0, NVMe Base 2.1, Figure 162: every entry with offset 0h). The ring is
     * zeroed first: the host initializes every phase tag to 0 before creating the CDQ (NVMe Base
     * 2.2, section 8.1.6.2).
     */
    public CdqQueue createCdq(int cntlid, long sizeBytes, boolean contiguous) throws NvmeException {
        // NVMe Base 2.1, Figure 164: a whole number of 32-byte entries; one slot stays free, so two at least
        if (sizeBytes < 64 || sizeBytes % 4 != 0 || !ControllerDataQueueCommand.Create.wholeUdmqEntries(sizeBytes / 4)) {
            throw new NvmeException(name() + ": CDQ size " + sizeBytes + " bytes is not a whole number of 32-byte entries, at least 2");
        }
        List<MemorySegment> owned = new ArrayList<>();
        MemorySegment ring;
        long prp1;
        if (contiguous) {
            ring = mem.allocate(sizeBytes);
            owned.add(ring);
            prp1 = mem.iovaOf(ring);
        } else {
            // A virtually contiguous ring described page by page, as a user-space ring is to a device
            ring = mem.allocate(sizeBytes);
            owned.add(ring);
            long base = mem.iovaOf(ring);
            long[] addrs = new long[(int) ((sizeBytes + HostMemory.PAGE - 1) / HostMemory.PAGE)];
            for (int i = 0; i < addrs.length; i++) addrs[i] = base + (long) i * HostMemory.PAGE;
            prp1 = Prp.buildList(addrs, HostMemory.PAGE, mem, () -> {
                MemorySegment p = mem.allocate(HostMemory.PAGE);
                owned.add(p);
                return mem.iovaOf(p);
            });
        }
        Completion c;
        try {
            c = admin(new ControllerDataQueueCommand.Create(ControllerDataQueueCommand.QT_USER_DATA_MIGRATION, contiguous,
                    cntlid, sizeBytes / 4, prp1).toSqe(), null);
        } catch (NvmeException e) {
            owned.forEach(mem::free);
            throw e;
        }
        if (!c.ok()) {
            owned.forEach(mem::free);
            throw new NvmeStatusException(name() + ": Create CDQ for CNTLID " + cntlid, c.status());
        }
        PciCdqQueue q = new PciCdqQueue(this, c.dw0() & 0xffff, cntlid, (int) (sizeBytes / 32), ring, owned, mem);
        cdqs.put(q.cdqid(), q);
        return q;
    }

    void forget(PciCdqQueue q) {
        cdqs.remove(q.cdqid());
    }

    @Override
    public void onAsyncEvent(Consumer<AsyncEventInfo> listener) {
        listeners.add(listener);
    }

    /** Every CDQ event (Tail Pointer Trigger, CDQ Full) by CDQID, for a server that forwards them. */
    public void onCdqEvent(BiConsumer<Integer, AsyncEvent> listener) {
        cdqListeners.add(listener);
    }

    /** Disables the controller (which deletes its queues and, on an MMC, its CDQs) and frees memory. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        bar.write32(Registers.CC, 0);
        admin.close();
        io.forEach(QueuePair::close);
        for (MemorySegment b : buffers) mem.free(b);
    }

    /** Host memory this driver allocates from (for tests and the embedded VMM role). */
    public HostMemory memory() {
        return mem;
    }

}
