package dev.nvmelm.net.proto;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * Reads and writes {@link Frame}s. The length is checked against a hard maximum before any
 * allocation, so a hostile peer cannot make us allocate more than one frame's worth; a data
 * frame whose CRC32C does not match its bytes is rejected before anything is written.
 */
public final class FrameCodec {
    private FrameCodec() {}

    /** Largest data payload a frame carries. */
    public static final int MAX_DATA_BYTES = 1 << 20;
    /** Largest frame on the wire (data frame header included; controller state fits too). */
    public static final int MAX_FRAME_BYTES = MAX_DATA_BYTES + 64;
    private static final int MAX_REASON_BYTES = 1024;
    /** Digests per DIGESTS frame (512 KiB of SHA-256): a 1 TiB namespace in 1 MiB chunks takes 64 frames. */
    public static final int MAX_DIGESTS_PER_FRAME = 16384;

    /** Bytes the frame takes on the wire, length prefix included. */
    public static long wireBytes(Frame f) {
        return 4 + 1 + payloadBytes(f, f instanceof Frame.Refuse r ? truncate(r.reason()) : null);
    }

    private static int payloadBytes(Frame f, byte[] reason) {
        return switch (f) {
            case Frame.Hello h -> 2 + 16 + 8 + 4 + 1;
            case Frame.Welcome w -> 2 + 8;
            case Frame.Refuse r -> 2 + 2 + reason.length;
            case Frame.Data d -> 8 + 8 + 4 + 4 + d.data().length;
            case Frame.Zero z -> 8 + 8 + 8 + 1;
            case Frame.Ack a -> 8 + 1;
            case Frame.Flush fl -> 8;
            case Frame.ControllerStateBlob c -> 8 + 4 + c.state().length;
            case Frame.Commit c -> 8 + 32;
            case Frame.Committed c -> 8;
            case Frame.DigestRequest d -> 4;
            case Frame.Digests d -> 8 + 4 + d.sha256s().length;
            case Frame.CompressedData d -> 8 + 8 + 4 + 4 + 1 + 4 + d.payload().length;
        };
    }

    /** Writes one frame; returns the bytes it took on the wire. */
    public static long write(DataOutputStream out, Frame f) throws IOException {
        byte[] reason = f instanceof Frame.Refuse r ? truncate(r.reason()) : null;
        int payload = payloadBytes(f, reason);
        if (f instanceof Frame.Data d && d.data().length > MAX_DATA_BYTES) {
            throw new ProtocolException("DATA payload of " + d.data().length + " bytes exceeds the maximum " + MAX_DATA_BYTES);
        }
        if (f instanceof Frame.Digests d && (d.sha256s().length % 32 != 0 || d.count() > MAX_DIGESTS_PER_FRAME)) {
            throw new ProtocolException("DIGESTS of " + d.sha256s().length + " bytes is not a whole number of at most " + MAX_DIGESTS_PER_FRAME + " digests");
        }
        if (1 + payload > MAX_FRAME_BYTES) throw new ProtocolException("frame of " + (1 + payload) + " bytes exceeds the maximum " + MAX_FRAME_BYTES);
        out.writeInt(1 + payload);
        out.writeByte(f.type());
        switch (f) {
            case Frame.Hello h -> {
                out.writeShort(h.version());
                out.writeLong(h.migrationId().getMostSignificantBits());
                out.writeLong(h.migrationId().getLeastSignificantBits());
                out.writeLong(h.sizeBytes());
                out.writeInt(h.lbaSizeBytes());
                // version 1 read this byte as "resume"; version 2 adds the restarted flag and the codec
                out.writeByte((h.resume() ? 1 : 0) | (h.restarted() ? 2 : 0) | h.compression().id << 2);
            }
            case Frame.Welcome w -> {
                out.writeShort(w.version());
                out.writeLong(w.durableSeq());
            }
            case Frame.Refuse r -> {
                out.writeShort(r.code());
                out.writeShort(reason.length);
                out.write(reason);
            }
            case Frame.Data d -> {
                out.writeLong(d.seq());
                out.writeLong(d.offset());
                out.writeInt(d.crc32c());
                out.writeInt(d.data().length);
                out.write(d.data());
            }
            case Frame.Zero z -> {
                out.writeLong(z.seq());
                out.writeLong(z.offset());
                out.writeLong(z.length());
                out.writeByte(z.deallocate() ? 1 : 0);
            }
            case Frame.Ack a -> {
                out.writeLong(a.seq());
                out.writeByte(a.durable() ? 1 : 0);
            }
            case Frame.Flush fl -> out.writeLong(fl.seq());
            case Frame.ControllerStateBlob c -> {
                out.writeLong(c.seq());
                out.writeInt(c.state().length);
                out.write(c.state());
            }
            case Frame.Commit c -> {
                out.writeLong(c.seq());
                if (c.sha256().length != 32) throw new ProtocolException("commit digest must be 32 bytes");
                out.write(c.sha256());
            }
            case Frame.Committed c -> out.writeLong(c.seq());
            case Frame.DigestRequest d -> out.writeInt(d.chunkBytes());
            case Frame.Digests d -> {
                out.writeLong(d.firstChunk());
                out.writeInt(d.count());
                out.write(d.sha256s());
            }
            case Frame.CompressedData d -> {
                out.writeLong(d.seq());
                out.writeLong(d.offset());
                out.writeInt(d.crc32c());
                out.writeInt(d.rawLength());
                out.writeByte(d.codec().id);
                out.writeInt(d.payload().length);
                out.write(d.payload());
            }
        }
        return 4L + 1 + payload;
    }

    /** Reads one frame; EOFException at a clean end of stream before a frame starts. Compressed DATA is refused. */
    public static Frame read(DataInputStream in) throws IOException {
        return read(in, Compression.NONE);
    }

    /**
     * Reads one frame, accepting compressed DATA in the negotiated codec only; such a frame is
     * decompressed (bounded by {@link #MAX_DATA_BYTES}), checked against its CRC32C and returned
     * as the {@link Frame.Data} it encodes.
     */
    public static Frame read(DataInputStream in, Compression accepted) throws IOException {
        int len;
        try {
            len = in.readInt();
        } catch (EOFException e) {
            throw e;
        }
        if (len < 1 || len > MAX_FRAME_BYTES) throw new ProtocolException("frame length " + len + " outside 1.." + MAX_FRAME_BYTES);
        int type = in.readUnsignedByte();
        int payload = len - 1;
        Frame f = switch (type) {
            case 1 -> {
                need(payload, 31, "HELLO");
                int version = in.readUnsignedShort();
                UUID id = new UUID(in.readLong(), in.readLong());
                long size = in.readLong();
                int lba = in.readInt();
                int flags = in.readUnsignedByte();
                if (version < 2) {   // version 1: the byte is only "resume"
                    yield new Frame.Hello(version, id, size, lba, flags != 0);
                }
                if ((flags & ~0x0f) != 0) throw new ProtocolException("HELLO flags " + flags + " has unknown bits");
                yield new Frame.Hello(version, id, size, lba, (flags & 1) != 0, (flags & 2) != 0, Compression.ofId(flags >> 2));
            }
            case 2 -> {
                need(payload, 10, "WELCOME");
                yield new Frame.Welcome(in.readUnsignedShort(), in.readLong());
            }
            case 3 -> {
                if (payload < 4) throw new ProtocolException("REFUSE frame too short");
                int code = in.readUnsignedShort();
                int n = in.readUnsignedShort();
                need(payload, 4 + n, "REFUSE");
                yield new Frame.Refuse(code, new String(readFully(in, n), StandardCharsets.UTF_8));
            }
            case 4 -> {
                if (payload < 24) throw new ProtocolException("DATA frame too short");
                long seq = in.readLong(), off = in.readLong();
                int crc = in.readInt(), n = in.readInt();
                if (n < 0 || n > MAX_DATA_BYTES) throw new ProtocolException("DATA length " + n + " outside 0.." + MAX_DATA_BYTES);
                need(payload, 24 + n, "DATA");
                byte[] data = readFully(in, n);
                if (crc32c(data) != crc) throw new ProtocolException("DATA frame seq " + seq + " at offset " + off + " fails its CRC32C");
                yield new Frame.Data(seq, off, crc, data);
            }
            case 5 -> {
                need(payload, 25, "ZERO");
                yield new Frame.Zero(in.readLong(), in.readLong(), in.readLong(), in.readByte() != 0);
            }
            case 6 -> {
                need(payload, 9, "ACK");
                yield new Frame.Ack(in.readLong(), in.readByte() != 0);
            }
            case 7 -> {
                need(payload, 8, "FLUSH");
                yield new Frame.Flush(in.readLong());
            }
            case 8 -> {
                if (payload < 12) throw new ProtocolException("STATE frame too short");
                long seq = in.readLong();
                int n = in.readInt();
                need(payload, 12 + n, "STATE");
                byte[] s = readFully(in, n);
                yield new Frame.ControllerStateBlob(seq, s);
            }
            case 9 -> {
                need(payload, 40, "COMMIT");
                long seq = in.readLong();
                byte[] d = readFully(in, 32);
                yield new Frame.Commit(seq, d);
            }
            case 10 -> {
                need(payload, 8, "COMMITTED");
                yield new Frame.Committed(in.readLong());
            }
            case 11 -> {
                need(payload, 4, "DIGEST_REQUEST");
                yield new Frame.DigestRequest(in.readInt());
            }
            case 12 -> {
                if (payload < 12) throw new ProtocolException("DIGESTS frame too short");
                long first = in.readLong();
                int n = in.readInt();
                if (n < 0 || n > MAX_DIGESTS_PER_FRAME) throw new ProtocolException("DIGESTS count " + n + " outside 0.." + MAX_DIGESTS_PER_FRAME);
                need(payload, 12 + 32 * n, "DIGESTS");
                yield new Frame.Digests(first, readFully(in, 32 * n));
            }
            case 13 -> {
                if (payload < 29) throw new ProtocolException("compressed DATA frame too short");
                long seq = in.readLong(), off = in.readLong();
                int crc = in.readInt(), raw = in.readInt();
                Compression codec = Compression.ofId(in.readUnsignedByte());
                int n = in.readInt();
                if (codec == Compression.NONE || codec != accepted) {
                    throw new ProtocolException("compressed DATA (" + codec.label() + ") that the HELLO did not negotiate");
                }
                need(payload, 29 + n, "compressed DATA");   // n is bounded by the frame length checked above
                byte[] data = codec.decompress(readFully(in, n), raw);
                if (crc32c(data) != crc) throw new ProtocolException("DATA frame seq " + seq + " at offset " + off + " fails its CRC32C");
                yield new Frame.Data(seq, off, crc, data);
            }
            default -> throw new ProtocolException("unknown frame type " + type);
        };
        return f;
    }

    private static byte[] readFully(DataInputStream in, int n) throws IOException {
        byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }

    private static void need(int payload, int expected, String what) throws ProtocolException {
        if (payload != expected) throw new ProtocolException(what + " frame has " + payload + " payload bytes, expected " + expected);
    }

    public static int crc32c(byte[] b) {
        CRC32C c = new CRC32C();
        c.update(b);
        return (int) c.getValue();
    }

    /** The reason's UTF-8 bytes, cut to at most {@link #MAX_REASON_BYTES} at a character boundary (never inside one). */
    private static byte[] truncate(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length <= MAX_REASON_BYTES) return b;
        int n = MAX_REASON_BYTES;
        while (n > 0 && (b[n] & 0xc0) == 0x80) n--;   // b[n] continues the character that starts before it
        return java.util.Arrays.copyOf(b, n);
    }
}
