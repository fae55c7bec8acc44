package dev.nvmelm.device;

import dev.nvmelm.device.Controller.Result;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.Opcodes;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.bus.DmaFault;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * NVM I/O commands. Every user-data change an MC's I/O queues make is logged into its User Data
 * Migration Queue when the command completes (reference §6.5): Write, Write Zeroes, DSM
 * deallocate (one entry per contiguous run) and Copy (the destination range).
 */
final class IoHandler {
    static final long MAX_TRANSFER_BYTES = 1 << 20;   // MDTS 8 with 4 KiB pages
    static final int MAX_COPY_RANGES = 128;

    private final Controller c;

    IoHandler(Controller c) {
        this.c = c;
    }

    private static Result st(int sc) {
        return Result.of(Status.generic(sc));
    }

    Result execute(Sqe s, int sqid) {
        try {
            int op = s.opcode();
            if (op == Opcodes.FLUSH) return flush(s.nsid());
            // an unsupported opcode is Invalid Opcode whatever its NSID says
            if (op != Opcodes.READ && op != Opcodes.WRITE && op != Opcodes.WRITE_ZEROES && op != Opcodes.DATASET_MANAGEMENT
                    && op != Opcodes.COPY) return st(StatusCodes.INVALID_OPCODE);
            Namespace ns = c.subsystem.namespace(c.cntlid, s.nsid());
            if (ns == null) return st(StatusCodes.INVALID_NS);
            return switch (op) {
                case Opcodes.READ, Opcodes.WRITE -> readWrite(ns, IoCommands.ReadWrite.decode(s), s);
                case Opcodes.WRITE_ZEROES -> writeZeroes(ns, IoCommands.WriteZeroes.decode(s));
                case Opcodes.DATASET_MANAGEMENT -> dsm(ns, IoCommands.DatasetManagement.decode(s), s);
                default -> copy(ns, IoCommands.Copy.decode(s), s);
            };
        } catch (Dma.InvalidPrpOffset e) {
            return st(StatusCodes.INVALID_PRP_OFFSET);
        } catch (IllegalArgumentException e) {
            return st(StatusCodes.INVALID_FIELD);
        } catch (DmaFault e) {
            return st(StatusCodes.DATA_TRANSFER_ERROR);
        } catch (IOException e) {
            String m = String.valueOf(e.getMessage());
            return m.contains("No space left") ? st(StatusCodes.CAPACITY_EXCEEDED) : st(StatusCodes.INTERNAL);
        }
    }

    private Result readWrite(Namespace ns, IoCommands.ReadWrite rw, Sqe s) throws IOException {
        if (!ns.inRange(rw.slba(), rw.blockCount())) return st(StatusCodes.LBA_RANGE);
        long bytes = rw.blockCount() * ns.lbaSizeBytes();
        if (bytes > MAX_TRANSFER_BYTES) return st(StatusCodes.INVALID_FIELD);
        try (Arena a = Arena.ofConfined()) {
            if (rw.opcode() == Opcodes.READ) {
                MemorySegment buf = a.allocate(bytes, 8);
                ns.read(rw.slba(), buf);
                Dma.toHost(c.memory(), s, buf);
            } else {
                throttleWrite();
                ns.write(rw.slba(), Dma.fromHost(c.memory(), s, bytes, a));
                if (rw.fua()) ns.flush();
                log(ns, rw.slba(), rw.blockCount());
            }
        }
        return Result.ok();
    }

    private Result writeZeroes(Namespace ns, IoCommands.WriteZeroes wz) throws IOException {
        if (!ns.inRange(wz.slba(), wz.blockCount())) return st(StatusCodes.LBA_RANGE);
        throttleWrite();
        ns.writeZeroes(wz.slba(), wz.blockCount(), wz.deallocate());
        log(ns, wz.slba(), wz.blockCount());
        return Result.ok();
    }

    private Result dsm(Namespace ns, IoCommands.DatasetManagement d, Sqe s) throws IOException {
        if (!d.deallocate()) return Result.ok();   // hints only: nothing to do
        List<IoCommands.DsmRange> ranges;
        try (Arena a = Arena.ofConfined()) {
            ranges = IoCommands.decodeRanges(Dma.fromHost(c.memory(), s, d.dataBytes(), a), d.rangeCount());
        }
        for (IoCommands.DsmRange r : ranges) if (!ns.inRange(r.slba(), r.blockCount())) return st(StatusCodes.LBA_RANGE);
        throttleWrite();
        List<IoCommands.DsmRange> sorted = new ArrayList<>(ranges);
        sorted.removeIf(r -> r.blockCount() == 0);
        sorted.sort(Comparator.comparingLong(IoCommands.DsmRange::slba));
        long runStart = -1, runEnd = -1;
        for (IoCommands.DsmRange r : sorted) {
            ns.writeZeroes(r.slba(), r.blockCount(), true);
            if (r.slba() <= runEnd) {
                runEnd = Math.max(runEnd, r.slba() + r.blockCount());
            } else {
                if (runStart >= 0) log(ns, runStart, runEnd - runStart);
                runStart = r.slba();
                runEnd = r.slba() + r.blockCount();
            }
        }
        if (runStart >= 0) log(ns, runStart, runEnd - runStart);
        return Result.ok();
    }

    private Result copy(Namespace ns, IoCommands.Copy cp, Sqe s) throws IOException {
        if (cp.rangeCount() > MAX_COPY_RANGES) return st(StatusCodes.INVALID_FIELD);
        List<IoCommands.CopyRange> ranges;
        try (Arena a = Arena.ofConfined()) {
            ranges = IoCommands.decodeCopyRanges(Dma.fromHost(c.memory(), s, (long) cp.rangeCount() * IoCommands.CopyRange.SIZE, a), cp.rangeCount());
        }
        long total = 0;
        for (IoCommands.CopyRange r : ranges) {
            if (!ns.inRange(r.slba(), r.nlbZeroBased() + 1L)) return st(StatusCodes.LBA_RANGE);
            total += r.nlbZeroBased() + 1L;
        }
        if (!ns.inRange(cp.sdlba(), total)) return st(StatusCodes.LBA_RANGE);
        throttleWrite();
        long dst = cp.sdlba();
        try (Arena a = Arena.ofConfined()) {
            for (IoCommands.CopyRange r : ranges) {
                MemorySegment buf = a.allocate((r.nlbZeroBased() + 1L) * ns.lbaSizeBytes(), 8);
                ns.read(r.slba(), buf);
                ns.write(dst, buf);
                dst += r.nlbZeroBased() + 1L;
            }
        }
        log(ns, cp.sdlba(), total);
        return Result.ok();
    }

    private Result flush(int nsid) throws IOException {
        if (nsid == 0xffffffff) {
            for (Namespace n : c.subsystem.namespacesOf(c.cntlid)) n.flush();
            return Result.ok();
        }
        Namespace ns = c.subsystem.namespace(c.cntlid, nsid);
        if (ns == null) return st(StatusCodes.INVALID_NS);
        ns.flush();
        return Result.ok();
    }

    /** Logs a change made by this MC's I/O queues (the MMC's I/O is not tracked). */
    private void log(Namespace ns, long slba, long count) {
        if (count == 0 || c.isMigrationManagement()) return;
        Cdq q = c.subsystem.cdqs.forController(c.cntlid);
        if (q == null) return;
        for (long at = slba, left = count; left > 0; ) {   // an entry's NLB field is 32 bits
            long n = Math.min(left, 1L << 31);
            q.logRange(ns.nsid(), at, n);
            at += n;
            left -= n;
        }
    }

    /** The vendor-specific write throttle: paces this MC's writes to the configured rate. */
    private void throttleWrite() {
        long iops = c.throttleWriteIops;
        if (iops <= 0) return;
        long now = c.subsystem.clock().getAsLong();
        long at = Math.max(now, c.nextWriteNanos);
        c.nextWriteNanos = at + 1_000_000_000L / iops;
        if (at > now) LockSupport.parkNanos(at - now);
    }
}
