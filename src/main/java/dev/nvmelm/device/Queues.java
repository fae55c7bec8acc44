package dev.nvmelm.device;

import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.bus.DmaMemory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;

/** Submission and completion queues living in host memory (NVMe Base 2.1, section 3.3.1). */
final class Queues {
    private Queues() {}

    /** A submission queue: the controller owns the head, the host the tail (doorbell). */
    static final class SubmissionQueue {
        final int qid, cqid, size, qprio;
        final long prp1;
        final MemorySegment ring;
        int head, tail;

        SubmissionQueue(int qid, int cqid, int size, int qprio, long prp1, DmaMemory mem) {
            this.qid = qid;
            this.cqid = cqid;
            this.size = size;
            this.qprio = qprio;
            this.prp1 = prp1;
            this.ring = mem.resolve(prp1, (long) size * Sqe.SIZE);  // bounds checked once, at creation
        }

        boolean empty() {
            return head == tail;
        }

        Sqe fetch() {
            Sqe s = Sqe.decode(ring, (long) head * Sqe.SIZE);
            head = (head + 1) % size;
            return s;
        }
    }

    /** A completion queue: the controller owns the tail and phase, the host the head (doorbell). */
    static final class CompletionQueue {
        final int qid, size, vector;
        final boolean interruptsEnabled;
        final long prp1;
        final MemorySegment ring;
        int head, tail;
        boolean phase = true;
        /** Completions waiting for room: a full CQ must never be overwritten. */
        final ArrayDeque<Cqe> overflow = new ArrayDeque<>();

        CompletionQueue(int qid, int size, boolean interruptsEnabled, int vector, long prp1, DmaMemory mem) {
            this.qid = qid;
            this.size = size;
            this.interruptsEnabled = interruptsEnabled;
            this.vector = vector;
            this.prp1 = prp1;
            this.ring = mem.resolve(prp1, (long) size * Cqe.SIZE);
        }

        boolean full() {
            return (tail + 1) % size == head;
        }

        /** Writes DW0-DW2, then DW3 with the phase tag, so the host never sees half a CQE. */
        boolean post(Cqe c) {
            if (full() || !overflow.isEmpty()) {
                overflow.add(c);
                return false;
            }
            write(c);
            return true;
        }

        private void write(Cqe c) {
            Cqe withPhase = new Cqe(c.dw0(), c.dw1(), c.sqHead(), c.sqId(), c.cid(), phase, c.status());
            long off = (long) tail * Cqe.SIZE;
            MemorySegment tmp = MemorySegment.ofArray(new byte[Cqe.SIZE]);
            withPhase.encode(tmp, 0);
            MemorySegment.copy(tmp, 0, ring, off, 12);
            java.lang.invoke.VarHandle.releaseFence();
            ring.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, off + 12, tmp.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 12));
            tail = (tail + 1) % size;
            if (tail == 0) phase = !phase;
        }

        /** After the host moved the head: posts what was waiting; returns how many were posted. */
        int drainOverflow() {
            int n = 0;
            while (!overflow.isEmpty() && !full()) {
                write(overflow.poll());
                n++;
            }
            return n;
        }
    }
}
