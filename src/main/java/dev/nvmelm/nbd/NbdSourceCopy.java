package dev.nvmelm.nbd;

import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.migrate.copy.Verifier;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A copy whose source is an NBD export (qemu-nbd, qemu-storage-daemon, nbdkit, our own
 * {@code device serve --nbd}). There is no controller to suspend and no CDQ, so it is storage
 * only: a bulk copy in the shape of nbdcopy ({@link Copier}: base:allocation skips holes, many
 * requests in flight), then — when the source offers a dirty map ({@code nvme-lm:dirty} or
 * {@code qemu:dirty-bitmap:NAME}) — dirty passes, then FLUSH on the target and verification.
 *
 * <p>Such dirty maps only grow (nobody clears them for us), so a pass cannot tell "written
 * again since the last pass" from "written once long ago". A pass therefore reads every dirty
 * range on both sides and rewrites what differs; it converges when a pass finds no difference
 * and the map did not grow meanwhile. Blocks outside the map were not written since tracking
 * started, so the bulk copy's read of them stands. We cannot suspend the writer: a write that
 * lands during or after the last pass (into a block already in the map, it does not even grow
 * it) is not copied, and only the user stopping the writer makes the result a consistent image.
 */
public final class NbdSourceCopy {
    public record Options(String dirtyContext, int maxPasses, Copier.Config copy, Verifier.Mode verify) {}

    /** Callbacks for progress lines; {@code afterBulk} runs between the bulk copy and the first pass. */
    public interface Listener {
        default void afterBulk(long bytesData, long bytesZero) throws IOException {}

        default void afterPass(Pass p) {}
    }

    /** One dirty pass: the map's size when it started, what was compared, what differed and was rewritten. */
    public record Pass(int number, long dirtyBytes, long bytesCompared, long bytesRewritten, boolean mapGrew) {}

    public record Report(String dirtyContext, long bytesData, long bytesZero, List<Pass> passes, boolean converged,
                         String verdict, Verifier.Result verify, double flushMs, long totalMs) {}

    private final NbdBlockDevice src;
    private final BlockDevice dst;
    private final Options o;
    private final int request;
    /** Granularity of the compare in a dirty pass: a multiple of the block, as fine as qemu's default bitmap. */
    private final long sub;

    public NbdSourceCopy(NbdBlockDevice src, BlockDevice dst, Options options) {
        if (src.sizeBytes() != dst.sizeBytes()) {
            throw new IllegalArgumentException(dst.name() + " has " + dst.sizeBytes() + " bytes; the source has " + src.sizeBytes());
        }
        if (options.dirtyContext() != null && !src.client().hasContext(options.dirtyContext())) {
            throw new IllegalArgumentException(src.name() + " did not accept the context " + options.dirtyContext());
        }
        this.src = src;
        this.dst = dst;
        this.o = options;
        int align = Math.max(src.blockSizeBytes(), dst.blockSizeBytes());
        this.request = Math.max(align, Math.min(options.copy().requestBytes(), Math.min(src.maxRequestBytes(), dst.maxRequestBytes())));
        this.sub = Math.max(align, (64 << 10) / align * align);
    }

    public Report run(Listener listener) throws IOException {
        long t0 = System.nanoTime();
        Copier.Progress progress = new Copier.Progress();
        new Copier(src, dst, o.copy(), progress, System::nanoTime).bulk();
        listener.afterBulk(progress.bytesCopied.get(), progress.bytesZero.get());
        List<Pass> passes = new ArrayList<>();
        boolean converged = false;
        String verdict;
        if (o.dirtyContext() == null) {
            verdict = "storage-only copy: the source offers no dirty map, so writes during the copy are not followed (stop the writer first)";
        } else {
            List<Copier.Range> dirty = dirtyRanges();
            for (int n = 1; n <= o.maxPasses() && !converged; n++) {
                long[] counts = repair(dirty);
                List<Copier.Range> after = dirtyRanges();
                boolean grew = !after.equals(dirty);
                Pass p = new Pass(n, bytes(dirty), counts[0], counts[1], grew);
                passes.add(p);
                listener.afterPass(p);
                converged = counts[1] == 0 && !grew;
                dirty = after;
            }
            Pass last = passes.getLast();
            verdict = converged
                    ? "converged after " + passes.size() + (passes.size() == 1 ? " dirty pass: " : " dirty passes: ") + o.dirtyContext() + " did not grow and its " + human(last.dirtyBytes())
                            + " matched the destination (a write during or after the last pass may be missed: the writer must be stopped)"
                    : "not converged after " + passes.size() + " dirty passes: the source kept changing (" + human(last.bytesRewritten())
                            + " differed in the last pass" + (last.mapGrew() ? ", the map grew" : "") + "); stop the writer and run again";
        }
        long f0 = System.nanoTime();
        dst.flush();
        double flushMs = (System.nanoTime() - f0) / 1e6;
        Verifier.Result v = Verifier.verify(src, dst, o.verify(), System.nanoTime(), b -> false);
        return new Report(o.dirtyContext(), progress.bytesCopied.get(), progress.bytesZero.get(), passes, converged, verdict, v, flushMs,
                (System.nanoTime() - t0) / 1_000_000);
    }

    /** The dirty map as block-aligned, coalesced ranges (flag bit 0 = dirty, as in qemu:dirty-bitmap). */
    List<Copier.Range> dirtyRanges() throws IOException {
        List<Copier.Range> out = new ArrayList<>();
        long size = src.sizeBytes(), at = 0;
        int block = src.blockSizeBytes();
        while (at < size) {
            List<NbdExport.Extent> ext = src.await(src.client().blockStatus(o.dirtyContext(), at, Math.min(1L << 30, size - at)),
                    "block status of " + o.dirtyContext() + " at " + at);
            if (ext.isEmpty()) throw new IOException(src.name() + ": block status of " + o.dirtyContext() + " at " + at + " returned no extents");
            for (NbdExport.Extent e : ext) {
                if (e.lengthBytes() == 0) throw new IOException(src.name() + ": an empty extent in " + o.dirtyContext() + " at " + at);
                long len = Math.min(e.lengthBytes(), size - at);
                if ((e.flags() & 1) != 0) {
                    // a map coarser or finer than our block: widen to whole blocks
                    long s = at / block * block, end = Math.min(size, (at + len + block - 1) / block * block);
                    if (!out.isEmpty() && out.getLast().offset() + out.getLast().length() >= s) {
                        Copier.Range last = out.removeLast();
                        out.add(new Copier.Range(last.offset(), Math.max(end, last.offset() + last.length()) - last.offset()));
                    } else {
                        out.add(new Copier.Range(s, end - s));
                    }
                }
                at += len;
                if (at >= size) break;
            }
        }
        return out;
    }

    /** Reads each range on both sides, rewrites what differs; returns {bytes compared, bytes rewritten}. */
    private long[] repair(List<Copier.Range> ranges) throws IOException {
        AtomicLong compared = new AtomicLong(), rewritten = new AtomicLong();
        AtomicReference<IOException> failure = new AtomicReference<>();
        int inFlight = o.copy().inFlight();
        Semaphore slots = new Semaphore(inFlight);
        ArrayBlockingQueue<MemorySegment[]> buffers = new ArrayBlockingQueue<>(inFlight);
        for (int i = 0; i < inFlight; i++) buffers.add(new MemorySegment[]{src.allocateBuffer(request), dst.allocateBuffer(request)});
        try (ExecutorService exec = Executors.newVirtualThreadPerTaskExecutor()) {
            for (Copier.Range r : ranges) {
                for (long off = r.offset(); off < r.offset() + r.length() && failure.get() == null; off += request) {
                    long at = off, len = Math.min(request, r.offset() + r.length() - off);
                    slots.acquireUninterruptibly();
                    exec.execute(() -> {
                        MemorySegment[] b = buffers.poll();
                        try {
                            MemorySegment a = b[0].asSlice(0, len), d = b[1].asSlice(0, len);
                            src.read(at, a);
                            dst.read(at, d);
                            compared.addAndGet(len);
                            // rewrite only the differing 64 KiB pieces (coalesced): a 4 KiB change costs 64 KiB, not a request
                            long run = -1;
                            for (long x = 0; ; x += sub) {
                                boolean differs = x < len && MemorySegment.mismatch(a, x, Math.min(len, x + sub), d, x, Math.min(len, x + sub)) != -1;
                                if (differs && run < 0) run = x;
                                if (!differs && run >= 0) {
                                    long n = Math.min(len, x) - run;
                                    MemorySegment piece = a.asSlice(run, n);
                                    if (allZero(piece)) dst.writeZeroes(at + run, n, true);
                                    else dst.write(at + run, piece);
                                    rewritten.addAndGet(n);
                                    run = -1;
                                }
                                if (x >= len) break;
                            }
                        } catch (IOException e) {
                            failure.compareAndSet(null, e);
                        } catch (RuntimeException e) {
                            failure.compareAndSet(null, new IOException(e.toString(), e));
                        } finally {
                            buffers.add(b);
                            slots.release();
                        }
                    });
                }
            }
        }
        if (failure.get() != null) throw failure.get();
        return new long[]{compared.get(), rewritten.get()};
    }

    private static final MemorySegment ZEROES = MemorySegment.ofArray(new byte[1 << 20]);

    private static boolean allZero(MemorySegment m) {
        for (long at = 0; at < m.byteSize(); at += ZEROES.byteSize()) {
            long n = Math.min(ZEROES.byteSize(), m.byteSize() - at);
            if (MemorySegment.mismatch(m, at, at + n, ZEROES, 0, n) != -1) return false;
        }
        return true;
    }

    private static long bytes(List<Copier.Range> rs) {
        return rs.stream().mapToLong(Copier.Range::length).sum();
    }

    static String human(long b) {
        if (b < 1024) return b + " B";
        if (b < 1 << 20) return String.format("%.1f KiB", b / 1024.0);
        if (b < 1L << 30) return String.format("%.1f MiB", b / 1048576.0);
        return String.format("%.2f GiB", b / 1073741824.0);
    }
}
