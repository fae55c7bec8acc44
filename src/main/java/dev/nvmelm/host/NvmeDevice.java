package dev.nvmelm.host;

import dev.nvmelm.spec.Sqe;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The one interface the rest of nvme-lm uses to talk to an NVMe controller, at the level of
 * Linux passthrough: submit a command with a data buffer, get its completion. The backend owns
 * PRPs, command identifiers and queues, exactly as the kernel does for NVME_IOCTL_ADMIN64_CMD.
 * Backends: the in-process queue driver (embedded controller), {@code sim:} devices served by
 * {@code nvme-lm device serve}, and Linux {@code /dev/nvmeX} through FFM.
 *
 * <p>The SQE's PRP fields and CID are ignored (the backend sets them). The transfer direction
 * comes from opcode bits 1:0; {@code data} may be null for commands without data.
 */
public interface NvmeDevice extends AutoCloseable {

    /** The device string this was opened from, for messages. */
    String name();

    /** Submits an admin command to the addressed controller. */
    CompletableFuture<Completion> submitAdmin(Sqe sqe, MemorySegment data);

    /** Submits an NVM I/O command on one of the backend's I/O queues of the addressed controller. */
    CompletableFuture<Completion> submitIo(Sqe sqe, MemorySegment data);

    /**
     * Allocates a buffer the backend can DMA without copying (zero-copy for in-process
     * backends; an ordinary page-aligned buffer elsewhere). Freed when the device closes.
     */
    MemorySegment allocateBuffer(long sizeBytes);

    /**
     * Returns a buffer from {@link #allocateBuffer} before the device closes, for callers that
     * allocate per operation. After this the buffer must not be used. Backends whose memory is
     * released only at close (an arena) may do nothing.
     */
    default void freeBuffer(MemorySegment buffer) {}

    /**
     * Creates a User Data Migration Queue for the migratable controller {@code cntlid}, in host
     * memory the caller can read in place, with notifications for Tail Pointer Trigger and
     * CDQ Full events. Does not start tracking.
     */
    CdqQueue createCdq(int cntlid, long sizeBytes) throws NvmeException;

    /**
     * Takes over a CDQ that an earlier process created and detached (see {@link CdqQueue#detach}),
     * with the cursor it saved. Only a served device keeps CDQs between processes.
     */
    default CdqQueue attachCdq(int cdqid) throws NvmeException {
        throw new NvmeException(name() + ": CDQ " + cdqid + " belongs to no process here; this device cannot hand CDQs"
                + " from one process to another (use 'nvme-lm lm cdq-watch', which creates, reads and deletes in one process)");
    }

    /** Asynchronous events that the backend does not route to a CDQ (for logging). */
    void onAsyncEvent(Consumer<AsyncEventInfo> listener);

    /** Default timeout for blocking calls. */
    Duration timeout();

    /** Blocking admin submit that throws on a transport failure or timeout (not on NVMe status). */
    default Completion admin(Sqe sqe, MemorySegment data) throws NvmeException {
        return waitFor(submitAdmin(sqe, data));
    }

    /** Blocking I/O submit that throws on a transport failure or timeout (not on NVMe status). */
    default Completion io(Sqe sqe, MemorySegment data) throws NvmeException {
        return waitFor(submitIo(sqe, data));
    }

    /** Waits for a command of this device (at most {@link #timeout()}); throws on a transport failure or timeout, not on NVMe status. */
    default Completion waitFor(CompletableFuture<Completion> command) throws NvmeException {
        return Completion.await(name(), command, timeout());
    }

    @Override
    void close();
}
