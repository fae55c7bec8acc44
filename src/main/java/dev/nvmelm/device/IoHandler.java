package dev.nvmelm.device;

import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.IoOpcode;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCode;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.bus.DmaFault;
import dev.nvmelm.util.NoSpaceException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * NVM I/O commands. Every user-data change an MC's I/O queues make is logged into its User Data
 * Migration Queue when the command completes (NVM Command Set, section 5.6): Write, Write Zeroes, DSM
 * deallocate (one entry per contiguous run) and Copy (the destination range).
 */
final class IoHandler {
    static final long MAX_TRANSFER_BYTES = 1 << 20;   // MDTS 8 with 4 KiB pages
    /** MSRC + 1: most source ranges in one Copy. */
    static final int MAX_COPY_RANGES = 128;
    static final long MAX_COPY_BYTES = 8 << 20;
    /** NVM Command Set specific status 83h Command Size Limit Exceeded (SCT 1h), for Copy past MSRC/MSSRL/MCL. */
    static final StatusCode CMD_SIZE_LIMIT_EXCEEDED = StatusCodes.CMD_SIZE_LIMIT_EXCEEDED;

    private final Controller c;
    private final TransferBuffers buffers = new TransferBuffers(MAX_TRANSFER_BYTES);

    IoHandler(Controller c) {
        this.c = c;
    }

    Result execute(Sqe s, int sqid) {
        try {
            // an opcode this controller does not execute is Invalid Opcode whatever its NSID says
            IoOpcode op = IoOpcode.of(s.opcode()).orElse(null);
            if (op == null) return Result.error(StatusCodes.INVALID_OPCODE);
            return switch (op) {
                case FLUSH -> flush(s.nsid());
                case WRITE_UNCORRECTABLE, COMPARE -> Result.error(StatusCodes.INVALID_OPCODE);   // not offered (log page 05h)
                case READ, WRITE, WRITE_ZEROES, DATASET_MANAGEMENT, COPY -> {
                    Namespace ns = c.subsystem.namespace(c.cntlid, s.nsid());
                    if (ns == null) yield Result.error(StatusCodes.INVALID_NS);
                    yield switch (op) {
                        case READ, WRITE -> readWrite(ns, IoCommands.ReadWrite.decode(s), s);
                        case WRITE_ZEROES -> writeZeroes(ns, IoCommands.WriteZeroes.decode(s));
                        case DATASET_MANAGEMENT -> dsm(ns, IoCommands.DatasetManagement.decode(s), s);
                        default -> copy(ns, IoCommands.Copy.decode(s), s);
                    };
                }
            };
        } catch (Dma.InvalidPrpOffset e) {
            return Result.error(StatusCodes.PRP_OFFSET_INVALID);
        } catch (IllegalArgumentException e) {
            return Result.error(StatusCodes.INVALID_FIELD);
        } catch (DmaFault e) {
            return Result.error(StatusCodes.DATA_TRANSFER_ERROR);
        } catch (NoSpaceException e) {
            return Result.error(StatusCodes.CAPACITY_EXCEEDED);   // the namespace's file system is full
        } catch (IOException e) {
            return Result.error(StatusCodes.INTERNAL);
        }
    }

    private Result readWrite(Namespace ns, IoCommands.ReadWrite rw, Sqe s) throws IOException {
        if (!ns.inRange(rw.slba(), rw.blockCount())) return Result.error(StatusCodes.LBA_RANGE);
        long bytes = rw.blockCount() * ns.lbaSizeBytes();
        if (bytes > MAX_TRANSFER_BYTES) return Result.error(StatusCodes.INVALID_FIELD);
        MemorySegment whole = buffers.acquire();
        try {
            if (rw.opcode() == IoOpcode.READ) {
                MemorySegment buf = whole.asSlice(0, bytes);
                ns.read(rw.slba(), buf);
                Dma.toHost(c.memory(), s, buf);
            } else {
                throttleWrite();
                ns.write(rw.slba(), Dma.fromHost(c.memory(), s, bytes, whole));
                if (rw.fua()) ns.flush();
                log(ns, rw.slba(), rw.blockCount());
            }
        } finally {
            buffers.release(whole);
        }
        return Result.ok();
    }

    private Result writeZeroes(Namespace ns, IoCommands.WriteZeroes wz) throws IOException {
        if (!ns.inRange(wz.slba(), wz.blockCount())) return Result.error(StatusCodes.LBA_RANGE);
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
        for (IoCommands.DsmRange r : ranges) if (!ns.inRange(r.slba(), r.blockCount())) return Result.error(StatusCodes.LBA_RANGE);
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

    /**
     * Copy, source range format 0: limits as Identify Namespace reports them (MSRC, MSSRL, MCL;
     * Command Size Limit Exceeded past them), then every source range is read before the
     * destination is written, so overlapping ranges copy what was there before the command.
     * The MCL byte budget bounds the buffer.
     */
    private Result copy(Namespace ns, IoCommands.Copy cp, Sqe s) throws IOException {
        if (cp.rangeCount() > MAX_COPY_RANGES) return Result.error(CMD_SIZE_LIMIT_EXCEEDED);
        List<IoCommands.CopyRange> ranges;
        try (Arena a = Arena.ofConfined()) {
            ranges = IoCommands.decodeCopyRanges(Dma.fromHost(c.memory(), s, (long) cp.rangeCount() * IoCommands.CopyRange.SIZE, a), cp.rangeCount());
        }
        long total = 0;
        for (IoCommands.CopyRange r : ranges) {
            if (r.nlbZeroBased() + 1L > mssrl(ns)) return Result.error(CMD_SIZE_LIMIT_EXCEEDED);
            total += r.nlbZeroBased() + 1L;
        }
        if (total > mcl(ns)) return Result.error(CMD_SIZE_LIMIT_EXCEEDED);
        for (IoCommands.CopyRange r : ranges) if (!ns.inRange(r.slba(), r.nlbZeroBased() + 1L)) return Result.error(StatusCodes.LBA_RANGE);
        if (!ns.inRange(cp.sdlba(), total)) return Result.error(StatusCodes.LBA_RANGE);
        throttleWrite();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(total * ns.lbaSizeBytes(), 8);
            long at = 0;
            for (IoCommands.CopyRange r : ranges) {
                long bytes = (r.nlbZeroBased() + 1L) * ns.lbaSizeBytes();
                ns.read(r.slba(), buf.asSlice(at, bytes));
                at += bytes;
            }
            ns.write(cp.sdlba(), buf);
        }
        log(ns, cp.sdlba(), total);
        return Result.ok();
    }

    /** MCL, Maximum Copy Length in LBAs: a byte budget, so a copy's buffer stays bounded. */
    static int mcl(Namespace ns) {
        return (int) (MAX_COPY_BYTES / ns.lbaSizeBytes());
    }

    /** MSSRL, Maximum Single Source Range Length in LBAs (a 16-bit field). */
    static int mssrl(Namespace ns) {
        return Math.min(0xffff, mcl(ns));
    }

    private Result flush(int nsid) throws IOException {
        if (nsid == 0xffffffff) {
            for (Namespace n : c.subsystem.namespacesOf(c.cntlid)) n.flush();
            return Result.ok();
        }
        Namespace ns = c.subsystem.namespace(c.cntlid, nsid);
        if (ns == null) return Result.error(StatusCodes.INVALID_NS);
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
