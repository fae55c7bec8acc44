package dev.nvmelm.embedded;

import dev.nvmelm.device.Controller;
import dev.nvmelm.device.Subsystem;
import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.pci.HostMemory;
import dev.nvmelm.host.pci.PciNvmeDevice;
import dev.nvmelm.host.sim.SimChannel;
import dev.nvmelm.host.sim.SimMessage;
import dev.nvmelm.spec.bus.Registers;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * {@code nvme-lm device serve}: a software NVM subsystem in this process, offered to other
 * processes as {@code sim:} devices on a Unix socket. The server plays the host kernel: it owns
 * every controller's admin and I/O queues (one {@link PciNvmeDevice} per controller) and hands
 * clients a passthrough interface. All host memory — queues, client buffers, CDQ rings — is one
 * file mapped by the server and by its clients, so a controller's DMA lands directly in memory
 * a client reads, as a CDQ in user memory does under the kernel RFC.
 *
 * <p>Isolation (the RFC reviewers' concern): a client names data only by offsets inside
 * buffers it allocated, cannot touch queue-management or AER commands, and its CDQs are deleted
 * when it disconnects unless it detached them. Another local process that can open the memory
 * file can read it; the directory's permissions are the boundary, as they are for the socket.
 */
public final class DeviceServer implements AutoCloseable {
    public static final String SOCKET_NAME = "ctl.sock", MEMORY_NAME = "hostmem";
    static final long MAX_ALLOCATION_BYTES = 64L << 20;
    static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(5);
    /** The largest --host-memory: queues, buffers and CDQ rings of a software subsystem need far less. */
    public static final long MAX_MEMORY_BYTES = 16L << 30;
    /** How long a client's Hello waits for its controller's driver to come up. */
    static final Duration DRIVER_START_TIMEOUT = Duration.ofSeconds(10);
    /** The MMC never holds commands for a suspension, so its driver's blocking calls are bounded tighter than an MC's. */
    static final Duration MMC_TIMEOUT = Duration.ofSeconds(30);
    /** How long a quiesce waits for guest I/O already submitted: commands of a running controller complete in milliseconds. */
    static final Duration QUIESCE_TIMEOUT = Duration.ofSeconds(10);

    private final Subsystem subsystem;
    private final Path socketPath, memoryPath;
    private final long memoryBytes;
    private final Arena arena = Arena.ofShared();
    private final HostMemory memory;
    private final AtomicReferenceArray<PciNvmeDevice> devices;
    /** Drivers being enabled (or a slot held by a switchover), by CNTLID; guarded by this. */
    private final Map<Integer, CompletableFuture<PciNvmeDevice>> starting = new HashMap<>();
    private final MigrationClaims claims = new MigrationClaims();
    private final DirectoryLock lock;
    final Map<Integer, CdqRecord> cdqs = new ConcurrentHashMap<>();
    final Set<DeviceSession> sessions = ConcurrentHashMap.newKeySet();
    private final ServerSocketChannel listener;
    private final PrintStream log;
    private volatile boolean closed;

    /**
     * A CDQ the server holds for its clients: its owner (null when detached, for the next client
     * that attaches it) and saved cursor; or one the server itself uses ({@code serverHeld},
     * e.g. --nbd-dirty tracking), which no client may touch.
     */
    static final class CdqRecord {
        final CdqQueue queue;
        final boolean serverHeld;
        volatile DeviceSession owner;
        volatile CdqQueue.Cursor cursor = CdqQueue.Cursor.START;

        CdqRecord(CdqQueue queue, DeviceSession owner, boolean serverHeld) {
            this.queue = queue;
            this.owner = owner;
            this.serverHeld = serverHeld;
        }

        /** Why {@code s} may not use this CDQ, or null. A detached CDQ is anyone's to attach. */
        String refusalFor(DeviceSession s) {
            if (serverHeld) return "CDQ " + queue.cdqid() + " is the device server's own (--nbd-dirty tracking); no client may use it";
            DeviceSession o = owner;
            return o != null && o != s ? "CDQ " + queue.cdqid() + " is in use by another client" : null;
        }
    }

    /** Registers a CDQ the server process itself created on the MMC's driver: clients are refused it. */
    public void holdCdq(CdqQueue queue) {
        cdqs.put(queue.cdqid(), new CdqRecord(queue, null, true));
    }

    /** Forgets a CDQ of {@link #holdCdq} that its user deleted. */
    public void forgetCdq(int cdqid) {
        cdqs.remove(cdqid);
    }

    private DeviceServer(Subsystem subsystem, Path dir, long memoryBytes, DirectoryLock lock, PrintStream log) throws IOException, NvmeException {
        this.subsystem = subsystem;
        this.log = log;
        this.lock = lock;
        this.socketPath = socketOf(dir);
        this.memoryPath = dir.resolve(MEMORY_NAME).toAbsolutePath().normalize();
        this.memoryBytes = memoryBytes;
        // Fresh memory on every start: nothing a previous run left in it is valid any more.
        try (FileChannel fc = FileChannel.open(memoryPath, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            fc.truncate(0);
            MemorySegment backing = fc.map(FileChannel.MapMode.READ_WRITE, 0, memoryBytes, arena);
            this.memory = new HostMemory(backing);
        }
        devices = new AtomicReferenceArray<>(subsystem.controllerCount());
        for (int c = 0; c < devices.length(); c++) subsystem.controller(c).attach(memory);
        this.listener = bind(socketPath);
    }

    private static Path socketOf(Path dir) {
        return dir.resolve(SOCKET_NAME).toAbsolutePath().normalize();
    }

    /** Removes a socket a dead server left; refuses one a live server answers on. */
    private static void refuseLiveSocket(Path socket) throws IOException {
        if (!Files.exists(socket)) return;
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            Files.delete(socket);   // a stale socket of a server that died
            return;
        }
        throw new IOException("a device server is already listening on " + socket + "; nothing was changed");
    }

    private static ServerSocketChannel bind(Path socket) throws IOException {
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(socket));
        return s;
    }

    /**
     * Opens (or creates) the subsystem in {@code config.dir()} and starts serving it. DIR is
     * locked, and checked for a live server, before any file in it is opened: a refused start
     * changes nothing.
     */
    public static DeviceServer start(Subsystem.Config config, long memoryBytes, PrintStream log) throws IOException, NvmeException {
        return start(config, memoryBytes, log, Subsystem::open, true);
    }

    /**
     * Serves a subsystem this process already runs (the destination agent's, whose migratable
     * controller has just received a migrated state): as {@link #start}, in its directory, but on
     * {@code subsystem} as it is. Once this returns the server owns it (closes it at
     * {@link #close}) and its controllers are attached to the server's host memory; if it
     * throws, the subsystem is still the caller's.
     */
    public static DeviceServer serve(Subsystem subsystem, long memoryBytes, PrintStream log) throws IOException, NvmeException {
        return start(subsystem.config(), memoryBytes, log, c -> subsystem, false);
    }

    private interface Opener {
        Subsystem open(Subsystem.Config config) throws IOException, NvmeException;
    }

    private static DeviceServer start(Subsystem.Config config, long memoryBytes, PrintStream log, Opener opener, boolean closeOnFailure)
            throws IOException, NvmeException {
        if (memoryBytes < (1 << 20) || memoryBytes % HostMemory.PAGE != 0) throw new IllegalArgumentException("host memory must be at least 1 MiB, in whole pages");
        if (memoryBytes > MAX_MEMORY_BYTES) {
            throw new IllegalArgumentException("host memory of " + memoryBytes + " bytes is more than the " + (MAX_MEMORY_BYTES >> 30) + " GiB a device server maps");
        }
        Path dir = config.dir();
        Path socket = socketOf(dir);
        if (socket.toString().getBytes().length > 107) {
            throw new IOException("socket path " + socket + " is longer than the 107 bytes a Unix socket allows; use a shorter --dir");
        }
        Files.createDirectories(dir);
        DirectoryLock lock = DirectoryLock.acquire(dir);
        Subsystem s = null;
        DeviceServer server;
        try {
            refuseLiveSocket(socket);
            long free = Files.getFileStore(dir).getUsableSpace() + sizeIfExists(dir.resolve(MEMORY_NAME));
            if (memoryBytes > free) {
                throw new IllegalArgumentException("host memory of " + memoryBytes + " bytes does not fit the " + free + " bytes free on the filesystem of " + dir);
            }
            s = opener.open(config);
            server = new DeviceServer(s, dir, memoryBytes, lock, log);
        } catch (IOException | NvmeException | RuntimeException e) {
            if (s != null && closeOnFailure) s.close();
            lock.close();
            throw e;
        }
        Thread.ofPlatform().daemon().name("sim-accept").start(server::acceptLoop);
        return server;
    }

    private static long sizeIfExists(Path p) throws IOException {
        try {
            return Files.size(p);
        } catch (java.nio.file.NoSuchFileException e) {
            return 0;
        }
    }

    public String deviceString() {
        return "sim:" + socketPath;
    }

    public Path socketPath() {
        return socketPath;
    }

    public Subsystem subsystem() {
        return subsystem;
    }

    HostMemory memory() {
        return memory;
    }

    Path memoryPath() {
        return memoryPath;
    }

    long memoryBytes() {
        return memoryBytes;
    }

    void log(String line) {
        if (log != null) log.println(line);
    }

    /**
     * The server's driver of controller {@code cntlid}, enabled on first use. Its commands may
     * wait as long as a suspended controller holds them (an hour): a client gives up on its own
     * timeout, and NBD requests to a suspended MC must wait, not fail. A suspended controller
     * without a driver is refused (enabling it would wait for a Resume); a driver that does not
     * come up within {@link #DRIVER_START_TIMEOUT} is refused too. No server-wide lock is held
     * while the controller is waited for.
     */
    public PciNvmeDevice device(int cntlid) throws NvmeException {
        if (closed) throw new NvmeException("device server is shutting down");
        if (cntlid < 0 || cntlid >= devices.length()) throw new NvmeException("no controller with CNTLID " + cntlid + "; this subsystem has 0 (MMC) to " + (devices.length() - 1));
        CompletableFuture<PciNvmeDevice> starting;
        synchronized (this) {
            PciNvmeDevice d = devices.get(cntlid);
            if (d != null) return d;
            refuseSuspended(cntlid);
            starting = this.starting.computeIfAbsent(cntlid, c -> {
                CompletableFuture<PciNvmeDevice> f = new CompletableFuture<>();
                Thread.ofVirtual().name("sim-enable-" + c).start(() -> enable(c, f));
                return f;
            });
        }
        try {
            return starting.get(DRIVER_START_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new NvmeException("controller " + cntlid + " did not come up in " + DRIVER_START_TIMEOUT.toSeconds() + " s (is it being suspended?)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NvmeException("interrupted while enabling controller " + cntlid);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof NvmeException ne ? ne : new NvmeException("controller " + cntlid + ": " + e.getCause().getMessage(), e.getCause());
        }
    }

    /**
     * The driver a guest of controller {@code cntlid} uses now: after a switchover that is the
     * driver on the controller its queues moved to (an NBD export attached after a migration
     * follows the guest, as one attached before does). Otherwise {@link #device}.
     */
    public PciNvmeDevice guestDevice(int cntlid) throws NvmeException {
        Optional<PciNvmeDevice> d = existingGuestDevice(cntlid);
        return d.isPresent() ? d.get() : device(cntlid);
    }

    /**
     * The driver a guest of controller {@code cntlid} would use now ({@link #guestDevice}) if one
     * exists; empty when none does, and none is enabled for asking: a reader that must not give
     * a controller I/O queues (it may yet be a migration's destination) reads through the MMC.
     */
    public Optional<PciNvmeDevice> existingGuestDevice(int cntlid) {
        int c = cntlid;
        for (int hops = 0; c >= 0 && c < devices.length() && hops < devices.length(); hops++) {
            PciNvmeDevice d = devices.get(c);
            if (d != null) return Optional.of(d);
            Optional<Integer> to = claims.migratedTo(c);
            if (to.isEmpty()) break;
            c = to.get();
        }
        return Optional.empty();
    }

    private void refuseSuspended(int cntlid) throws NvmeException {
        if (!subsystem.isMigratable(cntlid) || subsystem.controller(cntlid).migrationState() == Controller.State.ACTIVE) return;
        Optional<Integer> to = claims.migratedTo(cntlid);
        Optional<String> away = claims.movedAway(cntlid);
        throw new ControllerSuspendedException(cntlid, to.isPresent()
                ? "controller " + cntlid + " is suspended: migrated to " + to.get()
                : away.isPresent() ? "controller " + cntlid + " is suspended: migrated to " + away.get()
                : "controller " + cntlid + " is suspended (a migration holds it); it serves again after a Resume");
    }

    /**
     * The guest quiesce of a move to another host, in the VMM's role (see SimMessage.Gate),
     * accepted only from the client migrating {@code cntlid}. QUIESCE holds new guest I/O of the
     * server's driver and waits (at most {@link #QUIESCE_TIMEOUT}) for what is in flight; RELEASE
     * submits what was held; DETACH, after the destination committed, fails held and later
     * guest I/O and resets the controller (as {@link #resetSwitchedSource} does): its queue
     * registers name memory whose commands now belong to the destination's guest.
     */
    void gate(DeviceSession requester, int cntlid, dev.nvmelm.host.sim.SimMessage.GateStep step, String destination) throws NvmeException {
        if (cntlid < 1 || cntlid >= devices.length()) throw new NvmeException("no migratable controller " + cntlid + " in this subsystem");
        PciNvmeDevice d;
        synchronized (this) {
            if (closed) throw new NvmeException("device server is shutting down");
            Optional<String> refusal = claims.admitGate(requester, cntlid, step, suspended(cntlid));
            if (refusal.isPresent()) throw new NvmeException(step.name().toLowerCase() + " refused: " + refusal.get());
            d = devices.get(cntlid);
            if (step == dev.nvmelm.host.sim.SimMessage.GateStep.DETACH) {
                String where = "controller " + cntlid + " is suspended: migrated to " + destination;
                claims.detached(cntlid, destination);
                if (d != null) {
                    d.detachIo(where);
                    devices.set(cntlid, null);   // a later client is refused with where it went (refuseSuspended)
                }
            }
        }
        switch (step) {
            case QUIESCE -> {
                if (d == null) return;   // no host driver: no guest to hold
                try {
                    d.quiesceIo(QUIESCE_TIMEOUT);
                } catch (NvmeException e) {
                    claims.quiesceFailed(requester, cntlid);
                    throw e;
                }
                log("device server: controller " + cntlid + " quiesced for a move to " + destination + " (" + d.heldIo() + " guest commands held)");
            }
            case RELEASE -> {
                int held = d == null ? 0 : d.heldIo();
                if (d != null) d.releaseIo();
                log("device server: controller " + cntlid + " released (" + held + " held guest commands submitted)");
            }
            case DETACH -> {
                if (d != null) d.close();   // CC.EN 0: deletes the stale queues, keeps the controller suspended
                log("device server: controller " + cntlid + " detached and reset: migrated to " + destination);
            }
        }
    }

    /** Submits guest I/O held for a client that went away before it released or detached. */
    void releaseIo(int cntlid) {
        PciNvmeDevice d = devices.get(cntlid);
        if (d != null) d.releaseIo();
    }

    /** Creates the driver of {@code cntlid} on its own thread; MCs wait out suspensions, the MMC never holds commands. */
    private void enable(int cntlid, CompletableFuture<PciNvmeDevice> result) {
        try {
            Duration timeout = cntlid == 0 ? MMC_TIMEOUT : Duration.ofHours(1);
            PciNvmeDevice d = new PciNvmeDevice(subsystem.controller(cntlid), memory,
                    new PciNvmeDevice.Options("sim#" + cntlid, 2, 256, timeout, 4));
            forwardEvents(d, cntlid);
            synchronized (this) {
                starting.remove(cntlid);
                if (closed) {
                    d.close();
                    throw new NvmeException("device server is shutting down");
                }
                devices.set(cntlid, d);
            }
            result.complete(d);
        } catch (NvmeException | RuntimeException e) {
            synchronized (this) {
                starting.remove(cntlid);
            }
            result.completeExceptionally(e);
        }
    }

    /** CDQ events go to the client holding that CDQ, other asynchronous events to the controller's clients. */
    private void forwardEvents(PciNvmeDevice d, int cntlid) {
        d.onCdqEvent((cdqid, e) -> {
            CdqRecord r = cdqs.get(cdqid);
            DeviceSession owner = r == null ? null : r.owner;
            if (owner != null) owner.send(new SimMessage.Event(0, cdqid, e.dw0(), e.dw1()));
        });
        d.onAsyncEvent(e -> sessions.stream().filter(s -> s.cntlid() == cntlid)
                .forEach(s -> s.send(new SimMessage.Event(0, SimMessage.NO_CDQ, e.type() | e.info() << 8 | e.logPage() << 16, e.dw1()))));
    }

    /**
     * The VMM's part of an incoming migration whose guest memory does not come along: maps fresh
     * memory in this server's host memory at the IOVAs where the controller state puts its I/O
     * queues, before that state is loaded into a controller here (Set Controller State checks
     * that the rings are mapped). Call it before anything else allocates: the server's own
     * queues and buffers are placed around these regions.
     */
    public void placeQueues(dev.nvmelm.spec.ControllerState state) throws NvmeException {
        java.util.List<java.lang.foreign.MemorySegment> placed = new java.util.ArrayList<>();
        try {
            for (dev.nvmelm.spec.IoSqState sq : state.sqs()) placed.add(memory.allocateAt(sq.prp1(), (sq.qsizeZeroBased() + 1L) * dev.nvmelm.spec.Sqe.SIZE));
            for (dev.nvmelm.spec.IoCqState cq : state.cqs()) placed.add(memory.allocateAt(cq.prp1(), (cq.qsizeZeroBased() + 1L) * dev.nvmelm.spec.Cqe.SIZE));
        } catch (IllegalArgumentException e) {
            for (java.lang.foreign.MemorySegment m : placed) memory.free(m);
            throw new NvmeException("cannot place the migrated controller's queues in " + memoryPath + ": " + e.getMessage(), e);
        }
    }

    /**
     * Makes this server's driver of controller {@code cntlid} one that adopts the I/O queues
     * {@code loaded} names (see {@link PciNvmeDevice#adopt}): the controller received that state
     * (Set Controller State) into the rings {@link #placeQueues} mapped, and is not yet resumed.
     * From then on its clients, NBD exports and migrations use those queues, as they would a
     * driver this server enabled. Refused if the controller already has a driver.
     */
    public PciNvmeDevice adoptQueues(int cntlid, dev.nvmelm.spec.ControllerState loaded) throws NvmeException {
        if (cntlid < 1 || cntlid >= devices.length()) throw new NvmeException("no migratable controller " + cntlid + " in this subsystem");
        synchronized (this) {
            if (closed) throw new NvmeException("device server is shutting down");
            if (devices.get(cntlid) != null || starting.containsKey(cntlid)) throw new NvmeException("controller " + cntlid + " already has a host driver");
            starting.put(cntlid, new CompletableFuture<>());   // holds the slot while the driver comes up
        }
        PciNvmeDevice d = null;
        try {
            d = PciNvmeDevice.adopt(subsystem.controller(cntlid), memory, loaded, new PciNvmeDevice.Options("sim#" + cntlid, 2, 256, Duration.ofHours(1), 4));
            forwardEvents(d, cntlid);
            return d;
        } finally {
            synchronized (this) {
                CompletableFuture<PciNvmeDevice> waiters = starting.remove(cntlid);
                if (d != null) {
                    devices.set(cntlid, d);
                    waiters.complete(d);
                } else {
                    waiters.completeExceptionally(new NvmeException("controller " + cntlid + " could not adopt the migrated state"));
                }
            }
        }
    }

    /**
     * The switchover, in the VMM's role: the server's driver of controller {@code from} — its I/O
     * queues, the clients using them, NBD exports on them — continues on controller {@code to},
     * which has received the queue state (Set Controller State) and is not yet resumed. Both
     * controllers share this server's host memory, so the queues need not move. Accepted only
     * from the client migrating {@code from} (see {@link MigrationClaims}); the controllers are
     * touched with no server-wide lock held.
     */
    void handover(DeviceSession requester, int from, int to) throws NvmeException {
        if (from < 1 || to < 1 || from >= devices.length() || to >= devices.length() || from == to) {
            throw new NvmeException("handover from controller " + from + " to " + to + ": both must be distinct migratable controllers of this subsystem");
        }
        PciNvmeDevice d;
        synchronized (this) {
            if (closed) throw new NvmeException("device server is shutting down");
            Optional<String> refusal = claims.admitHandover(requester, from, to, suspended(from), suspended(to));
            if (refusal.isPresent()) throw new NvmeException("handover from controller " + from + " to " + to + " refused: " + refusal.get());
            d = devices.get(from);
            if (d == null) throw new NvmeException("handover: no host uses controller " + from + " (nothing to move)");
            if (devices.get(to) != null || starting.containsKey(to)) throw new NvmeException("handover: controller " + to + " already has a host driver");
            devices.set(from, null);
            starting.put(to, new CompletableFuture<>());   // holds the slot: nobody enables `to` meanwhile
        }
        try {
            d.moveTo(subsystem.controller(to));
        } catch (NvmeException | RuntimeException e) {
            synchronized (this) {
                starting.remove(to);
                devices.set(from, d);
            }
            throw e;
        }
        synchronized (this) {
            starting.remove(to).completeExceptionally(new NvmeException("controller " + to + " was being switched over"));
            devices.set(to, d);
            claims.handedOver(requester, from, to);
        }
    }

    /**
     * After the destination resumed: a controller reset of the switchover's source (CC.EN 0,
     * which deletes its queues and keeps it suspended). Its queue registers named the memory the
     * destination now runs, so resuming it unreset would fetch and complete the guest's commands
     * a second time. Afterwards it may be resumed and used (or migrated into) afresh.
     */
    void resetSwitchedSource(int cntlid) {
        subsystem.controller(cntlid).write32(Registers.CC, 0);   // runs on the controller's thread; nothing here waits
        log("device server: controller " + cntlid + " reset after its queues moved away");
    }

    private boolean suspended(int cntlid) {
        return subsystem.controller(cntlid).migrationState() == Controller.State.SUSPENDED;
    }

    MigrationClaims claims() {
        return claims;
    }

    int controllerCount() {
        return devices.length();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel s = listener.accept();
                DeviceSession session = new DeviceSession(this, new SimChannel(s));
                sessions.add(session);
                Thread.ofVirtual().name("sim-session").start(session::run);
            } catch (IOException e) {
                if (!closed) log("device server: accept failed: " + e.getMessage());
            }
        }
    }

    /**
     * Stops serving: drops clients (deleting their CDQs), disables controllers, flushes
     * namespaces, removes the socket and the host memory file and releases DIR. Waits on no
     * lock a client's command could hold.
     */
    @Override
    public void close() throws IOException {
        if (closed) return;
        closed = true;
        listener.close();
        for (DeviceSession s : sessions) s.close();
        for (CdqRecord r : cdqs.values()) {
            try {
                r.queue.close();
            } catch (NvmeException e) {
                log("device server: " + e.getMessage());
            }
        }
        cdqs.clear();
        for (int c = 0; c < devices.length(); c++) {
            PciNvmeDevice d = devices.getAndSet(c, null);
            if (d != null) d.close();
        }
        try {
            subsystem.close();
        } finally {
            memory.close();
            arena.close();
            try {
                Files.deleteIfExists(socketPath);
                Files.deleteIfExists(memoryPath);
            } finally {
                lock.close();
            }
        }
    }
}
