package dev.nvmelm.device;

import dev.nvmelm.device.Controller.State;
import dev.nvmelm.device.Queues.CompletionQueue;
import dev.nvmelm.device.Queues.SubmissionQueue;
import dev.nvmelm.spec.ControllerState;
import dev.nvmelm.spec.Disagreements;
import dev.nvmelm.spec.IoCqState;
import dev.nvmelm.spec.IoSqState;
import dev.nvmelm.spec.MigrationReceiveCommand;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.SupportedControllerStateFormats;
import dev.nvmelm.spec.bus.DmaFault;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Migration Send (Suspend, Resume, Set Controller State) and Migration Receive (Get Controller
 * State), issued to the MMC about an MC (NVMe Base 2.1, sections 5.1.16 and 5.1.17; docs/spec.md).
 * Work that touches the MC runs on the
 * MC's own thread, after whatever command it is executing, so "suspend drains in-flight
 * commands" holds by construction; the MMC's command completes afterwards (deferred).
 */
final class Migration {
    /** One NVMe-defined controller state format, version 0000h (CSVI 1). */
    static final SupportedControllerStateFormats FORMATS = new SupportedControllerStateFormats(List.of(0), List.of());
    static final int MAX_STATE_BYTES = 1 << 20;

    private final Controller mmc;

    Migration(Controller mmc) {
        this.mmc = mmc;
    }

    Result send(Sqe s) {
        MigrationSendCommand cmd = MigrationSendCommand.decode(s);
        if (!mmc.subsystem.isMigratable(cmd.cntlid())) return Result.of(mmc.subsystem.choices().unknownCntlid());
        Controller mc = mmc.subsystem.controller(cmd.cntlid());
        return switch (cmd) {
            case MigrationSendCommand.Suspend su -> suspend(s, su, mc);
            case MigrationSendCommand.Resume r -> r.uidx() != 0 ? Result.invalidField() : resume(s, mc);
            case MigrationSendCommand.SetControllerState st -> setState(s, st, mc);
        };
    }

    /**
     * Suspend (STYPE 1): fetching stops at once; on the MC's thread, after what it was executing
     * (whose completions are then in host memory), the MC becomes SUSPENDED, posts ESA 3 and
     * deletes its UDMQ when DUDMQ=1; only then does this command complete. No room for the ESA 3
     * marker: 3Bh and the MC runs on, or, with the spec's {@link dev.nvmelm.spec.MarkerWithoutRoom#POST_QUEUE_FULL},
     * the MC suspends and the marker is the ESA 7 entry (see {@link Cdq#suspendedMarker}).
     * Already suspended: success (a DUDMQ still deletes).
     */
    private Result suspend(Sqe s, MigrationSendCommand.Suspend su, Controller mc) {
        if (su.uidx() != 0 || su.stype() > MigrationSendCommand.STYPE_SUSPEND) return Result.invalidField();
        if (su.stype() == MigrationSendCommand.STYPE_NOTIFICATION) return Result.ok();   // advisory: nothing changes yet
        Controller.Deferred done = mmc.defer(0, s.cid());
        mc.pendingSuspends.incrementAndGet();   // the MC's fetch loop stops at its next command
        mc.run(() -> {
            try {
                if (mc.state == State.SUSPENDED) {
                    deleteUdmqIf(su.dudmq(), mc);
                    mmc.finish(done, Result.ok());
                } else {
                    finishSuspend(mc, su.dudmq(), done);   // nothing in flight: see Controller.roomFor
                }
            } finally {
                mc.pendingSuspends.decrementAndGet();
            }
            mc.process();   // fetches again only if the suspend was refused
        });
        return Result.DEFERRED;
    }

    /** On the MC's thread. */
    private void finishSuspend(Controller mc, boolean dudmq, Controller.Deferred done) {
        Cdq q = mmc.subsystem.cdqs.forController(mc.cntlid);
        if (q != null && q.suspendedMarker().equals(Cdq.CDQ_FULL)) {
            mc.state = State.ACTIVE;   // no room for the "suspended" marker: refuse, change nothing
            mmc.finish(done, Result.error(StatusCodes.CDQ_FULL));
            return;
        }
        mc.state = State.SUSPENDED;
        deleteUdmqIf(dudmq, mc);
        mmc.finish(done, Result.ok());
    }

    private void deleteUdmqIf(boolean dudmq, Controller mc) {
        if (!dudmq) return;
        Cdq q = mmc.subsystem.cdqs.forController(mc.cntlid);
        if (q != null) {
            mmc.subsystem.cdqs.remove(q.cdqid);
            q.delete();
        }
    }

    /**
     * Resume: checked on the MC's thread, so two Resumes in a row cannot both succeed. No room
     * for the ESA 1 marker: 3Bh and the MC stays suspended, or it resumes with the marker as the
     * ESA 7 entry under the spec's choice ({@link Cdq#resumedMarker}).
     */
    private Result resume(Sqe s, Controller mc) {
        Controller.Deferred done = mmc.defer(0, s.cid());
        mc.run(() -> {
            if (mc.state != State.SUSPENDED) {
                mmc.finish(done, Result.error(StatusCodes.CTRL_NOT_SUSPENDED));
                return;
            }
            Cdq q = mmc.subsystem.cdqs.forController(mc.cntlid);
            if (q != null && q.resumedMarker().equals(Cdq.CDQ_FULL)) {
                mmc.finish(done, Result.error(StatusCodes.CDQ_FULL));   // stays suspended
                return;
            }
            mc.state = State.ACTIVE;
            mc.process();   // commands that waited in the SQs run now
            mmc.finish(done, Result.ok());
        });
        return Result.DEFERRED;
    }

    private Result setState(Sqe s, MigrationSendCommand.SetControllerState st, Controller mc) {
        // NVMe Base 2.1, section 5.1.17.1.3: CSVI and CSUUIDI both 0 is Invalid Field; only CSVI 1 is offered
        if (st.csvi() != Disagreements.CSVI_FIRST_VERSION || st.csuuidi() != 0 || st.uidx() != 0) return Result.invalidField();
        long len = st.lengthBytes();
        // The command that ends a sequence (SEQIND 10b) may carry no data: it only commits what
        // came before. A sequence cannot start with nothing.
        boolean opens = st.seqind() == MigrationSendCommand.SEQIND_FIRST || st.seqind() == MigrationSendCommand.SEQIND_ENTIRE;
        if (st.offsetBytes() % 4 != 0 || len == 0 && opens || st.offsetBytes() + len > MAX_STATE_BYTES) return Result.invalidField();
        byte[] chunk;
        try (Arena a = Arena.ofConfined()) {
            chunk = Dma.fromHost(mmc.memory(), s, len, a).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        }
        Controller.Deferred done = mmc.defer(0, s.cid());
        mc.run(() -> {
            Result r;
            // NVMe Base 2.1, Figure 362: 3Ah for a controller not suspended; 1Fh "the specified
            // controller is not in a condition to set the controller state" for one that still
            // has I/O queues (a state would collide with them)
            if (mc.state != State.SUSPENDED) r = Result.error(StatusCodes.CTRL_NOT_SUSPENDED);
            else if (mc.hasIoQueues()) r = Result.error(StatusCodes.INVALID_CTRL_ID);
            else r = accept(mc, st, chunk);
            mmc.finish(done, r);
        });
        return Result.DEFERRED;
    }

    /**
     * Appends a chunk (SEQIND 1 first, 0 middle, 2 last, 3 entire) and applies the state at the
     * end. Chunks arrive in order without gaps (offset = bytes received so far); a first chunk
     * restarts the sequence; a middle or last chunk with no sequence open is a Command Sequence
     * Error; a gap drops the sequence.
     */
    private static Result accept(Controller mc, MigrationSendCommand.SetControllerState st, byte[] chunk) {
        int seq = st.seqind();
        if (seq == MigrationSendCommand.SEQIND_FIRST || seq == MigrationSendCommand.SEQIND_ENTIRE) mc.incomingState = new byte[0];
        else if (mc.incomingState == null) return Result.error(StatusCodes.CMD_SEQ_ERROR);
        if (st.offsetBytes() != mc.incomingState.length) {
            mc.incomingState = null;
            return Result.invalidField();
        }
        byte[] grown = java.util.Arrays.copyOf(mc.incomingState, mc.incomingState.length + chunk.length);
        System.arraycopy(chunk, 0, grown, mc.incomingState.length, chunk.length);
        mc.incomingState = grown;
        if (seq == MigrationSendCommand.SEQIND_MIDDLE || seq == MigrationSendCommand.SEQIND_FIRST) return Result.ok();
        byte[] all = mc.incomingState;
        mc.incomingState = null;
        return apply(mc, all);
    }

    /** Recreates the I/O CQs, then the SQs, with their heads, tails and phases; all or nothing. */
    private static Result apply(Controller mc, byte[] bytes) {
        ControllerState cs;
        try {
            cs = ControllerState.decode(bytes);
        } catch (IllegalArgumentException e) {
            return Result.invalidField();
        }
        if (cs.stateVersion() != FORMATS.versions().getFirst() || cs.vendorSpecific().length != 0) return Result.invalidField();
        try {
            for (IoCqState q : cs.cqs()) {
                if (q.qid() < 1 || q.qid() > Controller.MAX_IO_QUEUES || mc.cqs[q.qid()] != null || !q.physicallyContiguous()
                        || (q.prp1() & 0xfff) != 0 || q.qsizeZeroBased() < 1 || q.qsizeZeroBased() > Controller.MQES
                        || q.head() > q.qsizeZeroBased() || q.tail() > q.qsizeZeroBased()) throw new IllegalArgumentException("bad CQ " + q);
                CompletionQueue cq = new CompletionQueue(q.qid(), q.qsizeZeroBased() + 1, q.interruptsEnabled(), q.interruptVector(), q.prp1(), mc.memory());
                cq.head = q.head();
                cq.tail = q.tail();
                cq.phase = q.producerPhase();
                mc.cqs[q.qid()] = cq;
            }
            for (IoSqState q : cs.sqs()) {
                if (q.qid() < 1 || q.qid() > Controller.MAX_IO_QUEUES || mc.sqs[q.qid()] != null || !q.physicallyContiguous()
                        || (q.prp1() & 0xfff) != 0 || q.cqid() < 1 || q.cqid() > Controller.MAX_IO_QUEUES || mc.cqs[q.cqid()] == null
                        || q.qsizeZeroBased() < 1 || q.qsizeZeroBased() > Controller.MQES
                        || q.head() > q.qsizeZeroBased() || q.tail() > q.qsizeZeroBased()) throw new IllegalArgumentException("bad SQ " + q);
                SubmissionQueue sq = new SubmissionQueue(q.qid(), q.cqid(), q.qsizeZeroBased() + 1, q.qprio(), q.prp1(), mc.memory());
                sq.head = q.head();
                sq.tail = q.tail();
                mc.sqs[q.qid()] = sq;
            }
            return Result.ok();
        } catch (IllegalArgumentException | DmaFault e) {
            for (int i = 1; i <= Controller.MAX_IO_QUEUES; i++) {
                mc.sqs[i] = null;
                mc.cqs[i] = null;
            }
            return Result.invalidField();
        }
    }

    Result receive(Sqe s) {
        MigrationReceiveCommand cmd = MigrationReceiveCommand.decode(s);
        if (!mmc.subsystem.isMigratable(cmd.cntlid())) return Result.of(mmc.subsystem.choices().unknownCntlid());
        if (cmd.csuuidi() != 0 || cmd.uidx() != 0 || cmd.csvi() > Disagreements.CSVI_FIRST_VERSION || cmd.offsetBytes() % 4 != 0) {
            return Result.invalidField();
        }
        Controller mc = mmc.subsystem.controller(cmd.cntlid());
        Controller.Deferred done = mmc.defer(0, s.cid());
        mc.run(() -> {
            byte[] state = snapshot(mc, cmd.csvi());
            boolean suspended = mc.state == State.SUSPENDED;
            mmc.run(() -> {
                if (!mmc.current(done)) return;   // reset meanwhile: the data buffer is no longer the host's
                Result r;
                if (cmd.offsetBytes() >= state.length) {
                    r = Result.invalidField();
                } else {
                    int n = (int) Math.min(state.length - cmd.offsetBytes(), cmd.lengthBytes());
                    try {
                        // the PRPs describe (NUMD+1)*4 bytes; only what exists is transferred
                        Dma.toHost(mmc.memory(), s, MemorySegment.ofArray(state).asSlice(cmd.offsetBytes(), n));
                        r = Result.ok(suspended ? MigrationReceiveCommand.CSUP : 0);
                    } catch (DmaFault e) {
                        r = Result.error(StatusCodes.DATA_TRANSFER_ERROR);
                    } catch (Dma.InvalidPrpOffset e) {
                        r = Result.error(StatusCodes.PRP_OFFSET_INVALID);
                    }
                }
                mmc.finish(done, r);
            });
        });
        return Result.DEFERRED;
    }

    /** Header only (CSVI 0) or header + version-0 NVMe controller state (CSVI 1). Runs on the MC's thread. */
    static byte[] snapshot(Controller mc, int csvi) {
        boolean suspended = mc.state == State.SUSPENDED;
        if (csvi == 0) {
            byte[] h = new byte[ControllerState.HEADER_BYTES];
            h[2] = (byte) (suspended ? ControllerState.CSATTR_SUSPENDED : 0);
            return h;
        }
        List<IoSqState> sqs = new ArrayList<>();
        List<IoCqState> cqs = new ArrayList<>();
        for (int q = 1; q <= Controller.MAX_IO_QUEUES; q++) {
            SubmissionQueue sq = mc.sqs[q];
            if (sq != null) sqs.add(new IoSqState(sq.prp1, sq.size - 1, sq.qid, sq.cqid, true, sq.qprio, sq.head, sq.tail));
            CompletionQueue cq = mc.cqs[q];
            if (cq != null) cqs.add(new IoCqState(cq.prp1, cq.size - 1, cq.qid, cq.head, cq.tail, true, cq.interruptsEnabled, cq.phase, cq.vector));
        }
        return new ControllerState(0, suspended, 0, sqs, cqs, new byte[0]).encode();
    }
}
