package dev.nvmelm.nbd;

import dev.nvmelm.block.BlockDevice;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * An NBD export as the migration engine's {@link BlockDevice}, so a namespace can be copied
 * from or into qemu-nbd, qemu-storage-daemon, nbdkit or our own server. Many requests can be in
 * flight on one connection (the engine's workers each block on their own). Holes are found with
 * BLOCK_STATUS base:allocation, zeroes go as WRITE_ZEROES (NO_HOLE unless deallocating), and
 * every request has a timeout, so a hung server fails the copy instead of hanging it.
 */
public final class NbdBlockDevice implements BlockDevice {
    /** NBD lengths are 32-bit; zeroing and block status go in pieces of at most this. */
    private static final long MAX_RANGE = 1L << 30;

    private final String name;
    private final NbdClient client;
    private final int blockSize;
    private final Duration timeout;
    /** The export answered FAST_ZERO with ENOTSUP once: zeroing is slow there, so skip the attempt from then on. */
    private volatile boolean fastZeroRefused;

    /**
     * @param blockSizeBytes the engine's block (the source's LBA size); must be a multiple of the
     *                       export's minimum block size, and the export size a multiple of it
     */
    public NbdBlockDevice(String name, NbdClient client, int blockSizeBytes, Duration timeout) throws IOException {
        if (blockSizeBytes % Math.max(1, client.minBlockBytes()) != 0) {
            throw new IOException(name + ": its minimum block of " + client.minBlockBytes() + " bytes does not divide the " + blockSizeBytes + "-byte LBA");
        }
        if (client.sizeBytes() % blockSizeBytes != 0) {
            throw new IOException(name + ": " + client.sizeBytes() + " bytes is not a whole number of " + blockSizeBytes + "-byte blocks");
        }
        this.name = name;
        this.client = client;
        this.blockSize = blockSizeBytes;
        this.timeout = timeout;
    }

    public static NbdBlockDevice open(String uri, int blockSizeBytes, Duration timeout) throws IOException {
        return open(uri, blockSizeBytes, timeout, NbdClient.Options.PLAIN);
    }

    public static NbdBlockDevice open(String uri, int blockSizeBytes, Duration timeout, NbdClient.Options options) throws IOException {
        NbdClient c = NbdClient.connect(NbdUri.parse(uri), options);
        try {
            return new NbdBlockDevice(uri, c, blockSizeBytes, timeout);
        } catch (IOException e) {
            c.close();
            throw e;
        }
    }

    @Override public String name() { return name; }

    public NbdClient client() { return client; }

    public Duration timeout() { return timeout; }

    @Override public long sizeBytes() { return client.sizeBytes(); }

    @Override public int blockSizeBytes() { return blockSize; }

    @Override public int maxRequestBytes() { return Math.max(blockSize, Math.min(client.maxPayloadBytes(), 4 << 20) / blockSize * blockSize); }

    @Override
    public MemorySegment allocateBuffer(long sizeBytes) {
        return Arena.ofAuto().allocate(sizeBytes, 4096);
    }

    <T> T await(CompletableFuture<T> f, String what) throws IOException {
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(false);
            throw new IOException(name + ": " + what + " got no reply in " + timeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(name + ": interrupted during " + what);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw new IOException(name + ": " + what + ": " + c.getMessage(), c);
        }
    }

    private void check(long offset, long length) throws IOException {
        if (offset % blockSize != 0 || length % blockSize != 0 || offset < 0 || length < 0 || offset + length > sizeBytes()) {
            throw new IOException(name + ": request [" + offset + ", +" + length + ") is unaligned or past the end");
        }
    }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        check(offset, dst.byteSize());
        for (long at = 0; at < dst.byteSize(); at += maxRequestBytes()) {
            int n = (int) Math.min(maxRequestBytes(), dst.byteSize() - at);
            byte[] b = new byte[n];
            await(client.read(offset + at, b), "read at " + (offset + at));
            MemorySegment.copy(b, 0, dst, ValueLayout.JAVA_BYTE, at, n);
        }
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        check(offset, src.byteSize());
        for (long at = 0; at < src.byteSize(); at += maxRequestBytes()) {
            int n = (int) Math.min(maxRequestBytes(), src.byteSize() - at);
            byte[] b = src.asSlice(at, n).toArray(ValueLayout.JAVA_BYTE);
            await(client.write(offset + at, b, false), "write at " + (offset + at));
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean deallocate) throws IOException {
        check(offset, length);
        if (client.readOnly()) throw new IOException(name + ": the export is read-only");
        for (long at = 0; at < length; at += MAX_RANGE) {
            long n = Math.min(MAX_RANGE, length - at);
            if (client.canZero()) {
                if (deallocate && client.canFastZero() && !fastZeroRefused) {
                    try {
                        await(client.writeZeroes(offset + at, n, false, true), "fast zero at " + (offset + at));
                        continue;
                    } catch (IOException e) {
                        if (!(e.getCause() instanceof NbdError ne && ne.errno() == Nbd.ENOTSUP)) throw e;
                        fastZeroRefused = true;
                    }
                }
                // zeroing is slow here (or FAST_ZERO unknown): a range already reading as zeroes needs nothing
                if (deallocate && readsAsZeroes(offset + at, n)) continue;
                await(client.writeZeroes(offset + at, n, !deallocate, false), "write zeroes at " + (offset + at));
            } else {
                byte[] z = new byte[(int) Math.min(n, maxRequestBytes())];
                for (long k = 0; k < n; k += z.length) {
                    int m = (int) Math.min(z.length, n - k);
                    await(client.write(offset + at + k, m == z.length ? z : new byte[m], false), "write (zeroes) at " + (offset + at + k));
                }
            }
        }
    }

    @Override
    public void flush() throws IOException {
        if (client.canFlush()) await(client.flush(), "flush");
    }

    /** True when base:allocation marks all of [offset, offset+length) as reading zeroes (STATE_ZERO). */
    private boolean readsAsZeroes(long offset, long length) throws IOException {
        if (!client.hasAllocationMap()) return false;
        long at = offset, end = offset + length;
        while (at < end) {
            List<NbdExport.Extent> ext = await(client.blockStatus(at, end - at), "block status at " + at);
            if (ext.isEmpty()) return false;
            for (NbdExport.Extent e : ext) {
                if ((e.flags() & Nbd.STATE_ZERO) == 0 || e.lengthBytes() == 0) return false;
                at += e.lengthBytes();
                if (at >= end) return true;
            }
        }
        return true;
    }

    @Override
    public List<Extent> allocated(long offset, long length) throws IOException {
        if (!client.hasAllocationMap()) return List.of(new Extent(offset, length));
        List<Extent> out = new ArrayList<>();
        long at = offset, end = offset + length;
        while (at < end) {
            List<NbdExport.Extent> ext = await(client.blockStatus(at, Math.min(MAX_RANGE, end - at)), "block status at " + at);
            if (ext.isEmpty()) throw new IOException(name + ": block status at " + at + " returned no extents");
            for (NbdExport.Extent e : ext) {
                if (e.lengthBytes() == 0) throw new IOException(name + ": block status at " + at + " returned an empty extent");
                long len = Math.min(e.lengthBytes(), end - at);
                if (len <= 0) break;
                // HOLE or ZERO both read as zeroes: nothing to read (nbdcopy treats them alike)
                if ((e.flags() & (Nbd.STATE_HOLE | Nbd.STATE_ZERO)) == 0) {
                    if (!out.isEmpty() && out.getLast().offset() + out.getLast().length() == at) {
                        Extent last = out.removeLast();
                        out.add(new Extent(last.offset(), last.length() + len));
                    } else {
                        out.add(new Extent(at, len));
                    }
                }
                at += len;
            }
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        client.close();
    }
}
