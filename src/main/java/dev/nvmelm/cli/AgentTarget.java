package dev.nvmelm.cli;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.embedded.EmbeddedSubsystem;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.pci.HostMemory;
import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.block.NvmeBlockDevice;
import dev.nvmelm.migrate.state.ControllerStateMachine;
import dev.nvmelm.migrate.state.IllegalTransitionException;
import dev.nvmelm.migrate.state.MigState;
import dev.nvmelm.nbd.Nbd;
import dev.nvmelm.nbd.NbdError;
import dev.nvmelm.net.agent.DestinationTarget;
import dev.nvmelm.spec.ControllerState;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.IoCqState;
import dev.nvmelm.spec.IoSqState;
import dev.nvmelm.spec.Sqe;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * What {@code nvme-lm serve} migrates into: a software subsystem per migration in DIR/<id>/
 * (two migratable controllers, so a served namespace can also move on locally). Until the
 * commit, namespace 1 of MC 1 receives the data through the MMC and MC 1 waits suspended, with
 * no I/O queues. At the commit the subsystem becomes a {@code device serve} subsystem on
 * DIR/<id>/ctl.sock: the controller state is loaded into MC 1, whose I/O queues (the rings
 * mapped in the server's host memory at the addresses the state names) are adopted by the
 * server's driver of MC 1, and MC 1 resumes. From then on its guests are that server's clients
 * (sim:, and the agent's NBD export), tracked by its CDQ like any guest's (docs/network.md).
 */
final class AgentTarget implements DestinationTarget {
    /** Host memory of a served migration beyond what its adopted queues need (queues, buffers, CDQ rings of its clients). */
    static final long SERVED_MEMORY_BYTES = 64L << 20;
    private static final int CNTLID = 1, NSID = 1;

    private final UUID id;
    private final HostMemory guestMemory = new HostMemory();
    /** Taken for reading by every early read, for writing by the switch to serving: no read runs on a closed driver. */
    private final ReentrantReadWriteLock switching = new ReentrantReadWriteLock();
    private EmbeddedSubsystem embedded;                 // until the commit
    private volatile BlockDevice data;                  // the namespace through the MMC's shared namespace
    private ControllerStateMachine mc;
    private volatile DeviceServer server;               // from the commit on
    private volatile LazyNamespace served;              // the guest's namespace once MC 1 has resumed
    private volatile boolean closed;
    private volatile long servedMemoryBytes;

    private AgentTarget(UUID id, Path dir, long sizeBytes, int lbaSizeBytes) throws IOException, NvmeException {
        this.id = id;
        EmbeddedSubsystem s = new EmbeddedSubsystem(new Subsystem.Config(dir, sizeBytes, 1, 2, lbaSizeBytes), guestMemory, "agent " + dir.getFileName());
        try {
            this.data = new NvmeBlockDevice(s.mmc(), NSID);
            this.mc = new ControllerStateMachine(s.mmc(), CNTLID, MigState.RUNNING);
            mc.transition(MigState.STOP);   // a destination MC waits suspended for its state
        } catch (NvmeException | RuntimeException e) {
            s.close();
            throw e;
        }
        this.embedded = s;
    }

    static DestinationTarget.Factory factory(Path dir) {
        return (UUID id, long sizeBytes, int lbaSizeBytes) -> {
            Files.createDirectories(dir);
            long usable = Files.getFileStore(dir).getUsableSpace();
            if (usable < sizeBytes) {
                throw new IOException("not enough space in " + dir + " for a " + sizeBytes + "-byte namespace (" + usable + " bytes usable)");
            }
            Path target = dir.resolve(id.toString());
            Path socket = target.resolve(DeviceServer.SOCKET_NAME).toAbsolutePath().normalize();
            if (socket.toString().getBytes().length > 107) {
                // refused now, not after the whole copy: the committed namespace is served on this socket
                throw new IOException("the served socket " + socket + " would be longer than the 107 bytes a Unix socket allows; use a shorter --dir");
            }
            try {
                return new AgentTarget(id, target, sizeBytes, lbaSizeBytes);
            } catch (NvmeException e) {
                throw new IOException(e.getMessage(), e);
            }
        };
    }

    @Override
    public BlockDevice data() {
        return data;
    }

    /**
     * The controller state names the guest's queues by IOVA. nvme-lm moves the namespace and the
     * controller, not the guest's RAM (the VMM's job), so the agent maps empty memory there in
     * the served subsystem's host memory, which is right only if no command was waiting in a
     * submission queue; with one waiting, the state is refused rather than letting the
     * controller fetch zeroes as commands.
     */
    @Override
    public void applyState(byte[] state) throws IOException {
        ControllerState cs;
        try {
            cs = ControllerState.decode(state);
        } catch (IllegalArgumentException e) {
            throw new IOException("the controller state is malformed: " + e.getMessage(), e);
        }
        for (IoSqState sq : cs.sqs()) {
            if (sq.head() != sq.tail()) {
                throw new IOException("the source's submission queue " + sq.qid() + " had commands waiting (head " + sq.head() + ", tail " + sq.tail()
                        + "); without the guest's memory they cannot be carried over");
            }
        }
        serve(cs);
        try {
            mc.transition(MigState.RESUMING);
            mc.load(state);
            mc.transition(MigState.STOP);   // Set Controller State
            if (!cs.sqs().isEmpty()) server.adoptQueues(CNTLID, cs);
        } catch (NvmeException | IllegalTransitionException e) {
            throw new IOException("applying the controller state: " + e.getMessage(), e);
        }
    }

    /**
     * The switch to serving: the embedded MMC driver goes, the same running subsystem is served
     * on DIR/<id>/ctl.sock with the guest's queue rings placed first in its host memory (before
     * its own driver allocates any), and the MMC is driven by the server from now on.
     */
    private void serve(ControllerState cs) throws IOException {
        if (server != null) return;
        switching.writeLock().lock();
        try {
            Subsystem s = embedded.handOff();
            DeviceServer d;
            try {
                servedMemoryBytes = memoryFor(cs);
                d = DeviceServer.serve(s, servedMemoryBytes, null);
            } catch (IOException | NvmeException | RuntimeException e) {
                s.close();
                throw new IOException("serving the migrated subsystem: " + e.getMessage(), e);
            }
            server = d;
            guestMemory.close();
            try {
                d.placeQueues(cs);
                data = new NvmeBlockDevice(d.device(0), NSID);
                mc = new ControllerStateMachine(d.device(0), CNTLID, MigState.STOP);
            } catch (NvmeException e) {
                throw new IOException(e.getMessage(), e);
            }
        } finally {
            switching.writeLock().unlock();
        }
    }

    /** Enough host memory to hold the guest's queues at their IOVAs, and room for the server's own. */
    private static long memoryFor(ControllerState cs) {
        long end = 0;
        for (IoSqState q : cs.sqs()) end = Math.max(end, q.prp1() - HostMemory.IOVA_BASE + (q.qsizeZeroBased() + 1L) * Sqe.SIZE);
        for (IoCqState q : cs.cqs()) end = Math.max(end, q.prp1() - HostMemory.IOVA_BASE + (q.qsizeZeroBased() + 1L) * Cqe.SIZE);
        long bytes = (end + 2L * HostMemory.PAGE + HostMemory.PAGE - 1) / HostMemory.PAGE * HostMemory.PAGE + SERVED_MEMORY_BYTES;
        return Math.min(bytes, DeviceServer.MAX_MEMORY_BYTES);   // queues past that cannot be placed: placeQueues says so
    }

    @Override
    public void resume() throws IOException {
        serve(new ControllerState(0, true, 0, List.of(), List.of(), new byte[0]));   // no state was sent: nothing to adopt
        try {
            mc.transition(MigState.RUNNING);
        } catch (NvmeException | IllegalTransitionException e) {
            throw new IOException("resuming the destination controller: " + e.getMessage(), e);
        }
        served = new LazyNamespace(server, CNTLID, NSID);
    }

    @Override
    public boolean serving() {
        return served != null && !closed;
    }

    /** The served subsystem's host memory file (DIR/<id>/hostmem, sparse) may grow to its full size. */
    @Override
    public long servingBytes() {
        return serving() ? servedMemoryBytes : 0;
    }

    /** The device string of the served subsystem (its MMC), once committed. */
    String deviceString() {
        DeviceServer s = server;
        return s == null ? null : s.deviceString();
    }

    // ---- the namespace as the agent's NBD export shows it (docs/vm.md) ----

    private NbdError notYet() {
        return new NbdError(Nbd.EPERM, "migration " + id + " is not committed yet: its destination takes writes only from the switchover on");
    }

    /** Before the commit: the namespace as copied so far (the MMC's shared namespace); then the guest's. */
    void read(long offset, MemorySegment dst) throws IOException {
        BlockDevice g = served;
        if (g != null) {
            g.read(offset, dst);
            return;
        }
        switching.readLock().lock();
        try {
            g = served;
            (g != null ? g : data).read(offset, dst);
        } finally {
            switching.readLock().unlock();
        }
    }

    List<BlockDevice.Extent> allocated(long offset, long length) throws IOException {
        BlockDevice g = served;
        if (g != null) return g.allocated(offset, length);
        switching.readLock().lock();
        try {
            g = served;
            return (g != null ? g : data).allocated(offset, length);
        } finally {
            switching.readLock().unlock();
        }
    }

    void write(long offset, MemorySegment src) throws IOException {
        BlockDevice g = served;
        if (g == null) throw notYet();
        g.write(offset, src);
    }

    void writeZeroes(long offset, long length, boolean deallocate) throws IOException {
        BlockDevice g = served;
        if (g == null) throw notYet();
        g.writeZeroes(offset, length, deallocate);
    }

    /** Before the commit nothing was accepted to flush. */
    void flush() throws IOException {
        BlockDevice g = served;
        if (g != null) g.flush();
    }

    @Override
    public void close() throws IOException {
        if (closed) return;
        closed = true;
        switching.writeLock().lock();
        try {
            DeviceServer s = server;
            if (s != null) s.close();
            else embedded.close();
        } finally {
            guestMemory.close();
            switching.writeLock().unlock();
        }
    }
}
