package dev.nvmelm.net.proto;

import java.util.Arrays;
import java.util.UUID;

/**
 * The migration wire protocol between the source and the destination agent (docs/network.md).
 * Every frame is {@code u32 length | u8 type | payload}, big-endian, with length = 1 + payload
 * size and at most {@link FrameCodec#MAX_FRAME_BYTES}. Sequence numbers order everything the
 * destination applies; an ACK for n means every frame up to n is applied (and, after FLUSH,
 * durable).
 */
public sealed interface Frame {
    /** Version 2 adds the restarted-source flag, DIGEST_REQUEST/DIGESTS and compressed DATA; an agent still serves version 1 sources. */
    int VERSION = 2, MIN_VERSION = 1;

    byte type();

    /** Source -> destination frames that the destination applies in seq order and acknowledges. */
    sealed interface Numbered extends Frame {
        long seq();
    }

    /**
     * Source -> destination, first frame: who is migrating what, and from where to resume.
     * {@code restarted}: the source lost its state (it was killed) and resumes a migration it
     * no longer tracks; {@code compression}: how it will encode DATA (the agent refuses a codec
     * it does not accept). Both travel in the flags byte that version 1 used for resume, so a
     * version 1 agent still reads the frame and refuses the version cleanly.
     */
    record Hello(int version, UUID migrationId, long sizeBytes, int lbaSizeBytes, boolean resume, boolean restarted,
                 Compression compression) implements Frame {
        public Hello(int version, UUID migrationId, long sizeBytes, int lbaSizeBytes, boolean resume) {
            this(version, migrationId, sizeBytes, lbaSizeBytes, resume, false, Compression.NONE);
        }

        public byte type() { return 1; }
    }

    /** Destination -> source: accepted; {@code durableSeq} is where a resumed stream continues. */
    record Welcome(int version, long durableSeq) implements Frame {
        public byte type() { return 2; }
    }

    /** Either side: the connection is refused or aborted, with a code and a human reason. */
    record Refuse(int code, String reason) implements Frame {
        public byte type() { return 3; }
    }

    /** Data for [offset, offset + data.length) with its CRC32C. */
    record Data(long seq, long offset, int crc32c, byte[] data) implements Numbered {
        public byte type() { return 4; }

        @Override
        public boolean equals(Object o) {
            return o instanceof Data d && d.seq == seq && d.offset == offset && d.crc32c == crc32c && Arrays.equals(d.data, data);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(seq) * 31 + Arrays.hashCode(data);
        }
    }

    /** A zero or unallocated range: travels as a range, never as bytes. */
    record Zero(long seq, long offset, long length, boolean deallocate) implements Numbered {
        public byte type() { return 5; }
    }

    /** Destination -> source: everything up to seq is applied; durable if it answers a Flush. */
    record Ack(long seq, boolean durable) implements Frame {
        public byte type() { return 6; }
    }

    /** Source -> destination: make everything up to seq durable (fsync) and ack it durable. */
    record Flush(long seq) implements Numbered {
        public byte type() { return 7; }
    }

    /** The migratable controller's state (Get Controller State output) to apply at switchover. */
    record ControllerStateBlob(long seq, byte[] state) implements Numbered {
        public byte type() { return 8; }

        @Override
        public boolean equals(Object o) {
            return o instanceof ControllerStateBlob c && c.seq == seq && Arrays.equals(c.state, state);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(seq) * 31 + Arrays.hashCode(state);
        }
    }

    /**
     * Source -> destination: the stream is complete at seq; the destination flushes, verifies
     * the whole namespace against {@code sha256} and answers Committed or Refuse.
     */
    record Commit(long seq, byte[] sha256) implements Numbered {
        public byte type() { return 9; }

        @Override
        public boolean equals(Object o) {
            return o instanceof Commit c && c.seq == seq && Arrays.equals(c.sha256, sha256);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(seq) * 31 + Arrays.hashCode(sha256);
        }
    }

    /** Destination -> source: data durable and verified, controller resumed. */
    record Committed(long seq) implements Frame {
        public byte type() { return 10; }
    }

    /**
     * Source -> destination, right after WELCOME and before any numbered frame: send the
     * SHA-256 of every {@code chunkBytes} chunk of the namespace as it is durable here.
     */
    record DigestRequest(int chunkBytes) implements Frame {
        public byte type() { return 11; }
    }

    /** Destination -> source: SHA-256 digests (32 bytes each) of chunks {@code firstChunk}, {@code firstChunk + 1}, ... */
    record Digests(long firstChunk, byte[] sha256s) implements Frame {
        public byte type() { return 12; }

        public int count() {
            return sha256s.length / 32;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Digests d && d.firstChunk == firstChunk && Arrays.equals(d.sha256s, sha256s);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(firstChunk) * 31 + Arrays.hashCode(sha256s);
        }
    }

    /**
     * The wire form of a {@link Data} whose payload compressed: the CRC32C is over the
     * uncompressed bytes and is checked after decompression. Decoding yields a {@link Data}.
     */
    record CompressedData(long seq, long offset, int crc32c, int rawLength, Compression codec, byte[] payload) implements Numbered {
        public byte type() { return 13; }

        @Override
        public boolean equals(Object o) {
            return o instanceof CompressedData d && d.seq == seq && d.offset == offset && d.crc32c == crc32c && d.rawLength == rawLength
                    && d.codec == codec && Arrays.equals(d.payload, payload);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(seq) * 31 + Arrays.hashCode(payload);
        }
    }

    /** Refuse codes. */
    int REFUSE_VERSION = 1, REFUSE_GEOMETRY = 2, REFUSE_BUSY = 3, REFUSE_PROTOCOL = 4, REFUSE_IO = 5,
            REFUSE_VERIFY = 6, REFUSE_UNKNOWN_MIGRATION = 7, REFUSE_NO_SPACE = 8, REFUSE_COMMITTED = 9, REFUSE_COMPRESSION = 10;
}
