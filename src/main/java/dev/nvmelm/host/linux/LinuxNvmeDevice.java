package dev.nvmelm.host.linux;

import dev.nvmelm.host.AsyncEventInfo;
import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.NvmeStatusException;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.AdminOpcode;
import dev.nvmelm.spec.DataDirection;
import dev.nvmelm.spec.IoOpcode;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The Linux backend of {@link NvmeDevice}: an NVMe controller ({@code /dev/nvmeX}) or namespace
 * node ({@code /dev/nvmeXnY} block device, {@code /dev/ngXnY} generic character device) driven
 * through the kernel's passthrough ioctls with FFM (Linux include/uapi/linux/nvme_ioctl.h;
 * docs/linux-backend.md).
 *
 * <ul>
 *   <li>Admin commands go through NVME_IOCTL_ADMIN64_CMD, or NVME_IOCTL_ADMIN_CMD on a kernel
 *       that answers ENOTTY to the 64-bit one; I/O through NVME_IOCTL_IO64_CMD, falling back to
 *       NVME_IOCTL_IO_CMD (the only I/O ioctl a controller node has, for a single namespace).</li>
 *   <li>The ioctl return value is the status: 0 success, &gt; 0 the 15-bit NVMe status field
 *       (nvme_req(req)-&gt;status), -1 with errno a kernel error, mapped to one clear
 *       {@link NvmeException} line. {@code result} is CQE DW0 | DW1 &lt;&lt; 32 (64-bit ioctls) or DW0.</li>
 *   <li>Each command blocks a platform thread from a small pool (a blocking downcall would pin a
 *       virtual thread's carrier), so the {@link CompletableFuture} API holds. The kernel enforces
 *       the device timeout through the struct's {@code timeout_ms}.</li>
 *   <li>The kernel builds PRPs from the user buffer and owns command identifiers, so the SQE's
 *       PRP, metadata pointer, CID and PSDT are ignored; fused commands are refused.</li>
 *   <li>CDQs go through the kernel's CDQ ioctl when {@link #cdqSupport()} finds one; see
 *       {@link LinuxCdqQueue}. Without it the device works in passthrough-only mode.</li>
 *   <li>Asynchronous events are consumed by the kernel's own AER slots; none reach user space,
 *       so {@link #onAsyncEvent} listeners are never called.</li>
 * </ul>
 */
public final class LinuxNvmeDevice implements NvmeDevice {
    public static final int PAGE_BYTES = 4096;
    static final int DEFAULT_THREADS = 16;
    /** CNTLIDs FFF0h..FFFFh are reserved (NVMe Base 2.1, Controller ID), so a controller's CNTLID is at most FFEFh. */
    static final int MAX_CNTLID = 0xffef;
    /** Kernel CDQ sizes are u32 bytes; the mirror and its read buffer also live in this process. */
    static final long MAX_CDQ_BYTES = 1L << 30;

    /** What kind of node was opened. */
    public enum NodeKind {
        /** /dev/nvmeX: admin commands; I/O only through the deprecated single-namespace path. */
        CONTROLLER,
        /** /dev/nvmeXnY: a namespace block device. */
        NAMESPACE_BLOCK,
        /** /dev/ngXnY: the generic namespace character device (exists even for unsupported formats). */
        NAMESPACE_GENERIC
    }

    private final String path;
    private final int fd;
    private final NodeKind kind;
    private final int nsid;
    private final Duration timeout;
    private final long timeoutMs;
    private final ThreadPoolExecutor ioctls;
    private final Arena buffers = Arena.ofShared();
    private volatile boolean adminWide;
    private volatile boolean ioWide = true;
    private volatile CdqSupport cdqSupport;
    private final Map<Integer, LinuxCdqQueue> cdqs = new ConcurrentHashMap<>();
    private final AtomicInteger nextHandle = new AtomicInteger(0xffff);
    private volatile boolean closed;

    LinuxNvmeDevice(String path, int fd, NodeKind kind, int nsid, boolean adminWide, Duration timeout, int threads) {
        this.path = path;
        this.fd = fd;
        this.kind = kind;
        this.nsid = nsid;
        this.adminWide = adminWide;
        this.timeout = timeout;
        this.timeoutMs = timeout.toMillis();
        AtomicInteger n = new AtomicInteger();
        String base = "nvme-ioctl-" + path.substring(path.lastIndexOf('/') + 1) + "-";
        this.ioctls = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                r -> Thread.ofPlatform().name(base + n.incrementAndGet()).daemon().unstarted(r));
        this.ioctls.allowCoreThreadTimeOut(true);
    }

    /**
     * Opens an NVMe controller or namespace node. Every failure is one line naming the device and
     * what to do: a missing path, a path that is not a character or block device, a permission
     * problem, or a device that does not answer the NVMe passthrough ioctl.
     *
     * @param timeout how long the kernel lets each command run ({@code timeout_ms}), and the
     *                default wait of {@link #admin} and {@link #io}
     */
    public static LinuxNvmeDevice open(String path, Duration timeout) throws NvmeException {
        return open(path, timeout, Path.of("/sys"));
    }

    /**
     * {@link #open(String, Duration)} with the sysfs root given: where it does not exist (some
     * containers), the node is classified by the ioctl probes alone.
     */
    static LinuxNvmeDevice open(String path, Duration timeout, Path sysfs) throws NvmeException {
        return NodeOpener.open(path, timeout, sysfs);
    }

    @Override
    public String name() {
        return path;
    }

    @Override
    public Duration timeout() {
        return timeout;
    }

    public NodeKind kind() {
        return kind;
    }

    /** The NSID of a namespace node, 0 for the controller node. */
    public int namespaceId() {
        return nsid;
    }

    /** The admin ioctl in use: NVME_IOCTL_ADMIN64_CMD, or NVME_IOCTL_ADMIN_CMD on an older kernel. */
    public String adminIoctl() {
        return NvmeIoctl.name(adminWide ? NvmeIoctl.NVME_IOCTL_ADMIN64_CMD : NvmeIoctl.NVME_IOCTL_ADMIN_CMD);
    }

    /**
     * Which CDQ ioctl the kernel offers on this node (probed once, without side effects; see
     * {@link CdqIoctl}).
     */
    public CdqSupport cdqSupport() {
        CdqSupport s = cdqSupport;
        if (s == null) cdqSupport = s = CdqIoctl.probe(fd);
        return s;
    }

    /** The one line a caller prints when {@link #cdqSupport()} is {@link CdqSupport#NONE}. */
    public String noCdqMessage() {
        return path + ": this kernel does not offer the CDQ ioctl (RFC not applied; NVME_IOCTL_CDQ and NVME_IOCTL_ADMIN_CDQ:"
                + " ENOTTY); passthrough-only mode: Track Send, Migration Send/Receive, Identify and Features still work"
                + (kind == NodeKind.CONTROLLER ? "" : "; the RFC may offer it on the controller node /dev/nvmeX only");
    }

    @Override
    public CompletableFuture<Completion> submitAdmin(Sqe sqe, MemorySegment data) {
        CompletableFuture<Completion> local = cdqCommand(sqe);
        return local != null ? local : submit(true, sqe, data);
    }

    @Override
    public CompletableFuture<Completion> submitIo(Sqe sqe, MemorySegment data) {
        if (kind != NodeKind.CONTROLLER && sqe.nsid() != nsid) {
            return CompletableFuture.failedFuture(new NvmeException(path + ": I/O command for NSID " + Integer.toUnsignedString(sqe.nsid())
                    + " on the node of namespace " + nsid + "; the kernel sends I/O only to the node's own namespace: open that namespace's node"));
        }
        return submit(false, sqe, data);
    }

    /**
     * Commands naming a CDQ created through the kernel's CDQ ioctl that would contradict the
     * kernel's ownership (it is the controller's consumer: head reports go to the queue, see
     * {@link LinuxCdqQueue#reportHead}) are refused with a clear message. Null: an ordinary command.
     */
    private CompletableFuture<Completion> cdqCommand(Sqe sqe) {
        if (cdqs.isEmpty()) return null;
        AdminOpcode op = AdminOpcode.of(sqe.opcode()).orElse(null);
        boolean fid21 = (sqe.cdw10() & 0xff) == CdqFeature.FID;
        LinuxCdqQueue q = cdqs.get(sqe.cdw11() & 0xffff);
        if (q == null) return null;
        if (op == AdminOpcode.SET_FEATURES && fid21) {
            return CompletableFuture.failedFuture(new NvmeException(path + ": " + q + " belongs to the kernel's CDQ ioctl, which"
                    + " reports the controller's head itself; report this process's head through the queue (CdqQueue.reportHead)"));
        }
        if (op == AdminOpcode.GET_FEATURES && fid21 && !q.cdqidFromKernel()) {
            return CompletableFuture.failedFuture(new NvmeException(path + ": " + q + " was created by the kernel's "
                    + q.kernelInterface().ioctl() + ", which does not return its CDQID; the kernel reports its head itself"));
        }
        if (op == AdminOpcode.TRACK_SEND && (sqe.cdw10() & 0xff) == 0 && !q.cdqidFromKernel()) {
            return CompletableFuture.failedFuture(new NvmeException(path + ": " + q + " was created by the kernel's "
                    + q.kernelInterface().ioctl() + ", which starts logging when it creates the CDQ and stops it when the CDQ"
                    + " is deleted; Track Send for it is not available (close the queue to stop logging)"));
        }
        if (op == AdminOpcode.CONTROLLER_DATA_QUEUE && (sqe.cdw10() & 0xff) == ControllerDataQueueCommand.SEL_DELETE) {
            return CompletableFuture.failedFuture(new NvmeException(path + ": " + q + " belongs to the kernel's CDQ ioctl;"
                    + " delete it by closing the queue, not with Delete CDQ"));
        }
        return null;
    }

    private CompletableFuture<Completion> submit(boolean admin, Sqe sqe, MemorySegment data) {
        if (closed) return CompletableFuture.failedFuture(new NvmeException(path + ": device is closed"));
        if ((sqe.flags() & 3) != 0) {
            return CompletableFuture.failedFuture(new NvmeException(path + ": " + describe(admin, sqe)
                    + " is fused; Linux passthrough cannot send fused commands"));
        }
        long len = data == null ? 0 : data.byteSize();
        if (len > 0 && !data.scope().isAlive()) {
            return CompletableFuture.failedFuture(new NvmeException(path + ": the data buffer of " + describe(admin, sqe)
                    + " was already freed (its arena is closed)"));
        }
        if (len > 0 && DataDirection.ofOpcodeByte(sqe.opcode()) == DataDirection.BIDIRECTIONAL) {
            return CompletableFuture.failedFuture(new NvmeException(path + ": " + describe(admin, sqe)
                    + " is bidirectional (opcode bits 1:0 = 11b); Linux passthrough transfers data one way only"));
        }
        if (len > 0xffff_ffffL) {
            return CompletableFuture.failedFuture(new NvmeException(path + ": " + describe(admin, sqe) + " with "
                    + len + " bytes of data; passthrough data_len is 32 bits"));
        }
        CompletableFuture<Completion> f = new CompletableFuture<>();
        try {
            ioctls.execute(() -> {
                if (f.isDone()) return;   // cancelled while queued
                if (closed) {             // queued when close() began: the descriptor may be gone by now
                    f.completeExceptionally(new NvmeException(path + ": device is closed"));
                    return;
                }
                try {
                    f.complete(execute(admin, sqe, data));
                } catch (NvmeException e) {
                    f.completeExceptionally(e);
                } catch (RuntimeException e) {
                    f.completeExceptionally(new NvmeException(path + ": " + describe(admin, sqe) + ": " + e.getMessage(), e));
                }
            });
        } catch (RejectedExecutionException e) {
            f.completeExceptionally(new NvmeException(path + ": device is closed"));
        }
        return f;
    }

    /** One passthrough ioctl on the calling (platform) thread. */
    private Completion execute(boolean admin, Sqe sqe, MemorySegment data) throws NvmeException {
        boolean toController = DataDirection.ofOpcodeByte(sqe.opcode()) == DataDirection.HOST_TO_CONTROLLER;
        long len = data == null ? 0 : data.byteSize();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment buf = data;
            boolean bounce = len > 0 && !data.isNative();
            if (bounce) {   // heap memory has no stable address: copy through native memory
                buf = call.allocate(len, PAGE_BYTES);
                if (toController) MemorySegment.copy(data, 0, buf, 0, len);
            }
            long addr = len > 0 ? buf.address() : 0;
            MemorySegment cmd = call.allocate(NvmeIoctl.PASSTHRU_CMD64);
            while (true) {
                boolean wide = admin ? adminWide : ioWide;
                long request = admin ? (wide ? NvmeIoctl.NVME_IOCTL_ADMIN64_CMD : NvmeIoctl.NVME_IOCTL_ADMIN_CMD)
                        : (wide ? NvmeIoctl.NVME_IOCTL_IO64_CMD : NvmeIoctl.NVME_IOCTL_IO_CMD);
                NvmeIoctl.encode(cmd, wide, sqe, addr, len, timeoutMs);
                int rc;
                try {
                    rc = Libc.ioctl(fd, request, cmd, NvmeIoctl.name(request));
                } catch (LibcException e) {
                    if (e.errno() == Libc.ENOTTY && wide) {   // an older kernel, or I/O on the controller node
                        if (admin) adminWide = false;
                        else ioWide = false;
                        continue;
                    }
                    throw commandFailure(admin, sqe, len, e);
                }
                if (rc > 0x7fff) {
                    throw new NvmeException(path + ": " + describe(admin, sqe) + ": the kernel returned " + rc
                            + ", which is not a 15-bit NVMe status field");
                }
                Status status = rc == 0 ? Status.SUCCESS : Status.fromField(rc);
                long result = NvmeIoctl.result(cmd, wide);
                if (bounce && status.isSuccess() && !toController) MemorySegment.copy(buf, 0, data, 0, len);
                return new Completion((int) result, (int) (result >>> 32), status);
            }
        }
    }

    private NvmeException commandFailure(boolean admin, Sqe sqe, long len, LibcException e) {
        String what = describe(admin, sqe);
        String errno = e.errnoName();
        return switch (e.errno()) {
            case Libc.ENOTTY -> new NvmeException(path + ": is not an NVMe device, or its driver does not support NVMe passthrough ("
                    + e.call() + ": ENOTTY)" + (!admin && kind == NodeKind.CONTROLLER
                    ? "; the controller node takes I/O only when it has exactly one namespace: open the namespace node /dev/nvmeXnY or /dev/ngXnY"
                    : ""));
            case Libc.EACCES, Libc.EPERM -> new NvmeException(path + ": " + what + " needs root or CAP_SYS_ADMIN (" + errno
                    + "); run nvme-lm as root");
            case Libc.EINTR, Libc.ETIMEDOUT -> new NvmeException(path + ": " + what + " timed out after " + timeoutMs
                    + " ms; the kernel cancelled it (" + errno + ") and may have reset the controller: check 'dmesg',"
                    + " then retry, with a longer --timeout if the command is slow");
            case Libc.EINVAL -> new NvmeException(path + ": the kernel refused " + what + " (EINVAL): "
                    + (kind == NodeKind.CONTROLLER || admin ? "" : "the NSID must be " + nsid + " on this node, ")
                    + "the " + len + "-byte transfer must fit the controller's limit, and metadata is not supported");
            case Libc.EFAULT -> new NvmeException(path + ": the kernel could not reach the " + len + "-byte data buffer of " + what + " (EFAULT)");
            case Libc.ENOMEM -> new NvmeException(path + ": the kernel could not map the " + len + "-byte data buffer of " + what
                    + " (ENOMEM); use a smaller transfer");
            case Libc.ENODEV, Libc.ENXIO, Libc.EIO -> new NvmeException(path + ": " + what + " failed: the controller is gone,"
                    + " disabled or resetting (" + errno + "); check 'nvme list' and 'dmesg'");
            default -> new NvmeException(path + ": " + what + " failed: " + e.getMessage());
        };
    }

    private static String describe(boolean admin, Sqe sqe) {
        String hex = String.format("%02Xh", sqe.opcode());
        String n = admin ? AdminOpcode.of(sqe.opcode()).map(AdminOpcode::specName).orElse(null)
                : IoOpcode.of(sqe.opcode()).map(IoOpcode::specName).orElse(null);
        String kind = admin ? "admin" : "I/O";
        return n == null ? kind + " opcode " + hex : n + " (" + kind + " opcode " + hex + ")";
    }

    /** Zeroed, page-aligned native memory, freed when the device closes. */
    @Override
    public MemorySegment allocateBuffer(long sizeBytes) {
        if (sizeBytes <= 0) throw new IllegalArgumentException("buffer of " + sizeBytes + " bytes");
        long rounded = (sizeBytes + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES;
        return buffers.allocate(rounded, PAGE_BYTES).asSlice(0, sizeBytes);
    }

    /**
     * Creates a User Data Migration Queue for {@code cntlid} through the kernel's CDQ ioctl
     * ({@link #cdqSupport()}): RFC_V2 with an eventfd for the Tail Pointer Trigger, or RFC v1.
     * See {@link LinuxCdqQueue} for how the queue maps onto {@link CdqQueue}. Note that RFC_V2
     * starts logging at once ({@link LinuxCdqQueue#kernelStartsLogging()}).
     */
    @Override
    public CdqQueue createCdq(int cntlid, long sizeBytes) throws NvmeException {
        if (closed) throw new NvmeException(path + ": device is closed");
        if (cntlid < 0 || cntlid > MAX_CNTLID) throw new NvmeException(path + ": CNTLID " + cntlid + " is out of range (0 .. 65519)");
        if (sizeBytes < 64 || sizeBytes % MirrorRing.ENTRY_BYTES != 0 || sizeBytes > MAX_CDQ_BYTES) {
            throw new NvmeException(path + ": CDQ size must be a multiple of 32 bytes from 64 to " + MAX_CDQ_BYTES + ", got " + sizeBytes);
        }
        int entries = (int) (sizeBytes / MirrorRing.ENTRY_BYTES);
        return switch (cdqSupport()) {
            case NONE -> throw new NvmeException(noCdqMessage());
            case RFC_V2 -> createV2(cntlid, sizeBytes, entries);
            case RFC_V1 -> createV1(cntlid, entries);
        };
    }

    private LinuxCdqQueue createV2(int cntlid, long sizeBytes, int entries) throws NvmeException {
        int handle = allocateHandle();
        EventFd tpt;
        try {
            tpt = EventFd.create();
        } catch (LibcException e) {
            throw new NvmeException(path + ": cannot create the CDQ's eventfd: " + e.getMessage());
        }
        CdqIoctl.Created c;
        try {
            c = CdqIoctl.createV2(fd, cntlid, sizeBytes, tpt.fd());
        } catch (LibcException e) {
            tpt.close();
            throw cdqFailure(cntlid, sizeBytes, CdqSupport.RFC_V2, e);
        }
        if (c.rc() > 0) {
            tpt.close();
            throw new NvmeStatusException(path + ": Create CDQ for CNTLID " + cntlid + " (through NVME_IOCTL_CDQ)", Status.fromField(c.rc() & 0x7fff));
        }
        if (c.fd() < 0) {
            deleteV2Quietly(cntlid);
            tpt.close();
            throw new NvmeException(path + ": the kernel created the CDQ for CNTLID " + cntlid + " but returned no cdq_fd"
                    + " (a known defect of one RFC revision); it was deleted again: use a kernel with a fixed CDQ patch");
        }
        LinuxCdqQueue q = new LinuxCdqQueue(path, CdqSupport.RFC_V2, handle, false, cntlid, entries, c.fd(), tpt,
                () -> deleteV2(cntlid), () -> forget(handle));
        register(q);
        return q;
    }

    private LinuxCdqQueue createV1(int cntlid, int entries) throws NvmeException {
        CdqIoctl.Created c;
        try {
            c = CdqIoctl.createV1(fd, cntlid, entries);
        } catch (LibcException e) {
            throw cdqFailure(cntlid, (long) entries * MirrorRing.ENTRY_BYTES, CdqSupport.RFC_V1, e);
        }
        if (c.rc() > 0) {
            throw new NvmeStatusException(path + ": Create CDQ for CNTLID " + cntlid + " (through NVME_IOCTL_ADMIN_CDQ)", Status.fromField(c.rc() & 0x7fff));
        }
        if (c.fd() < 0) {
            throw new NvmeException(path + ": the kernel created CDQ " + c.cdqid() + " for CNTLID " + cntlid
                    + " but returned no read_fd, so it cannot be read or deleted from here; it lasts until the controller resets");
        }
        if (cdqs.containsKey(c.cdqid())) {
            Libc.closeQuietly(c.fd());
            throw new NvmeException(path + ": the kernel returned CDQID " + c.cdqid() + ", which this device already uses; the new CDQ was closed");
        }
        int id = c.cdqid();
        LinuxCdqQueue q = new LinuxCdqQueue(path, CdqSupport.RFC_V1, id, true, cntlid, entries, c.fd(), null,
                () -> { }, () -> forget(id));   // v1: closing read_fd deletes the CDQ
        register(q);
        return q;
    }

    private int allocateHandle() throws NvmeException {
        for (int i = 0; i < 0x1000; i++) {
            int h = nextHandle.getAndUpdate(v -> v <= 0xf000 ? 0xffff : v - 1);
            if (!cdqs.containsKey(h)) return h;
        }
        throw new NvmeException(path + ": too many CDQs open on this device");
    }

    void register(LinuxCdqQueue q) {
        cdqs.put(q.cdqid(), q);
    }

    void forget(int cdqid) {
        cdqs.remove(cdqid);
    }

    private void deleteV2(int cntlid) throws NvmeException {
        int rc;
        try {
            rc = CdqIoctl.deleteV2(fd, cntlid);
        } catch (LibcException e) {
            throw new NvmeException(path + ": deleting the CDQ of CNTLID " + cntlid + " through NVME_IOCTL_CDQ failed: "
                    + e.getMessage() + "; the kernel may keep it until the controller resets");
        }
        if (rc > 0) throw new NvmeStatusException(path + ": Delete CDQ of CNTLID " + cntlid + " (through NVME_IOCTL_CDQ)", Status.fromField(rc & 0x7fff));
    }

    private void deleteV2Quietly(int cntlid) {
        try {
            deleteV2(cntlid);
        } catch (NvmeException ignored) {
            // reported by the caller's own message
        }
    }

    private NvmeException cdqFailure(int cntlid, long sizeBytes, CdqSupport via, LibcException e) {
        String what = "creating a CDQ for CNTLID " + cntlid + " through " + via.ioctl();
        return switch (e.errno()) {
            case Libc.EACCES, Libc.EPERM -> new NvmeException(path + ": " + what + " needs root or CAP_SYS_ADMIN (" + e.errnoName()
                    + "); run nvme-lm as root");
            case Libc.ENOTTY -> new NvmeException(noCdqMessage());
            case Libc.EINVAL -> new NvmeException(path + ": the kernel refused " + what + " of " + sizeBytes + " bytes (EINVAL):"
                    + " the size must be a multiple of 32 the kernel can map, and CNTLID " + cntlid + " must be a migratable controller");
            case Libc.ENOMEM -> new NvmeException(path + ": the kernel could not allocate a " + sizeBytes + "-byte CDQ (ENOMEM); use a smaller --size");
            case Libc.EBUSY -> new NvmeException(path + ": " + what + ": the kernel already has a CDQ with that CDQID (EBUSY)");
            case Libc.EINTR, Libc.ETIMEDOUT -> new NvmeException(path + ": " + what + " timed out (" + e.errnoName()
                    + "); check 'dmesg' and retry");
            default -> new NvmeException(path + ": " + what + " failed: " + e.getMessage());
        };
    }

    /** The kernel keeps Asynchronous Event Requests to itself: listeners are accepted and never called. */
    @Override
    public void onAsyncEvent(Consumer<AsyncEventInfo> listener) {
        Objects.requireNonNull(listener);
    }

    /**
     * Closes open CDQs (deleting them in the kernel), waits for commands in flight (up to the
     * timeout plus 5 s), then frees buffers and closes the descriptor. If a command is still in
     * the kernel after that, its buffers are left allocated rather than freed under it.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (LinuxCdqQueue q : List.copyOf(cdqs.values())) {
            try {
                q.close();
            } catch (NvmeException ignored) {
                // best effort: the device is going away
            }
        }
        ioctls.shutdown();
        boolean idle;
        try {
            idle = ioctls.awaitTermination(timeoutMs + 5_000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            idle = false;
        }
        if (idle) buffers.close();
        Libc.closeQuietly(fd);
    }

    @Override
    public String toString() {
        return path + " (" + kind + (kind == NodeKind.CONTROLLER ? "" : ", NSID " + nsid) + ")";
    }
}
