package dev.nvmelm.device;

import dev.nvmelm.spec.ControllerChoices;
import dev.nvmelm.spec.TailPointerTrigger;

import dev.nvmelm.host.pci.HostMemory;
import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.Prp;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.bus.Registers;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A deterministic host for the software subsystem: every controller runs on {@link Steps}, and
 * a small register-level driver per controller writes SQEs into host memory, rings doorbells
 * and reaps CQEs by phase tag. Nothing runs until the test calls {@link #run}, so each test
 * sees one exact interleaving. All controllers share one IOVA space ({@link #mem}), the way a
 * guest's memory is reachable by the source and the destination controller alike.
 */
final class Sim implements AutoCloseable {
    static final int ADMIN_DEPTH = 32;

    final Steps steps = new Steps();
    final HostMemory mem = new HostMemory();
    final Subsystem subsystem;
    private long nanos = 1_000_000_000L;
    /** Called whenever a controller reads the clock (the write throttle does, once per write). */
    Runnable onClockRead = () -> { };

    Sim(Path dir, int migratable, long nsBytes, int lbaBytes) throws IOException {
        this(dir, migratable, 1, nsBytes, lbaBytes);
    }

    Sim(Path dir, int migratable, int namespacesPerController, long nsBytes, int lbaBytes) throws IOException {
        this(dir, migratable, namespacesPerController, nsBytes, lbaBytes, ControllerChoices.NVME_LM);
    }

    Sim(Path dir, int migratable, int namespacesPerController, long nsBytes, int lbaBytes, TailPointerTrigger rule) throws IOException {
        this(dir, migratable, namespacesPerController, nsBytes, lbaBytes, ControllerChoices.NVME_LM.withTailPointerTrigger(rule));
    }

    Sim(Path dir, int migratable, int namespacesPerController, long nsBytes, int lbaBytes, ControllerChoices choices) throws IOException {
        subsystem = Subsystem.open(new Subsystem.Config(dir, nsBytes, namespacesPerController, migratable, lbaBytes),
                new Subsystem.Options(steps::executorFor, this::clock, choices));
        for (int c = 0; c < subsystem.controllerCount(); c++) subsystem.controller(c).attach(mem);
    }

    private long clock() {
        onClockRead.run();
        return nanos += 1_000;
    }

    /** Runs every queued controller task; fails if any escaped the controller. */
    int run() {
        int n = steps.runAll();
        if (!steps.escaped.isEmpty()) throw new AssertionError("a controller task threw", steps.escaped.getFirst());
        return n;
    }

    /** Enables controller {@code cntlid} with a fresh admin queue pair and returns its driver. */
    Host host(int cntlid) {
        return new Host(subsystem.controller(cntlid));
    }

    /** DMA memory the controllers can reach. */
    Buf alloc(long bytes) {
        MemorySegment m = mem.allocate(bytes);
        return new Buf(m, mem.iovaOf(m));
    }

    record Buf(MemorySegment seg, long iova) {}

    @Override
    public void close() throws IOException {
        try {
            subsystem.close();
        } finally {
            mem.close();
        }
    }

    /** One queue pair in host memory, as a driver keeps it. */
    final class Queue {
        final int qid, depth;
        final Buf sq, cq;
        int sqTail, sqHead, cqHead;
        boolean phase = true;
        final Map<Integer, Cqe> done = new HashMap<>();

        final int cqDepth;

        Queue(int qid, int depth, int cqDepth) {
            this.qid = qid;
            this.depth = depth;
            this.cqDepth = cqDepth;
            this.sq = alloc((long) depth * Sqe.SIZE);
            this.cq = alloc((long) cqDepth * Cqe.SIZE);
        }

        int outstanding() {
            return (sqTail - sqHead + depth) % depth;
        }
    }

    /** A register-level driver for one controller. */
    final class Host {
        Controller c;
        final Queue admin;
        final Map<Integer, Queue> io = new HashMap<>();
        final List<Integer> interrupts = new ArrayList<>();
        private int nextCid;

        Host(Controller c) {
            this.c = c;
            c.connectInterrupts(interrupts::add);
            admin = new Queue(0, ADMIN_DEPTH, ADMIN_DEPTH);
            enable();
        }

        /** CC.EN 0 -> 1 with this host's admin queue (also after a reset). */
        void enable() {
            admin.sqTail = admin.sqHead = admin.cqHead = 0;
            admin.phase = true;
            admin.sq.seg().fill((byte) 0);
            admin.cq.seg().fill((byte) 0);
            admin.done.clear();
            c.write32(Registers.AQA, (ADMIN_DEPTH - 1) | (ADMIN_DEPTH - 1) << 16);
            c.write64(Registers.ASQ, admin.sq.iova());
            c.write64(Registers.ACQ, admin.cq.iova());
            c.write32(Registers.CC, Registers.CC_EN | 6 << 16 | 4 << 20);
            run();
            if ((csts() & Registers.CSTS_RDY) == 0) throw new AssertionError("controller " + c.cntlid() + " not ready: CSTS " + csts());
        }

        /**
         * Switchover in the VMM's role: the I/O queues (in the same memory) now belong to
         * {@code target}, which received their state; the admin queue starts afresh there.
         */
        void moveTo(Controller target) {
            c = target;
            c.connectInterrupts(interrupts::add);
            enable();
        }

        /** CC.EN 1 -> 0: a controller reset. */
        void disable() {
            c.write32(Registers.CC, 0);
            run();
        }

        int csts() {
            return c.read32(Registers.CSTS);
        }

        Queue queue(int qid) {
            Queue q = qid == 0 ? admin : io.get(qid);
            if (q == null) throw new IllegalArgumentException("no queue " + qid);
            return q;
        }

        /** Creates I/O CQ and SQ {@code qid} (vector = qid) and asserts success. */
        Queue createIoQueues(int qid, int depth) {
            return createIoQueues(qid, depth, depth);
        }

        Queue createIoQueues(int qid, int depth, int cqDepth) {
            Queue q = new Queue(qid, depth, cqDepth);
            Cqe cq = admin(new AdminCommands.CreateIoCq(qid, cqDepth - 1, true, true, qid, q.cq.iova()).toSqe());
            if (!cq.status().isSuccess()) throw new AssertionError("Create I/O CQ " + qid + ": " + cq.status());
            Cqe sq = admin(new AdminCommands.CreateIoSq(qid, depth - 1, true, 0, qid, q.sq.iova()).toSqe());
            if (!sq.status().isSuccess()) throw new AssertionError("Create I/O SQ " + qid + ": " + sq.status());
            io.put(qid, q);
            return q;
        }

        /** Writes the SQE at the tail without ringing the doorbell; returns its CID. */
        int write(int qid, Sqe sqe) {
            Queue q = queue(qid);
            if (q.outstanding() == q.depth - 1) throw new IllegalStateException("SQ " + qid + " is full");
            int cid = nextCid++ & 0xffff;
            sqe.withCid(cid).encode(q.sq.seg(), (long) q.sqTail * Sqe.SIZE);
            q.sqTail = (q.sqTail + 1) % q.depth;
            return cid;
        }

        void ring(int qid) {
            c.write32(Registers.sqTailDoorbell(qid, 0), queue(qid).sqTail);
        }

        /** Writes the SQE and rings the doorbell; the controller runs at the next {@link Sim#run}. */
        int submit(int qid, Sqe sqe) {
            int cid = write(qid, sqe);
            ring(qid);
            return cid;
        }

        /** Consumes every new CQE of {@code qid} (up to {@code max}) and reports the new head. */
        List<Cqe> reap(int qid, int max) {
            Queue q = queue(qid);
            List<Cqe> out = new ArrayList<>();
            while (out.size() < max && Cqe.phaseAt(q.cq.seg(), (long) q.cqHead * Cqe.SIZE) == q.phase) {
                Cqe e = Cqe.decode(q.cq.seg(), (long) q.cqHead * Cqe.SIZE);
                q.cqHead = (q.cqHead + 1) % q.cqDepth;
                if (q.cqHead == 0) q.phase = !q.phase;
                if (e.sqId() != qid) throw new AssertionError("CQE for SQ " + e.sqId() + " on CQ " + qid);
                q.sqHead = e.sqHead();
                if (q.done.put(e.cid(), e) != null) throw new AssertionError("two completions for CID " + e.cid() + " on queue " + qid);
                out.add(e);
            }
            if (!out.isEmpty()) c.write32(Registers.cqHeadDoorbell(qid, 0), q.cqHead);
            return out;
        }

        List<Cqe> reap(int qid) {
            return reap(qid, Integer.MAX_VALUE);
        }

        /** The completion of {@code cid} on {@code qid}, or null if it has not completed (reaps first). */
        Cqe completion(int qid, int cid) {
            reap(qid);
            return queue(qid).done.remove(cid);
        }

        /** Submits, runs the controllers, and returns the completion (which must exist). */
        Cqe admin(Sqe sqe) {
            return exec(0, sqe);
        }

        Cqe io(int qid, Sqe sqe) {
            return exec(qid, sqe);
        }

        Cqe exec(int qid, Sqe sqe) {
            int cid = submit(qid, sqe);
            run();
            Cqe e = completion(qid, cid);
            if (e == null) throw new AssertionError("no completion for " + sqe + " on queue " + qid);
            return e;
        }

        /** The SQE with PRP1/PRP2 describing {@code buf} (list pages from host memory when needed). */
        Sqe withData(Sqe sqe, Buf buf) {
            Prp.Pointers p = Prp.build(buf.iova(), buf.seg().byteSize(), HostMemory.PAGE, mem, () -> alloc(HostMemory.PAGE).iova());
            return sqe.withPrp(p.prp1(), p.prp2());
        }
    }
}
