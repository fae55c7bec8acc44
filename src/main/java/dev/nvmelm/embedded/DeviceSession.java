package dev.nvmelm.embedded;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.NvmeStatusException;
import dev.nvmelm.host.pci.PciNvmeDevice;
import dev.nvmelm.host.sim.SimChannel;
import dev.nvmelm.host.sim.SimMessage;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.AdminOpcode;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.bus.DmaFault;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** One client of a {@link DeviceServer}: its controller, buffers, CDQs and commands in flight. */
final class DeviceSession {
    /** Completions and events waiting for a client that does not read are bounded: then it is dropped. */
    private static final int MAX_QUEUED_REPLIES = 8192;
    /** Admin opcodes only the server (as the host's driver) may send: queues and events are its own. */
    private static final Set<AdminOpcode> SERVER_OWNED = EnumSet.of(AdminOpcode.DELETE_IO_SQ, AdminOpcode.CREATE_IO_SQ,
            AdminOpcode.DELETE_IO_CQ, AdminOpcode.CREATE_IO_CQ, AdminOpcode.ASYNC_EVENT_REQUEST, AdminOpcode.DOORBELL_BUFFER_CONFIG);

    private final DeviceServer server;
    private final SimChannel channel;
    private final LinkedBlockingQueue<SimMessage> replies = new LinkedBlockingQueue<>(MAX_QUEUED_REPLIES);
    private final ConcurrentSkipListMap<Long, MemorySegment> buffers = new ConcurrentSkipListMap<>();   // offset -> allocation
    private final Set<CompletableFuture<?>> inFlight = ConcurrentHashMap.newKeySet();
    private volatile int cntlid = -1;
    private PciNvmeDevice device;
    private volatile boolean closed;

    DeviceSession(DeviceServer server, SimChannel channel) {
        this.server = server;
        this.channel = channel;
    }

    int cntlid() {
        return cntlid;
    }

    void send(SimMessage m) {
        if (closed) return;
        if (!replies.offer(m)) {
            server.log("device server: dropping a client that does not read its completions");
            close();
        }
    }

    void run() {
        Thread writer = Thread.ofVirtual().name("sim-writer").start(this::writeLoop);
        try {
            while (!closed) handle(channel.receive());
        } catch (EOFException e) {
            // client went away
        } catch (IOException e) {
            if (!closed) server.log("device server: client dropped: " + e.getMessage());
        } catch (RuntimeException e) {
            server.log("device server: client dropped after an internal error: " + e);
        } finally {
            close();
            writer.interrupt();
            cleanup();
        }
    }

    private void writeLoop() {
        List<SimMessage> batch = new ArrayList<>();
        try {
            while (true) {   // completions that queued up meanwhile go in the same write
                batch.add(replies.take());
                replies.drainTo(batch, 255);
                channel.send(batch);
                batch.clear();
            }
        } catch (InterruptedException | IOException e) {
            close();
        }
    }

    void close() {
        if (closed) return;
        closed = true;
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    private void handle(SimMessage m) throws IOException {
        if (cntlid < 0) {
            hello(m);
            return;
        }
        switch (m) {
            case SimMessage.Alloc a -> alloc(a);
            case SimMessage.Free f -> free(f);
            case SimMessage.Command c -> command(c);
            case SimMessage.CdqCreate c -> cdqCreate(c);
            case SimMessage.CdqAttach a -> cdqAttach(a);
            case SimMessage.CdqRelease r -> cdqRelease(r);
            case SimMessage.Handover h -> {
                try {
                    server.handover(this, h.fromCntlid(), h.toCntlid());
                    send(new SimMessage.Done(h.tag(), 0, 0, 0));
                } catch (NvmeException e) {
                    send(new SimMessage.Failed(h.tag(), e.getMessage()));
                }
            }
            case SimMessage.Gate g -> {
                try {
                    server.gate(this, g.cntlid(), g.step(), g.destination());
                    send(new SimMessage.Done(g.tag(), 0, 0, 0));
                } catch (NvmeException e) {
                    send(new SimMessage.Failed(g.tag(), e.getMessage()));
                }
            }
            default -> throw new IOException("a client may not send " + m.getClass().getSimpleName());
        }
    }

    private void hello(SimMessage m) throws IOException {
        if (!(m instanceof SimMessage.Hello h)) throw new IOException("expected Hello, got " + m.getClass().getSimpleName());
        if (h.version() != SimMessage.VERSION) {
            channel.send(new SimMessage.Failed(0, "protocol version " + h.version() + " is not served (this server speaks " + SimMessage.VERSION + ")"));
            throw new EOFException();
        }
        try {
            device = server.device(h.cntlid());
        } catch (NvmeException e) {
            channel.send(new SimMessage.Failed(0, e.getMessage()));
            throw new EOFException();
        }
        cntlid = h.cntlid();
        send(new SimMessage.Welcome(0, SimMessage.VERSION, cntlid, server.memoryBytes(), server.subsystem().config().namespacesPerController(),
                server.memoryPath().toString()));
    }


    private void alloc(SimMessage.Alloc a) {
        if (a.sizeBytes() <= 0 || a.sizeBytes() > DeviceServer.MAX_ALLOCATION_BYTES) {
            send(new SimMessage.Failed(a.tag(), "buffer of " + a.sizeBytes() + " bytes: must be 1.." + DeviceServer.MAX_ALLOCATION_BYTES));
            return;
        }
        try {
            MemorySegment seg = server.memory().allocate(a.sizeBytes());
            long off = server.memory().offsetOf(seg);
            buffers.put(off, seg);
            send(new SimMessage.Allocated(a.tag(), off));
        } catch (OutOfMemoryError e) {
            send(new SimMessage.Failed(a.tag(), "device server " + e.getMessage() + " (raise --host-memory)"));
        }
    }

    private void free(SimMessage.Free f) {
        MemorySegment seg = buffers.remove(f.offset());
        if (seg == null) {
            send(new SimMessage.Failed(f.tag(), "offset " + f.offset() + " is not a buffer of this client"));
            return;
        }
        server.memory().free(seg);
        send(new SimMessage.Done(f.tag(), 0, 0, 0));
    }

    /** The client's data buffer: it must lie inside one allocation of this client. */
    private MemorySegment dataOf(SimMessage.Command c) {
        if (c.dataLength() == 0) return null;
        Map.Entry<Long, MemorySegment> e = buffers.floorEntry(c.dataOffset());
        if (c.dataLength() < 0 || e == null || c.dataOffset() - e.getKey() + c.dataLength() > e.getValue().byteSize()) {
            throw new DmaFault("data buffer [" + c.dataOffset() + ", +" + c.dataLength() + ") is not memory this client allocated");
        }
        return e.getValue().asSlice(c.dataOffset() - e.getKey(), c.dataLength());
    }

    private void command(SimMessage.Command c) {
        Sqe sqe = Sqe.fromBytes(c.sqe());
        MemorySegment data;
        try {
            data = dataOf(c);
        } catch (DmaFault e) {
            send(new SimMessage.Failed(c.tag(), e.getMessage()));
            return;
        }
        if (!c.io() && AdminOpcode.of(sqe.opcode()).filter(SERVER_OWNED::contains).isPresent()) {
            send(new SimMessage.Failed(c.tag(), String.format("admin opcode %02xh manages queues or events, which the device server owns;"
                    + " it is not available through passthrough", sqe.opcode())));
            return;
        }
        if (!c.io() && AdminOpcode.CONTROLLER_DATA_QUEUE.isOpcodeOf(sqe)) {
            cdqPassthrough(c.tag(), sqe);
            return;
        }
        if (!c.io()) {
            String refusal = refusalOfCdqUse(sqe);
            if (refusal != null) {
                send(new SimMessage.Failed(c.tag(), refusal));
                return;
            }
        }
        MigrationSendCommand migration = !c.io() && AdminOpcode.MIGRATION_SEND.isOpcodeOf(sqe) ? migrationSend(sqe) : null;
        if (migration != null) {
            String refusal = server.claims().admit(this, migration).orElse(null);
            if (refusal == null) refusal = refusalOfUdmqDelete(migration);
            if (refusal != null) {
                send(new SimMessage.Failed(c.tag(), refusal));
                return;
            }
        }
        CompletableFuture<Completion> f = c.io() ? device.submitIo(sqe, data) : device.submitAdmin(sqe, data);
        inFlight.add(f);
        f.whenComplete((done, t) -> {
            inFlight.remove(f);
            if (migration != null) migrationDone(migration, t == null && done.ok());
            if (t != null) send(new SimMessage.Failed(c.tag(), t instanceof java.util.concurrent.CompletionException ? t.getCause().getMessage() : t.getMessage()));
            else send(new SimMessage.Done(c.tag(), done.dw0(), done.dw1(), done.status().field()));
        });
    }

    /** A decodable Migration Send; a malformed one goes to the controller, which answers it with its own status. */
    private static MigrationSendCommand migrationSend(Sqe sqe) {
        try {
            return MigrationSendCommand.decode(sqe);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /**
     * Track Send and Get/Set Features 21h name a CDQ by CDQID: refused when the server holds
     * that CDQ for another client or for itself (stopping another's logging, or moving its head,
     * would make it miss dirty data). Unknown CDQIDs go to the controller, which answers them.
     */
    private String refusalOfCdqUse(Sqe sqe) {
        int cdqid;
        if (AdminOpcode.TRACK_SEND.isOpcodeOf(sqe)) cdqid = sqe.cdw11() & 0xffff;
        else if ((AdminOpcode.SET_FEATURES.isOpcodeOf(sqe) || AdminOpcode.GET_FEATURES.isOpcodeOf(sqe)) && (sqe.cdw10() & 0xff) == CdqFeature.FID) cdqid = sqe.cdw11() & 0xffff;
        else return null;
        DeviceServer.CdqRecord r = server.cdqs.get(cdqid);
        return r == null ? null : r.refusalFor(this);
    }

    /** A Suspend with DUDMQ deletes the MC's User Data Migration Queue: only its holder may ask for that. */
    private String refusalOfUdmqDelete(MigrationSendCommand m) {
        if (!(m instanceof MigrationSendCommand.Suspend su) || !su.dudmq()) return null;
        for (DeviceServer.CdqRecord r : server.cdqs.values()) {
            if (r.queue.cntlid() != su.cntlid()) continue;
            String refusal = r.refusalFor(this);
            if (refusal != null) return "Suspend with DUDMQ would delete controller " + su.cntlid() + "'s User Data Migration Queue: " + refusal;
        }
        return null;
    }

    private void migrationDone(MigrationSendCommand m, boolean ok) {
        server.claims().completed(this, m, ok).ifPresent(server::resetSwitchedSource);
        if (ok && m instanceof MigrationSendCommand.Suspend su && su.dudmq()) {
            // the controller deleted the MC's UDMQ: release its ring (the controller answers our Delete with Invalid CDQ)
            for (Map.Entry<Integer, DeviceServer.CdqRecord> e : new ArrayList<>(server.cdqs.entrySet())) {
                if (e.getValue().queue.cntlid() != su.cntlid() || !server.cdqs.remove(e.getKey(), e.getValue())) continue;
                try {
                    e.getValue().queue.close();
                } catch (NvmeException ignored) {
                    // Invalid CDQ: already gone, which is what DUDMQ did
                }
            }
        }
    }

    /**
     * Controller Data Queue commands by SQE: a delete goes through the server's record (so the
     * ring memory is released after the controller lets go); a create must come as CdqCreate,
     * because only the server can place the ring in memory the controller may write.
     */
    private void cdqPassthrough(int tag, Sqe sqe) {
        ControllerDataQueueCommand cmd;
        try {
            cmd = ControllerDataQueueCommand.decode(sqe);
        } catch (IllegalArgumentException e) {
            // let the controller answer the malformed command with its own status
            forwardAdmin(tag, sqe);
            return;
        }
        switch (cmd) {
            case ControllerDataQueueCommand.Delete d -> {
                DeviceServer.CdqRecord r = server.cdqs.get(d.cdqid());
                if (r == null) forwardAdmin(tag, sqe);
                else deleteRecord(tag, d.cdqid(), r);
            }
            case ControllerDataQueueCommand.Create cr -> send(new SimMessage.Failed(tag,
                    "create CDQs with the sim: device's CDQ call (nvme-lm lm create-cdq does), not by raw SQE"));
        }
    }

    private void forwardAdmin(int tag, Sqe sqe) {
        CompletableFuture<Completion> f = device.submitAdmin(sqe, null);
        f.whenComplete((done, t) -> send(t != null ? new SimMessage.Failed(tag, t.getMessage())
                : new SimMessage.Done(tag, done.dw0(), done.dw1(), done.status().field())));
    }

    private void deleteRecord(int tag, int cdqid, DeviceServer.CdqRecord r) {
        String refusal = r.refusalFor(this);
        if (refusal != null) {
            send(new SimMessage.Failed(tag, refusal));
            return;
        }
        try {
            server.cdqs.remove(cdqid);
            r.queue.close();
            send(new SimMessage.Done(tag, 0, 0, 0));
        } catch (NvmeStatusException e) {
            send(new SimMessage.Done(tag, 0, 0, e.status().field()));
        } catch (NvmeException e) {
            send(new SimMessage.Failed(tag, e.getMessage()));
        }
    }

    /** CDQs belong to the MMC (CNTLID 0); on an MC the request would wait behind a suspension. */
    private boolean refusedOffMmc(int tag) {
        if (cntlid == 0) return false;
        send(new SimMessage.Failed(tag, "CDQs are managed through the migration management controller (sim:PATH, CNTLID 0), not controller " + cntlid));
        return true;
    }

    private void cdqCreate(SimMessage.CdqCreate c) {
        if (refusedOffMmc(c.tag())) return;
        if (c.sizeBytes() > DeviceServer.MAX_ALLOCATION_BYTES) {
            send(new SimMessage.Failed(c.tag(), "CDQ of " + c.sizeBytes() + " bytes is larger than this server allows (" + DeviceServer.MAX_ALLOCATION_BYTES + ")"));
            return;
        }
        try {
            CdqQueue q = device.createCdq(c.cntlid(), c.sizeBytes(), c.contiguous());
            server.cdqs.put(q.cdqid(), new DeviceServer.CdqRecord(q, this, false));
            send(info(c.tag(), q, CdqQueue.Cursor.START));
        } catch (NvmeStatusException e) {
            send(new SimMessage.Done(c.tag(), 0, 0, e.status().field()));
        } catch (NvmeException | OutOfMemoryError e) {
            send(new SimMessage.Failed(c.tag(), e.getMessage()));
        }
    }

    private SimMessage.CdqInfo info(int tag, CdqQueue q, CdqQueue.Cursor cursor) {
        return new SimMessage.CdqInfo(tag, q.cdqid(), q.cntlid(), q.entryCount(), server.memory().offsetOf(q.ring()), cursor.head(), cursor.stalePhase());
    }

    private void cdqAttach(SimMessage.CdqAttach a) {
        if (refusedOffMmc(a.tag())) return;
        DeviceServer.CdqRecord r = server.cdqs.get(a.cdqid());
        if (r == null) {
            send(new SimMessage.Done(a.tag(), 0, 0, Status.dnr(StatusCodes.INVALID_CDQ).field()));
            return;
        }
        synchronized (r) {
            String refusal = r.refusalFor(this);
            if (refusal != null) {
                send(new SimMessage.Failed(a.tag(), refusal));
                return;
            }
            r.owner = this;
        }
        send(info(a.tag(), r.queue, r.cursor));
    }

    private void cdqRelease(SimMessage.CdqRelease rel) {
        DeviceServer.CdqRecord r = server.cdqs.get(rel.cdqid());
        if (r == null || r.owner != this) {
            send(new SimMessage.Failed(rel.tag(), "CDQ " + rel.cdqid() + " is not held by this client"));
            return;
        }
        if (!rel.keep()) {
            deleteRecord(rel.tag(), rel.cdqid(), r);
            return;
        }
        if (rel.head() < 0 || rel.head() >= r.queue.entryCount()) {
            send(new SimMessage.Failed(rel.tag(), "cursor head " + rel.head() + " is outside the ring of " + r.queue.entryCount() + " entries"));
            return;
        }
        r.cursor = new CdqQueue.Cursor(rel.head(), rel.stalePhase());
        r.owner = null;
        send(new SimMessage.Done(rel.tag(), 0, 0, 0));
    }

    /**
     * After the client is gone: delete the CDQs it still held (which stops their tracking), and
     * free its buffers once the commands using them are done. A command that never completes
     * (its controller is suspended) keeps its buffers allocated, so no DMA lands in reused memory.
     */
    private void cleanup() {
        server.sessions.remove(this);
        // a migration that quiesced a controller and went away: its guests' held commands go out (nothing lost)
        for (int c : server.claims().release(this)) server.releaseIo(c);
        for (Map.Entry<Integer, DeviceServer.CdqRecord> e : new ArrayList<>(server.cdqs.entrySet())) {
            if (e.getValue().owner != this) continue;
            server.cdqs.remove(e.getKey());
            try {
                e.getValue().queue.close();
            } catch (NvmeException ex) {
                server.log("device server: deleting CDQ " + e.getKey() + " of a departed client: " + ex.getMessage());
            }
        }
        List<CompletableFuture<?>> pending = List.copyOf(inFlight);
        try {
            CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).get(DeviceServer.DRAIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            server.log("device server: " + pending.size() + " commands of a departed client are still in flight; keeping their buffers");
            return;
        }
        for (MemorySegment seg : buffers.values()) server.memory().free(seg);
        buffers.clear();
    }
}
