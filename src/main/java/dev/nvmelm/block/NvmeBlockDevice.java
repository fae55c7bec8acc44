package dev.nvmelm.block;

import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.GetLbaStatus;
import dev.nvmelm.spec.IdentifyController;
import dev.nvmelm.spec.IdentifyNamespace;
import dev.nvmelm.spec.IoCommands;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A namespace reached through NVMe I/O commands on an {@link NvmeDevice}: Read/Write split at
 * MDTS, Write Zeroes (with DEAC to stay thin), Flush, and TP4165 Get LBA Status (ATYPE 02h) for
 * the allocation map when the controller offers it.
 */
public final class NvmeBlockDevice implements BlockDevice {
    private static final long ZEROES_MAX_BLOCKS = 1 << 16;
    private final NvmeDevice dev;
    private final int nsid;
    private final int lbaSize;
    private final long lbaCount;
    private final int maxTransfer;
    private final boolean allocationMap;

    public NvmeBlockDevice(NvmeDevice dev, int nsid) throws NvmeException {
        this.dev = dev;
        this.nsid = nsid;
        MemorySegment buf = dev.allocateBuffer(4096);
        IdentifyController ic;
        IdentifyNamespace ns;
        try {
            dev.admin(new AdminCommands.Identify(AdminCommands.CNS_CONTROLLER, 0, 0, 0).toSqe(), buf).orThrow(dev.name() + ": Identify Controller");
            ic = IdentifyController.decode(buf);
            dev.admin(new AdminCommands.Identify(AdminCommands.CNS_NAMESPACE, 0, nsid, 0).toSqe(), buf).orThrow(dev.name() + ": Identify Namespace " + nsid);
            ns = IdentifyNamespace.decode(buf);
        } catch (IllegalArgumentException e) {   // a controller whose Identify data makes no sense is refused, not trusted
            throw new NvmeException(dev.name() + ": Identify Namespace " + nsid + " is malformed: " + e.getMessage(), e);
        } finally {
            dev.freeBuffer(buf);
        }
        if (ns.nsze() == 0) throw new NvmeException(dev.name() + ": namespace " + nsid + " does not exist (NSZE 0)");
        this.lbaSize = ns.lbaSizeBytes();
        this.lbaCount = ns.nsze();
        this.maxTransfer = ic.mdts() == 0 ? 1 << 20 : (int) Math.min(1 << 20, 4096L << ic.mdts());
        this.allocationMap = (ic.oacs() & IdentifyController.OACS_GET_LBA_STATUS) != 0;
    }

    @Override public String name() { return dev.name() + " nsid " + nsid; }

    @Override public long sizeBytes() { return lbaCount * lbaSize; }

    @Override public int blockSizeBytes() { return lbaSize; }

    @Override public int maxRequestBytes() { return maxTransfer; }

    @Override
    public MemorySegment allocateBuffer(long size) {
        return dev.allocateBuffer(size);
    }

    private void check(long offset, long length) throws IOException {
        if (offset % lbaSize != 0 || length % lbaSize != 0) throw new IOException(name() + ": unaligned request at " + offset + " (+" + length + ")");
        if (offset < 0 || offset + length > sizeBytes()) throw new IOException(name() + ": request past the end at " + offset);
    }

    private void run(dev.nvmelm.spec.Sqe sqe, MemorySegment data, String what) throws IOException {
        try {
            Completion c = dev.io(sqe, data);
            c.orThrow(name() + ": " + what);
        } catch (NvmeException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        check(offset, dst.byteSize());
        for (long at = 0; at < dst.byteSize(); at += maxTransfer) {
            long n = Math.min(maxTransfer, dst.byteSize() - at);
            run(IoCommands.read(nsid, (offset + at) / lbaSize, n / lbaSize).toSqe(), dst.asSlice(at, n), "read at " + (offset + at));
        }
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        check(offset, src.byteSize());
        for (long at = 0; at < src.byteSize(); at += maxTransfer) {
            long n = Math.min(maxTransfer, src.byteSize() - at);
            run(IoCommands.write(nsid, (offset + at) / lbaSize, n / lbaSize, false).toSqe(), src.asSlice(at, n), "write at " + (offset + at));
        }
    }

    /** Submits without blocking: one command per MDTS-sized piece, all in flight at once. */
    @Override
    public CompletableFuture<Void> readAsync(long offset, MemorySegment dst) {
        return transferAsync(offset, dst, false);
    }

    @Override
    public CompletableFuture<Void> writeAsync(long offset, MemorySegment src) {
        return transferAsync(offset, src, true);
    }

    private CompletableFuture<Void> transferAsync(long offset, MemorySegment data, boolean write) {
        try {
            check(offset, data.byteSize());
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<?>[] parts = new CompletableFuture<?>[(int) ((data.byteSize() + maxTransfer - 1) / maxTransfer)];
        for (int i = 0; i < parts.length; i++) {
            long at = (long) i * maxTransfer, n = Math.min(maxTransfer, data.byteSize() - at), slba = (offset + at) / lbaSize;
            var sqe = write ? IoCommands.write(nsid, slba, n / lbaSize, false).toSqe() : IoCommands.read(nsid, slba, n / lbaSize).toSqe();
            parts[i] = completed(dev.submitIo(sqe, data.asSlice(at, n)), (write ? "write at " : "read at ") + (offset + at));
        }
        return parts.length == 1 ? parts[0].thenApply(x -> null) : CompletableFuture.allOf(parts);
    }

    @Override
    public CompletableFuture<Void> writeZeroesAsync(long offset, long length, boolean deallocate) {
        if (length / lbaSize > ZEROES_MAX_BLOCKS) return BlockDevice.super.writeZeroesAsync(offset, length, deallocate);
        try {
            check(offset, length);
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
        long lba = offset / lbaSize;
        return completed(dev.submitIo(new IoCommands.WriteZeroes(nsid, lba, (int) (length / lbaSize - 1), deallocate).toSqe(), null), "write zeroes at LBA " + lba);
    }

    /** A command's future as the blocking calls report it: an IOException naming what failed, bounded by the device's timeout. */
    private CompletableFuture<Void> completed(CompletableFuture<Completion> f, String what) {
        return f.orTimeout(dev.timeout().toMillis(), TimeUnit.MILLISECONDS).handle((c, t) -> {
            if (t != null) {
                Throwable cause = t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
                String msg = cause instanceof java.util.concurrent.TimeoutException
                        ? dev.name() + ": command timed out after " + dev.timeout().toMillis() + " ms" : cause.getMessage();
                throw new java.util.concurrent.CompletionException(new IOException(msg, cause));
            }
            try {
                c.orThrow(name() + ": " + what);
            } catch (NvmeException e) {
                throw new java.util.concurrent.CompletionException(new IOException(e.getMessage(), e));
            }
            return null;
        });
    }

    @Override
    public void writeZeroes(long offset, long length, boolean deallocate) throws IOException {
        check(offset, length);
        for (long lba = offset / lbaSize, left = length / lbaSize; left > 0; ) {
            long n = Math.min(left, ZEROES_MAX_BLOCKS);
            run(new IoCommands.WriteZeroes(nsid, lba, (int) (n - 1), deallocate).toSqe(), null, "write zeroes at LBA " + lba);
            lba += n;
            left -= n;
        }
    }

    @Override
    public void flush() throws IOException {
        run(IoCommands.flush(nsid), null, "flush");
    }

    @Override
    public List<Extent> allocated(long offset, long length) throws IOException {
        if (!allocationMap) return List.of(new Extent(offset, length));
        List<Extent> out = new ArrayList<>();
        long end = offset + length;
        long lba = offset / lbaSize;
        MemorySegment buf = dev.allocateBuffer(64 << 10);
        try {
            return allocated(offset, end, lba, buf, out);
        } finally {
            dev.freeBuffer(buf);   // called for every work unit: memory must not pile up on the device
        }
    }

    private List<Extent> allocated(long offset, long end, long lba, MemorySegment buf, List<Extent> out) throws IOException {
        long length = end - offset;
        while (lba * lbaSize < end) {
            long rl = Math.min(0xffff, (end / lbaSize) - lba);
            var cmd = new GetLbaStatus.Command(nsid, lba, (int) (buf.byteSize() / 4 - 1), (int) rl, GetLbaStatus.ATYPE_ALLOCATED);
            try {
                Completion c = dev.admin(cmd.toSqe(), buf);
                if (!c.ok()) return List.of(new Extent(offset, length));   // not offered: treat all as allocated
            } catch (NvmeException e) {
                throw new IOException(e.getMessage(), e);
            }
            GetLbaStatus.Reply r = GetLbaStatus.Reply.decode(buf, buf.byteSize());
            long covered = lba + rl;
            for (GetLbaStatus.Descriptor d : r.descriptors()) {
                long s = Math.max(d.slba() * lbaSize, offset), e = Math.min((d.slba() + d.blockCount()) * lbaSize, end);
                if (e > s) {
                    if (!out.isEmpty() && out.getLast().offset() + out.getLast().length() == s) {
                        Extent last = out.removeLast();
                        out.add(new Extent(last.offset(), e - last.offset()));
                    } else {
                        out.add(new Extent(s, e - s));
                    }
                }
                if (!r.complete()) covered = d.slba() + d.blockCount();
            }
            lba = covered;
        }
        return out;
    }

    @Override
    public void close() {
        // the NvmeDevice belongs to the caller
    }
}
