package dev.nvmelm.embedded;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.pci.HostMemory;
import dev.nvmelm.host.pci.PciNvmeDevice;
import dev.nvmelm.host.sim.SimChannel;
import dev.nvmelm.host.sim.SimMessage;

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
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

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

    private final Subsystem subsystem;
    private final Path socketPath, memoryPath;
    private final long memoryBytes;
    private final Arena arena = Arena.ofShared();
    private final HostMemory memory;
    private final PciNvmeDevice[] devices;
    final Map<Integer, CdqRecord> cdqs = new ConcurrentHashMap<>();
    final Set<DeviceSession> sessions = ConcurrentHashMap.newKeySet();
    private final ServerSocketChannel listener;
    private final PrintStream log;
    private volatile boolean closed;

    /** A CDQ the server holds for its clients: its owner (null when detached) and saved cursor. */
    static final class CdqRecord {
        final CdqQueue queue;
        final PciNvmeDevice device;
        volatile DeviceSession owner;
        volatile CdqQueue.Cursor cursor = CdqQueue.Cursor.START;

        CdqRecord(CdqQueue queue, PciNvmeDevice device, DeviceSession owner) {
            this.queue = queue;
            this.device = device;
            this.owner = owner;
        }
    }

    private DeviceServer(Subsystem subsystem, Path dir, long memoryBytes, PrintStream log) throws IOException, NvmeException {
        this.subsystem = subsystem;
        this.log = log;
        this.socketPath = dir.resolve(SOCKET_NAME).toAbsolutePath().normalize();
        this.memoryPath = dir.resolve(MEMORY_NAME).toAbsolutePath().normalize();
        this.memoryBytes = memoryBytes;
        if (socketPath.toString().getBytes().length > 107) {
            throw new IOException("socket path " + socketPath + " is longer than the 107 bytes a Unix socket allows; use a shorter --dir");
        }
        // Fresh memory on every start: nothing a previous run left in it is valid any more.
        try (FileChannel fc = FileChannel.open(memoryPath, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            fc.truncate(0);
            MemorySegment backing = fc.map(FileChannel.MapMode.READ_WRITE, 0, memoryBytes, arena);
            this.memory = new HostMemory(backing);
        }
        devices = new PciNvmeDevice[subsystem.controllerCount()];
        for (int c = 0; c < devices.length; c++) subsystem.controller(c).attach(memory);
        this.listener = bind(socketPath);
    }

    private static ServerSocketChannel bind(Path socket) throws IOException {
        if (Files.exists(socket)) {
            try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                probe.connect(UnixDomainSocketAddress.of(socket));
                throw new IOException("a device server is already listening on " + socket);
            } catch (IOException e) {
                if (e.getMessage() != null && e.getMessage().startsWith("a device server")) throw e;
                Files.delete(socket);   // a stale socket of a server that died
            }
        }
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(socket));
        return s;
    }

    /** Opens (or creates) the subsystem in {@code config.dir()} and starts serving it. */
    public static DeviceServer start(Subsystem.Config config, long memoryBytes, PrintStream log) throws IOException, NvmeException {
        if (memoryBytes < (1 << 20) || memoryBytes % HostMemory.PAGE != 0) throw new IllegalArgumentException("host memory must be at least 1 MiB, in whole pages");
        Subsystem s = Subsystem.open(config);
        DeviceServer server;
        try {
            server = new DeviceServer(s, config.dir(), memoryBytes, log);
        } catch (IOException | NvmeException | RuntimeException e) {
            s.close();
            throw e;
        }
        Thread.ofPlatform().daemon().name("sim-accept").start(server::acceptLoop);
        return server;
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
     * timeout, and NBD requests to a suspended MC must wait, not fail.
     */
    public synchronized PciNvmeDevice device(int cntlid) throws NvmeException {
        if (closed) throw new NvmeException("device server is shutting down");
        if (cntlid < 0 || cntlid >= devices.length) throw new NvmeException("no controller with CNTLID " + cntlid + "; this subsystem has 0 (MMC) to " + (devices.length - 1));
        if (devices[cntlid] == null) {
            PciNvmeDevice d = new PciNvmeDevice(subsystem.controller(cntlid), memory,
                    new PciNvmeDevice.Options("sim#" + cntlid, 2, 256, Duration.ofHours(1), 4));
            d.onCdqEvent((cdqid, e) -> {
                CdqRecord r = cdqs.get(cdqid);
                DeviceSession owner = r == null ? null : r.owner;
                if (owner != null) owner.send(new SimMessage.Event(0, cdqid, e.dw0(), e.dw1()));
            });
            d.onAsyncEvent(e -> sessions.stream().filter(s -> s.cntlid() == cntlid)
                    .forEach(s -> s.send(new SimMessage.Event(0, SimMessage.NO_CDQ, e.type() | e.info() << 8 | e.logPage() << 16, e.dw1()))));
            devices[cntlid] = d;
        }
        return devices[cntlid];
    }

    /**
     * The switchover, in the VMM's role: the server's driver of controller {@code from} — its I/O
     * queues, the clients using them, NBD exports on them — continues on controller {@code to},
     * which has received the queue state (Set Controller State) and is not yet resumed. Both
     * controllers share this server's host memory, so the queues need not move.
     */
    public synchronized void handover(int from, int to) throws NvmeException {
        if (from < 1 || to < 1 || from >= devices.length || to >= devices.length || from == to) {
            throw new NvmeException("handover from controller " + from + " to " + to + ": both must be distinct migratable controllers of this subsystem");
        }
        PciNvmeDevice d = devices[from];
        if (d == null) throw new NvmeException("handover: no host uses controller " + from + " (nothing to move)");
        if (devices[to] != null) throw new NvmeException("handover: controller " + to + " already has a host driver");
        d.moveTo(subsystem.controller(to));
        devices[to] = d;
        devices[from] = null;
    }

    int controllerCount() {
        return devices.length;
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

    /** Stops serving: drops clients (deleting their CDQs), disables controllers, flushes namespaces. */
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
        synchronized (this) {
            for (PciNvmeDevice d : devices) if (d != null) d.close();
        }
        try {
            subsystem.close();
        } finally {
            memory.close();
            arena.close();
            Files.deleteIfExists(socketPath);
        }
    }
}
