package dev.nvmelm.migrate;

import dev.nvmelm.host.AsyncEventInfo;
import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.AdminOpcode;
import dev.nvmelm.spec.Sqe;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/** Fault injection around real parts: a block device with hooks, an MMC whose CDQ head reports can be held back. */
final class Faults {
    private Faults() {}

    /** Called around every operation of a {@link Hooked} device; may throw to fail it. */
    interface Hook {
        default void before(String op, long offset, long length) throws IOException {}

        /** After a read returned its data (the copy holds what was read). */
        default void afterRead(long offset, long length) throws IOException {}
    }

    /** A block device that runs a hook around the real one's operations. */
    static final class Hooked implements BlockDevice {
        private final BlockDevice inner;
        private final Hook hook;

        Hooked(BlockDevice inner, Hook hook) {
            this.inner = inner;
            this.hook = hook;
        }

        @Override public String name() { return inner.name(); }

        @Override public long sizeBytes() { return inner.sizeBytes(); }

        @Override public int blockSizeBytes() { return inner.blockSizeBytes(); }

        @Override public int maxRequestBytes() { return inner.maxRequestBytes(); }

        @Override public MemorySegment allocateBuffer(long sizeBytes) { return inner.allocateBuffer(sizeBytes); }

        @Override
        public void read(long offset, MemorySegment dst) throws IOException {
            hook.before("read", offset, dst.byteSize());
            inner.read(offset, dst);
            hook.afterRead(offset, dst.byteSize());
        }

        @Override
        public void write(long offset, MemorySegment src) throws IOException {
            hook.before("write", offset, src.byteSize());
            inner.write(offset, src);
        }

        @Override
        public void writeZeroes(long offset, long length, boolean deallocate) throws IOException {
            hook.before("zeroes", offset, length);
            inner.writeZeroes(offset, length, deallocate);
        }

        @Override
        public void flush() throws IOException {
            hook.before("flush", 0, 0);
            inner.flush();
        }

        @Override
        public List<Extent> allocated(long offset, long length) throws IOException {
            return inner.allocated(offset, length);
        }

        @Override
        public void close() throws IOException {
            inner.close();
        }
    }

    /**
     * The source MMC, except that while held, Set Features FID 21h (the CDQ consumer's head
     * reports) wait: the controller keeps its old head, so its ring fills as if the host had
     * stopped consuming, and it posts ESA 7. {@link #release()} sends them in order.
     */
    static final class HeadReportGate implements NvmeDevice {
        private record Held(Sqe sqe, MemorySegment data, CompletableFuture<Completion> result) {}

        private final NvmeDevice inner;
        private final List<Held> held = new ArrayList<>();
        private boolean holding;
        volatile int heldCount;

        HeadReportGate(NvmeDevice inner) {
            this.inner = inner;
        }

        synchronized void hold() {
            holding = true;
        }

        void release() {
            List<Held> go;
            synchronized (this) {
                holding = false;
                go = List.copyOf(held);
                held.clear();
            }
            for (Held h : go) {
                inner.submitAdmin(h.sqe(), h.data()).whenComplete((c, e) -> {
                    if (e != null) h.result().completeExceptionally(e);
                    else h.result().complete(c);
                });
            }
        }

        @Override public String name() { return inner.name(); }

        @Override
        public CompletableFuture<Completion> submitAdmin(Sqe sqe, MemorySegment data) {
            synchronized (this) {
                if (holding && sqe.opcode() == AdminOpcode.SET_FEATURES.value() && (sqe.cdw10() & 0xff) == CdqFeature.FID) {
                    Held h = new Held(sqe, data, new CompletableFuture<>());
                    held.add(h);
                    heldCount++;
                    return h.result();
                }
            }
            return inner.submitAdmin(sqe, data);
        }

        @Override public CompletableFuture<Completion> submitIo(Sqe sqe, MemorySegment data) { return inner.submitIo(sqe, data); }

        @Override public MemorySegment allocateBuffer(long sizeBytes) { return inner.allocateBuffer(sizeBytes); }

        @Override public CdqQueue createCdq(int cntlid, long sizeBytes) throws NvmeException { return inner.createCdq(cntlid, sizeBytes); }

        @Override public void onAsyncEvent(Consumer<AsyncEventInfo> listener) { inner.onAsyncEvent(listener); }

        @Override public Duration timeout() { return inner.timeout(); }

        @Override
        public void close() {
            // the rig owns the real device
        }
    }
}
