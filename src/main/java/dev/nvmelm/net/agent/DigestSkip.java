package dev.nvmelm.net.agent;

import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.migrate.copy.Copier;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
    /** Verdicts of chunks judged from a piece, by chunk index (a few behind the bulk frontier). */
    private final java.util.concurrent.ConcurrentHashMap<Long, Boolean> verdicts = new java.util.concurrent.ConcurrentHashMap<>();

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
        boolean same;
        if (offset == start && data.byteSize() == end - start) {
            same = matches(index, data);
        } else {
            // a piece of a chunk (a device with smaller transfers, or an extent starting inside it):
            // the chunk is read and hashed once, and its other pieces take that verdict
            try {
                same = verdicts.computeIfAbsent(index, i -> {
                    try (Arena a = Arena.ofShared()) {   // shared: a backend may complete the read on its own thread
                        MemorySegment whole = a.allocate(end - start, 4096);
                        source.read(start, whole);
                        return matches(i, whole);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
            } catch (java.io.UncheckedIOException e) {
                throw e.getCause();
            }
            if (verdicts.size() > 256) verdicts.keySet().removeIf(i -> i < index - 128);   // the bulk moves forward
        }
        if (same) skipped.addAndGet(data.byteSize());
        return same;
    }

    private boolean matches(long index, MemorySegment wholeChunk) throws IOException {
        MessageDigest md = sha256();
        md.update(wholeChunk.asByteBuffer());
        return remote.agentChunkMatches(index, md.digest());
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
