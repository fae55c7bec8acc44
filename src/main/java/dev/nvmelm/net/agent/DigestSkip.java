package dev.nvmelm.net.agent;

import dev.nvmelm.migrate.block.BlockDevice;
import dev.nvmelm.migrate.copy.Copier;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The bulk pass of a restarted source ({@code migrate --resume}): a chunk whose SHA-256 equals
 * the one the agent reported for its durable copy is not sent again. A piece that covers only
 * part of a chunk (the rest is a hole, sent as a zero range anyway) is judged by reading the whole
 * chunk from the source. Data the guest changes after this is read is tracked by the CDQ and
 * copied by the dirty passes like any other change.
 */
public final class DigestSkip implements Copier.BulkSkip {
    private final RemoteDestination remote;
    private final BlockDevice source;
    private final int chunk;
    private final java.util.concurrent.atomic.AtomicLong skipped = new java.util.concurrent.atomic.AtomicLong();

    public DigestSkip(RemoteDestination remote, BlockDevice source) {
        if (remote.digestChunkBytes() <= 0) throw new IllegalArgumentException("the destination sent no digests: this source did not restart");
        this.remote = remote;
        this.source = source;
        this.chunk = remote.digestChunkBytes();
    }

    @Override
    public int alignment() {
        return chunk;
    }

    @Override
    public boolean alreadyThere(long offset, MemorySegment data) throws IOException {
        long index = offset / chunk, start = index * chunk;
        long end = Math.min(start + chunk, source.sizeBytes());
        if (offset + data.byteSize() > end) return false;   // crosses a chunk boundary: cannot judge, send it
        MessageDigest md = sha256();
        if (offset == start && data.byteSize() == end - start) {
            md.update(data.asByteBuffer());
        } else {
            try (Arena a = Arena.ofShared()) {   // shared: a backend may complete the read on its own thread
                MemorySegment whole = a.allocate(end - start, 4096);
                source.read(start, whole);
                md.update(whole.toArray(ValueLayout.JAVA_BYTE));
            }
        }
        boolean same = remote.agentChunkMatches(index, md.digest());
        if (same) skipped.addAndGet(data.byteSize());
        return same;
    }

    /** Bytes the bulk pass did not send because the agent held them already. */
    public long bytesSkipped() {
        return skipped.get();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
