package dev.nvmelm.migrate.state;

import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.spec.ControllerState;
import dev.nvmelm.spec.Disagreements;
import dev.nvmelm.spec.MigrationReceiveCommand;
import dev.nvmelm.spec.MigrationSendCommand;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The volatile state of one migratable controller, handled the VFIO migration v2 way
 * (Linux VFIO migration v2; docs/spec.md, "End-to-end flow"): the caller asks for a target state and the machine walks
 * the legal arcs, each mapped to NVMe commands sent to the migration management controller:
 * RUNNING->STOP = Suspend; STOP->STOP_COPY = Get Controller State (in chunks); STOP_COPY->STOP =
 * drop the buffer; STOP->RESUMING = start a buffer; RESUMING->STOP = Set Controller State (in
 * chunks); STOP->RUNNING = Resume. RUNNING<->PRE_COPY carries no controller state for NVMe (media
 * pre-copy is the CDQ's job). A failed arc leaves ERROR.
 */
public final class ControllerStateMachine {
    static final int CHUNK_BYTES = 64 << 10;

    private final NvmeDevice mmc;
    private final int cntlid;
    private MigState state;
    private byte[] saved;      // STOP_COPY output
    private byte[] incoming;   // RESUMING input
    private final java.util.List<MigState> history = new java.util.ArrayList<>();

    public ControllerStateMachine(NvmeDevice mmc, int cntlid, MigState initial) {
        this.mmc = mmc;
        this.cntlid = cntlid;
        this.state = initial;
        history.add(initial);
    }

    /** Every state the machine has been in, in order, starting with the initial one. */
    public synchronized List<MigState> history() {
        return List.copyOf(history);
    }

    public synchronized MigState state() {
        return state;
    }

    /** The state read in STOP_COPY. */
    public byte[] savedState() {
        if (saved == null) throw new IllegalStateException("no saved state: controller " + cntlid + " is in " + state);
        return saved.clone();
    }

    /** Supplies the state to load; only in RESUMING. */
    public void load(byte[] state) {
        if (this.state != MigState.RESUMING) throw new IllegalTransitionException(this.state, MigState.RESUMING, "state can only be written in RESUMING");
        this.incoming = state.clone();
    }

    /**
     * Get Controller State without changing the machine: the same commands as STOP_COPY, on a
     * controller that need not be suspended (its queues may move meanwhile, so the result is
     * only good for warming and timing the path, never for a switchover).
     */
    public byte[] peekState() throws NvmeException {
        return readState();
    }

    /** Walks to {@code target} through legal arcs; on failure the machine is in ERROR and the exception names the arc. */
    public synchronized void transition(MigState target) throws NvmeException {
        List<MigState> path = Arcs.plan(state, target);
        for (MigState next : path) {
            MigState from = state;
            try {
                step(from, next);
                state = next;
                history.add(next);
            } catch (NvmeException | RuntimeException e) {
                state = MigState.ERROR;
                history.add(MigState.ERROR);
                throw new NvmeException("controller " + cntlid + ": " + from + " -> " + next + " failed: " + e.getMessage(), e);
            }
        }
    }

    private void step(MigState from, MigState to) throws NvmeException {
        switch (from + "->" + to) {
            case "RUNNING->STOP", "PRE_COPY->STOP_COPY" -> {
                suspend();
                if (to == MigState.STOP_COPY) saved = readState();
            }
            case "STOP->STOP_COPY" -> saved = readState();
            case "STOP_COPY->STOP" -> saved = null;
            case "STOP->RESUMING" -> incoming = null;
            case "RESUMING->STOP" -> {
                if (incoming == null) throw new NvmeException("no controller state was loaded");
                writeState(incoming);
                incoming = null;
            }
            case "STOP->RUNNING" -> mmc.admin(new MigrationSendCommand.Resume(cntlid, 0).toSqe(), null).orThrow("Resume controller " + cntlid);
            case "RUNNING->PRE_COPY", "PRE_COPY->RUNNING" -> { /* media tracking is separate */ }
            default -> throw new IllegalTransitionException(from, to, "no NVMe mapping");
        }
    }

    private void suspend() throws NvmeException {
        mmc.admin(new MigrationSendCommand.Suspend(cntlid, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe(), null)
                .orThrow("Suspend controller " + cntlid);
    }

    /**
     * Get Controller State: one 4 KiB read, which holds the header and, for a few queues, the
     * whole state (it is downtime); the rest, if any, in chunks of at most 64 KiB.
     */
    private byte[] readState() throws NvmeException {
        MemorySegment buf = mmc.allocateBuffer(CHUNK_BYTES);
        try {
            return readState(buf);
        } finally {
            mmc.freeBuffer(buf);
        }
    }

    private byte[] readState(MemorySegment buf) throws NvmeException {
        int csvi = Disagreements.CSVI_FIRST_VERSION;
        int first = 4096;
        mmc.admin(MigrationReceiveCommand.read(cntlid, csvi, 0, first).toSqe(), buf.asSlice(0, first)).orThrow("Get Controller State of " + cntlid);
        long total = ControllerState.Header.decode(buf.asSlice(0, ControllerState.HEADER_BYTES).toArray(ValueLayout.JAVA_BYTE)).totalBytes();
        if (total > 16 << 20) throw new NvmeException("controller " + cntlid + " reports a " + total + "-byte state; refusing more than 16 MiB");
        byte[] out = new byte[(int) total];
        MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, out, 0, (int) Math.min(total, first));
        for (long off = first; off < total; off += CHUNK_BYTES) {
            int n = (int) Math.min(CHUNK_BYTES, total - off);
            int len = (n + 3) & ~3;
            mmc.admin(MigrationReceiveCommand.read(cntlid, csvi, off, len).toSqe(), buf.asSlice(0, len)).orThrow("Get Controller State of " + cntlid + " at " + off);
            MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, out, (int) off, n);
        }
        ControllerState.decode(out);   // validate before anyone relies on it
        return out;
    }

    /** Set Controller State: SEQIND 3 when it fits one chunk, else 1, 0 ... 0, 2. */
    private void writeState(byte[] state) throws NvmeException {
        if (state.length % 4 != 0) throw new NvmeException("controller state must be whole dwords");
        MemorySegment buf = mmc.allocateBuffer(CHUNK_BYTES);
        try {
            writeState(state, buf);
        } finally {
            mmc.freeBuffer(buf);
        }
    }

    private void writeState(byte[] state, MemorySegment buf) throws NvmeException {
        int chunks = Math.max(1, (state.length + CHUNK_BYTES - 1) / CHUNK_BYTES);
        for (int i = 0; i < chunks; i++) {
            int off = i * CHUNK_BYTES, n = Math.min(CHUNK_BYTES, state.length - off);
            int seq = chunks == 1 ? MigrationSendCommand.SEQIND_ENTIRE : i == 0 ? MigrationSendCommand.SEQIND_FIRST
                    : i == chunks - 1 ? MigrationSendCommand.SEQIND_LAST : MigrationSendCommand.SEQIND_MIDDLE;
            MemorySegment.copy(state, off, buf, ValueLayout.JAVA_BYTE, 0, n);
            mmc.admin(new MigrationSendCommand.SetControllerState(cntlid, seq, Disagreements.CSVI_FIRST_VERSION, 0, off, 0,
                    Disagreements.migrationSendNumd(n / 4)).toSqe(), buf.asSlice(0, n)).orThrow("Set Controller State of " + cntlid);
        }
    }
}
