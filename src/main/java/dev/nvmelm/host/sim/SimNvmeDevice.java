package dev.nvmelm.host.sim;

import dev.nvmelm.host.AsyncEventInfo;
import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.NvmeStatusException;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.DataDirection;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * The {@code sim:} backend: a controller of a subsystem served by {@code nvme-lm device serve},
 * reached over its Unix socket. Like a process using Linux passthrough, it sends commands and
 * gets completions; unlike a socket transport it moves no data, because its buffers and CDQ
 * rings are in a file the server maps too, so the controller's DMA lands where this process
 * reads. Device string: {@code sim:PATH} for the MMC (CNTLID 0), {@code sim:PATH#C} for
 * controller C.
 */
public final class SimNvmeDevice implements NvmeDevice {
    public static final String PREFIX = "sim:";

    private final String name;
    private final Duration timeout;
    private final SimChannel channel;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment shared;
    private final AtomicInteger tags = new AtomicInteger(1);
    private final Map<Integer, CompletableFuture<SimMessage>> pending = new ConcurrentHashMap<>();
    private final Map<Integer, SimCdqQueue> cdqs = new ConcurrentHashMap<>();
    private final List<Consumer<AsyncEventInfo>> listeners = new CopyOnWriteArrayList<>();
    private volatile String closedReason;
    /**
     * Requests go out through one writer thread: a caller interrupted in the middle of a
     * blocking socket write would close the channel for everyone (NIO channels are interruptible).
     */
    private final LinkedBlockingQueue<SimMessage> outbox = new LinkedBlockingQueue<>();
    private Thread writer;
    /** Most requests sent with one write. */
    private static final int MAX_BATCH = 256;
    private final int namespacesPerController;

    public static boolean handles(String device) {
        return device.startsWith(PREFIX);
    }

    /** Parsed {@code sim:PATH[#C]}. */
    public record Address(Path socket, int cntlid) {
        public static Address parse(String device) throws NvmeException {
            if (!handles(device)) throw new NvmeException("'" + device + "' is not a sim: device string");
            String rest = device.substring(PREFIX.length());
            int cntlid = 0;
            int hash = rest.lastIndexOf('#');
            if (hash >= 0) {
                try {
                    cntlid = Integer.parseInt(rest.substring(hash + 1));
                } catch (NumberFormatException e) {
                    throw new NvmeException(device + ": '#" + rest.substring(hash + 1) + "' is not a controller number (sim:PATH#CNTLID)");
                }
                if (cntlid < 0 || cntlid > 0xfffe) throw new NvmeException(device + ": CNTLID " + cntlid + " is out of range");
                rest = rest.substring(0, hash);
            }
            if (rest.isEmpty()) throw new NvmeException(device + ": no socket path (sim:DIR/ctl.sock)");
            return new Address(Path.of(rest), cntlid);
        }
    }

    public static SimNvmeDevice open(String device, Duration timeout) throws NvmeException {
        Address a = Address.parse(device);
        if (!Files.exists(a.socket())) {
            throw new NvmeException(device + ": no device server at " + a.socket() + " (start one with 'nvme-lm device serve --dir DIR')");
        }
        SocketChannel socket;
        try {
            socket = SocketChannel.open(StandardProtocolFamily.UNIX);
            socket.connect(UnixDomainSocketAddress.of(a.socket()));
        } catch (IOException e) {
            throw new NvmeException(device + ": cannot connect to the device server at " + a.socket() + " (" + e.getMessage()
                    + "); is 'nvme-lm device serve' still running?");
        }
        return new SimNvmeDevice(device, a.cntlid(), socket, timeout);
    }

    private SimNvmeDevice(String name, int cntlid, SocketChannel socket, Duration timeout) throws NvmeException {
        this.name = name;
        this.timeout = timeout;
        this.channel = new SimChannel(socket);
        try {
            channel.send(new SimMessage.Hello(0, SimMessage.VERSION, cntlid));
            SimMessage reply = channel.receive();
            if (reply instanceof SimMessage.Failed f) throw new NvmeException(name + ": " + f.message());
            if (!(reply instanceof SimMessage.Welcome w)) throw new NvmeException(name + ": device server answered Hello with " + reply);
            this.namespacesPerController = w.namespacesPerController();
            try (FileChannel fc = FileChannel.open(Path.of(w.memoryPath()), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                this.shared = fc.map(FileChannel.MapMode.READ_WRITE, 0, w.memorySizeBytes(), arena);
            }
        } catch (IOException e) {
            closeQuietly();
            throw new NvmeException(name + ": handshake with the device server failed: " + e.getMessage(), e);
        } catch (NvmeException e) {
            closeQuietly();
            throw e;
        }
        Thread.ofVirtual().name("sim-reader").start(this::readLoop);
        writer = Thread.ofVirtual().name("sim-writer").start(this::writeLoop);
    }

    private void writeLoop() {
        List<SimMessage> batch = new java.util.ArrayList<>();
        try {
            while (true) {   // whatever queued up meanwhile goes in the same write
                batch.add(outbox.take());
                outbox.drainTo(batch, MAX_BATCH - 1);
                channel.send(batch);
                batch.clear();
            }
        } catch (InterruptedException e) {
            // closing
        } catch (IOException e) {
            fail("cannot send to the device server: " + e.getMessage());
        }
    }

    private void readLoop() {
        String reason = "device server closed the connection";
        try {
            while (true) {
                SimMessage m = channel.receive();
                if (m instanceof SimMessage.Event e) {
                    SimCdqQueue q = e.cdqid() == SimMessage.NO_CDQ ? null : cdqs.get(e.cdqid());
                    if (q != null) q.notifyEvent();
                    else if (e.cdqid() == SimMessage.NO_CDQ) listeners.forEach(l -> l.accept(AsyncEventInfo.fromCompletion(e.dw0(), e.dw1())));
                    continue;
                }
                CompletableFuture<SimMessage> f = pending.remove(m.tag());
                if (f != null) f.complete(m);
            }
        } catch (EOFException e) {
            // the server went away between frames
        } catch (IOException e) {
            reason = "connection to the device server failed: " + e.getMessage();
        }
        fail(reason);
    }

    private void fail(String reason) {
        if (closedReason == null) closedReason = reason;
        for (Integer tag : List.copyOf(pending.keySet())) {
            CompletableFuture<SimMessage> f = pending.remove(tag);
            if (f != null) f.completeExceptionally(new NvmeException(name + ": " + closedReason));
        }
    }

    private CompletableFuture<SimMessage> call(IntFunction<SimMessage> request) {
        int tag = tags.getAndIncrement();
        CompletableFuture<SimMessage> f = new CompletableFuture<>();
        pending.put(tag, f);
        if (closedReason != null) {
            fail(closedReason);
            return f;
        }
        outbox.add(request.apply(tag));
        return f;
    }

    private SimMessage await(CompletableFuture<SimMessage> f) throws NvmeException {
        try {
            return f.get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new NvmeException(name + ": the device server did not answer in " + timeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NvmeException(name + ": interrupted");
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof NvmeException ne) throw ne;
            throw new NvmeException(name + ": " + e.getCause().getMessage(), e.getCause());
        }
    }

    private Completion toCompletion(SimMessage m) throws NvmeException {
        return switch (m) {
            case SimMessage.Done d -> new Completion(d.dw0(), d.dw1(), Status.fromField(d.statusField()));
            case SimMessage.Failed f -> throw new NvmeException(name + ": " + f.message());
            default -> throw new NvmeException(name + ": unexpected answer " + m.getClass().getSimpleName());
        };
    }

    @Override
    public String name() {
        return name;
    }

    /** The MMC's shared NSID of MC {@code cntlid}'s namespace {@code nsid} (see SimMessage.Welcome). */
    public int sharedNsid(int cntlid, int nsid) {
        if (cntlid < 1 || nsid < 1 || nsid > namespacesPerController) {
            throw new IllegalArgumentException("controller " + cntlid + " has no namespace " + nsid + " (it has 1.." + namespacesPerController + ")");
        }
        return (cntlid - 1) * namespacesPerController + nsid;
    }

    @Override
    public Duration timeout() {
        return timeout;
    }

    @Override
    public CompletableFuture<Completion> submitAdmin(Sqe sqe, MemorySegment data) {
        return submit(false, sqe, data);
    }

    @Override
    public CompletableFuture<Completion> submitIo(Sqe sqe, MemorySegment data) {
        return submit(true, sqe, data);
    }

    /** Blocking calls bounce a caller's own buffer in the caller's thread, so confined memory works. */
    @Override
    public Completion admin(Sqe sqe, MemorySegment data) throws NvmeException {
        return blocking(false, sqe, data);
    }

    @Override
    public Completion io(Sqe sqe, MemorySegment data) throws NvmeException {
        return blocking(true, sqe, data);
    }

    private Completion blocking(boolean io, Sqe sqe, MemorySegment data) throws NvmeException {
        if (data == null || data.byteSize() == 0 || offsetOf(data) >= 0) {
            return io ? NvmeDevice.super.io(sqe, data) : NvmeDevice.super.admin(sqe, data);
        }
        MemorySegment tmp = allocateBuffer(data.byteSize());
        try {
            MemorySegment.copy(data, 0, tmp, 0, data.byteSize());
            Completion c = io ? NvmeDevice.super.io(sqe, tmp) : NvmeDevice.super.admin(sqe, tmp);
            if (c.ok() && DataDirection.ofOpcodeByte(sqe.opcode()) != DataDirection.HOST_TO_CONTROLLER) MemorySegment.copy(tmp, 0, data, 0, data.byteSize());
            return c;
        } finally {
            freeQuietly(tmp);
        }
    }

    private CompletableFuture<Completion> submit(boolean io, Sqe sqe, MemorySegment data) {
        byte[] bytes = sqe.toBytes();
        long length = data == null ? 0 : data.byteSize();
        long offset = length == 0 ? 0 : offsetOf(data);
        if (length > 0 && offset < 0) return bounced(io, sqe, data);
        return call(tag -> new SimMessage.Command(tag, io, bytes, offset, length)).thenApply(m -> {
            try {
                return toCompletion(m);
            } catch (NvmeException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
    }

    /**
     * A caller's buffer outside the shared memory: copy through a temporary shared one. The copy
     * back happens on the completing thread, so {@code data} must be accessible from any thread.
     */
    private CompletableFuture<Completion> bounced(boolean io, Sqe sqe, MemorySegment data) {
        // never blocks the caller: a completion callback may submit (the reader thread must not wait on itself)
        return call(tag -> new SimMessage.Alloc(tag, data.byteSize())).thenCompose(m -> {
            if (!(m instanceof SimMessage.Allocated a)) {
                String why = m instanceof SimMessage.Failed f ? f.message() : "unexpected answer to Alloc: " + m;
                return CompletableFuture.<Completion>failedFuture(new NvmeException(name + ": " + why));
            }
            MemorySegment tmp = shared.asSlice(a.offset(), data.byteSize());
            MemorySegment.copy(data, 0, tmp, 0, data.byteSize());
            return submit(io, sqe, tmp).whenComplete((c, t) -> {
                if (c != null && c.ok() && DataDirection.ofOpcodeByte(sqe.opcode()) != DataDirection.HOST_TO_CONTROLLER) {
                    MemorySegment.copy(tmp, 0, data, 0, data.byteSize());
                }
                freeQuietly(tmp);
            });
        });
    }

    private long offsetOf(MemorySegment seg) {
        if (!seg.isNative()) return -1;
        long off = seg.address() - shared.address();
        return off >= 0 && off + seg.byteSize() <= shared.byteSize() ? off : -1;
    }

    @Override
    public MemorySegment allocateBuffer(long sizeBytes) {
        try {
            SimMessage m = await(call(tag -> new SimMessage.Alloc(tag, sizeBytes)));
            if (m instanceof SimMessage.Allocated a) return shared.asSlice(a.offset(), sizeBytes);
            if (m instanceof SimMessage.Failed f) throw new IllegalStateException(name + ": " + f.message());
            throw new IllegalStateException(name + ": unexpected answer to Alloc: " + m);
        } catch (NvmeException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    @Override
    public void freeBuffer(MemorySegment buffer) {
        freeQuietly(buffer);
    }

    private void freeQuietly(MemorySegment seg) {
        long off = offsetOf(seg);
        if (off >= 0) call(tag -> new SimMessage.Free(tag, off));
    }

    @Override
    public CdqQueue createCdq(int cntlid, long sizeBytes) throws NvmeException {
        // NVMe Base 2.1, Figure 164: refused here as the PCI backend refuses it, before the round trip
        if (sizeBytes % 4 != 0 || !ControllerDataQueueCommand.Create.wholeUdmqEntries(sizeBytes / 4)) {
            throw new NvmeException(name + ": CDQ size " + sizeBytes + " bytes is not a whole number of 32-byte entries");
        }
        return cdqFrom(await(call(tag -> new SimMessage.CdqCreate(tag, cntlid, sizeBytes, true))), "Create CDQ for CNTLID " + cntlid);
    }

    @Override
    public CdqQueue attachCdq(int cdqid) throws NvmeException {
        return cdqFrom(await(call(tag -> new SimMessage.CdqAttach(tag, cdqid))), "CDQ " + cdqid);
    }

    private CdqQueue cdqFrom(SimMessage m, String what) throws NvmeException {
        if (m instanceof SimMessage.CdqInfo i) {
            MemorySegment ring = shared.asSlice(i.ringOffset(), (long) i.entryCount() * 32).asReadOnly();
            SimCdqQueue q = new SimCdqQueue(this, i.cdqid(), i.cntlid(), i.entryCount(), ring, new CdqQueue.Cursor(i.head(), i.stalePhase()));
            cdqs.put(q.cdqid(), q);
            return q;
        }
        Completion c = toCompletion(m);
        throw new NvmeStatusException(name + ": " + what, c.status());
    }

    /** Lets go of a CDQ on the server: delete it, or keep it with the cursor. */
    void release(SimCdqQueue q, boolean keep, CdqQueue.Cursor cursor) throws NvmeException {
        cdqs.remove(q.cdqid());
        Completion c = toCompletion(await(call(tag -> new SimMessage.CdqRelease(tag, q.cdqid(), keep, cursor.head(), cursor.stalePhase()))));
        c.orThrow(name + ": " + (keep ? "Detach" : "Delete") + " CDQ " + q.cdqid());
    }

    /** Asks the server to move its driver of controller {@code from} to controller {@code to} (see SimMessage.Handover). */
    public void handover(int from, int to) throws NvmeException {
        toCompletion(await(call(tag -> new SimMessage.Handover(tag, from, to)))).orThrow(name + ": handover from controller " + from + " to " + to);
    }

    /**
     * Asks the server to quiesce, release or detach its driver of controller {@code cntlid} (see
     * SimMessage.Gate); only the client migrating that controller may.
     */
    public void gate(int cntlid, SimMessage.GateStep step, String destination) throws NvmeException {
        toCompletion(await(call(tag -> new SimMessage.Gate(tag, cntlid, step, destination))))
                .orThrow(name + ": " + step.name().toLowerCase() + " of controller " + cntlid);
    }

    @Override
    public void onAsyncEvent(Consumer<AsyncEventInfo> listener) {
        listeners.add(listener);
    }

    /** Closing drops the connection; the server deletes every CDQ this process did not detach. */
    @Override
    public void close() {
        if (closedReason == null) closedReason = "device is closed";
        closeQuietly();
    }

    private void closeQuietly() {
        if (writer != null) writer.interrupt();
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing to do: the socket is going away either way
        }
        fail("device is closed");
        arena.close();
    }
}
