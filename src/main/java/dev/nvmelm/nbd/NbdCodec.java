package dev.nvmelm.nbd;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The NBD wire format, both directions (the NBD protocol's proto.md: "Newstyle negotiation",
 * "Option types", "Request message", "Simple reply message", "Structured reply chunk message",
 * "Extended headers"): every message {@link NbdServer} and {@link NbdClient} send is built here,
 * and every one they receive is decoded here. Big-endian, as the protocol is.
 *
 * <p>Fixed-size headers are read by the caller (the sizes are constants here) and decoded from
 * the bytes; a bad magic, a length beyond its bound or a body that does not add up is an
 * {@link NbdProtocolException}, never a runtime exception from a buffer underflow.
 */
public final class NbdCodec {
    private NbdCodec() {}

    public static final int SERVER_HELLO_BYTES = 18, CLIENT_FLAGS_BYTES = 4;
    public static final int OPTION_HEADER_BYTES = 16, OPTION_REPLY_HEADER_BYTES = 20;
    public static final int REQUEST_BYTES = 28, EXTENDED_REQUEST_BYTES = 32;
    public static final int SIMPLE_REPLY_BYTES = 16, CHUNK_HEADER_BYTES = 20, EXTENDED_CHUNK_HEADER_BYTES = 32;
    /** Bytes of an OFFSET_DATA chunk before its data (the offset), and of a whole OFFSET_HOLE payload. */
    public static final int OFFSET_DATA_PREFIX_BYTES = 8, OFFSET_HOLE_BYTES = 12;
    /** An error chunk's message is cut to this (proto.md: SHOULD NOT exceed 4096 bytes). */
    public static final int MAX_ERROR_MESSAGE_BYTES = 4096;
    /** A compact BLOCK_STATUS descriptor's 32-bit length is cut to a 4 KiB multiple below 2^32. */
    public static final long MAX_COMPACT_EXTENT_BYTES = 0xffffffffL & ~0xfffL;

    // ---- messages -------------------------------------------------------------------------

    /** One option the client sends: NBD_OPT_* and its data's length. */
    public record OptionHeader(int option, int length) {}

    /** The header of one option reply: the option it answers, NBD_REP_*, the payload's length. */
    public record OptionReplyHeader(int option, int type, int length) {
        public boolean isError() {
            return (type & 0x80000000) != 0;
        }
    }

    /** NBD_OPT_INFO / NBD_OPT_GO data: an export name and the NBD_INFO_* types asked for. */
    public record InfoRequest(String exportName, List<Integer> infos) {}

    /** NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT data. */
    public record MetaContextRequest(String exportName, List<String> queries) {}

    /** One NBD_REP_META_CONTEXT payload. */
    public record MetaContext(int id, String name) {}

    /** An NBD_REP_INFO payload. */
    public sealed interface Info {}

    public record ExportInfo(long sizeBytes, int transmissionFlags) implements Info {}

    public record NameInfo(String name) implements Info {}

    public record DescriptionInfo(String description) implements Info {}

    public record BlockSizeInfo(int minimumBytes, int preferredBytes, int maximumPayloadBytes) implements Info {}

    /** An NBD_INFO_* type this codec does not know; skipped by the client. */
    public record UnknownInfo(int type) implements Info {}

    /** One transmission request (compact: length below 2^32; extended: 64-bit length). */
    public record Request(int flags, int type, long cookie, long offset, long length) {}

    /** The header of a reply: a simple reply, or one structured (or extended) reply chunk. */
    public sealed interface ReplyHeader {
        long cookie();
    }

    /** A simple reply: READ data follows when error is 0. */
    public record SimpleReply(int error, long cookie) implements ReplyHeader {}

    /** A structured reply chunk; {@code length} bytes of payload follow. */
    public record Chunk(int flags, int type, long cookie, int length) implements ReplyHeader {
        public boolean done() {
            return (flags & Nbd.REPLY_FLAG_DONE) != 0;
        }
    }

    /** The payload of an OFFSET_HOLE chunk. */
    public record Hole(long offset, int length) {}

    /** The payload of an error chunk. */
    public record ErrorChunk(int errno, String message) {}

    /** The payload of a BLOCK_STATUS or BLOCK_STATUS_EXT chunk. */
    public record BlockStatus(int contextId, List<NbdExport.Extent> extents) {}

    // ---- handshake ------------------------------------------------------------------------

    public static ByteBuffer serverHello(int handshakeFlags) {
        return ByteBuffer.allocate(SERVER_HELLO_BYTES).putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT).putShort((short) handshakeFlags).flip();
    }

    /** The server's handshake flags; only fixed newstyle servers are accepted. */
    public static int decodeServerHello(ByteBuffer b) throws NbdProtocolException {
        need(b, SERVER_HELLO_BYTES, "server greeting");
        if (b.getLong() != Nbd.NBDMAGIC) throw new NbdProtocolException("not an NBD server");
        if (b.getLong() != Nbd.IHAVEOPT) throw new NbdProtocolException("server speaks oldstyle NBD, which is not supported");
        int flags = Short.toUnsignedInt(b.getShort());
        if ((flags & Nbd.FLAG_FIXED_NEWSTYLE) == 0) throw new NbdProtocolException("server lacks fixed newstyle negotiation");
        return flags;
    }

    public static ByteBuffer clientFlags(int flags) {
        return ByteBuffer.allocate(CLIENT_FLAGS_BYTES).putInt(flags).flip();
    }

    public static int decodeClientFlags(ByteBuffer b) throws NbdProtocolException {
        need(b, CLIENT_FLAGS_BYTES, "client flags");
        int flags = b.getInt();
        if ((flags & ~(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)) != 0) {
            throw new NbdProtocolException("unknown client flags 0x" + Integer.toHexString(flags));
        }
        return flags;
    }

    /** The reply to NBD_OPT_EXPORT_NAME: size and transmission flags, then 124 zeroes unless NO_ZEROES. */
    public static ByteBuffer exportNameReply(long sizeBytes, int transmissionFlags, boolean noZeroes) {
        ByteBuffer r = ByteBuffer.allocate(10 + (noZeroes ? 0 : 124)).putLong(sizeBytes).putShort((short) transmissionFlags);
        return r.position(r.capacity()).flip();
    }

    // ---- options --------------------------------------------------------------------------

    public static ByteBuffer optionHeader(int option, int dataLength) {
        return ByteBuffer.allocate(OPTION_HEADER_BYTES).putLong(Nbd.IHAVEOPT).putInt(option).putInt(dataLength).flip();
    }

    public static OptionHeader decodeOptionHeader(ByteBuffer b, int maxDataBytes) throws NbdProtocolException {
        need(b, OPTION_HEADER_BYTES, "option header");
        if (b.getLong() != Nbd.IHAVEOPT) throw new NbdProtocolException("bad option magic");
        int option = b.getInt(), len = b.getInt();
        if (len < 0 || len > maxDataBytes) throw new NbdProtocolException("option data of " + Integer.toUnsignedString(len) + " bytes is too big");
        return new OptionHeader(option, len);
    }

    public static ByteBuffer optionReplyHeader(int option, int type, int payloadLength) {
        return ByteBuffer.allocate(OPTION_REPLY_HEADER_BYTES).putLong(Nbd.REPLY_MAGIC).putInt(option).putInt(type).putInt(payloadLength).flip();
    }

    public static OptionReplyHeader decodeOptionReplyHeader(ByteBuffer b, int maxPayloadBytes) throws NbdProtocolException {
        need(b, OPTION_REPLY_HEADER_BYTES, "option reply header");
        if (b.getLong() != Nbd.REPLY_MAGIC) throw new NbdProtocolException("bad option reply magic");
        int option = b.getInt(), type = b.getInt(), len = b.getInt();
        if (len < 0 || len > maxPayloadBytes) throw new NbdProtocolException("option reply of " + Integer.toUnsignedString(len) + " bytes is too large");
        return new OptionReplyHeader(option, type, len);
    }

    public static ByteBuffer infoRequest(InfoRequest r) {
        byte[] name = utf8(r.exportName());
        ByteBuffer b = ByteBuffer.allocate(4 + name.length + 2 + 2 * r.infos().size()).putInt(name.length).put(name).putShort((short) r.infos().size());
        for (int i : r.infos()) b.putShort((short) i);
        return b.flip();
    }

    public static InfoRequest decodeInfoRequest(ByteBuffer b) throws NbdProtocolException {
        if (b.remaining() < 6) throw new NbdProtocolException("short INFO/GO request");
        int nameLen = b.getInt();
        if (nameLen < 0 || nameLen > b.remaining() - 2) throw new NbdProtocolException("bad export name length");
        String name = string(b, nameLen);
        int n = Short.toUnsignedInt(b.getShort());
        if (b.remaining() != n * 2) throw new NbdProtocolException("bad information request list");
        List<Integer> infos = new ArrayList<>(n);
        for (int i = 0; i < n; i++) infos.add(Short.toUnsignedInt(b.getShort()));
        return new InfoRequest(name, List.copyOf(infos));
    }

    public static ByteBuffer metaContextRequest(MetaContextRequest r) {
        byte[] name = utf8(r.exportName());
        List<byte[]> qs = r.queries().stream().map(NbdCodec::utf8).toList();
        ByteBuffer b = ByteBuffer.allocate(4 + name.length + 4 + qs.stream().mapToInt(q -> 4 + q.length).sum());
        b.putInt(name.length).put(name).putInt(qs.size());
        for (byte[] q : qs) b.putInt(q.length).put(q);
        return b.flip();
    }

    public static MetaContextRequest decodeMetaContextRequest(ByteBuffer b) throws NbdProtocolException {
        if (b.remaining() < 8) throw new NbdProtocolException("short meta context request");
        int nameLen = b.getInt();
        if (nameLen < 0 || nameLen > b.remaining() - 4) throw new NbdProtocolException("bad export name length");
        String name = string(b, nameLen);
        int n = b.getInt();
        List<String> queries = new ArrayList<>();
        for (int i = 0; i < n; i++) {   // n is only compared: each query must bring its own bytes
            if (b.remaining() < 4) throw new NbdProtocolException("truncated query list");
            int ql = b.getInt();
            if (ql < 0 || ql > b.remaining()) throw new NbdProtocolException("bad query length");
            queries.add(string(b, ql));
        }
        if (b.hasRemaining()) throw new NbdProtocolException("trailing bytes in meta context request");
        return new MetaContextRequest(name, List.copyOf(queries));
    }

    /** NBD_REP_SERVER (a reply to NBD_OPT_LIST): the export name with its length. */
    public static ByteBuffer serverReply(String exportName) {
        byte[] n = utf8(exportName);
        return ByteBuffer.allocate(4 + n.length).putInt(n.length).put(n).flip();
    }

    public static ByteBuffer metaContext(MetaContext c) {
        byte[] n = utf8(c.name());
        return ByteBuffer.allocate(4 + n.length).putInt(c.id()).put(n).flip();
    }

    public static MetaContext decodeMetaContext(ByteBuffer b) throws NbdProtocolException {
        if (b.remaining() < 4) throw new NbdProtocolException("short NBD_REP_META_CONTEXT");
        int id = b.getInt();
        return new MetaContext(id, string(b, b.remaining()));
    }

    public static ByteBuffer info(Info info) {
        return switch (info) {
            case ExportInfo e -> ByteBuffer.allocate(12).putShort((short) Nbd.INFO_EXPORT).putLong(e.sizeBytes()).putShort((short) e.transmissionFlags()).flip();
            case NameInfo n -> textInfo(Nbd.INFO_NAME, n.name());
            case DescriptionInfo d -> textInfo(Nbd.INFO_DESCRIPTION, d.description());
            case BlockSizeInfo s -> ByteBuffer.allocate(14).putShort((short) Nbd.INFO_BLOCK_SIZE)
                    .putInt(s.minimumBytes()).putInt(s.preferredBytes()).putInt(s.maximumPayloadBytes()).flip();
            case UnknownInfo u -> ByteBuffer.allocate(2).putShort((short) u.type()).flip();
        };
    }

    public static Info decodeInfo(ByteBuffer b) throws NbdProtocolException {
        if (b.remaining() < 2) throw new NbdProtocolException("short NBD_REP_INFO");
        int type = Short.toUnsignedInt(b.getShort());
        return switch (type) {
            case Nbd.INFO_EXPORT -> {
                if (b.remaining() != 10) throw new NbdProtocolException("NBD_INFO_EXPORT of " + (2 + b.remaining()) + " bytes");
                yield new ExportInfo(b.getLong(), Short.toUnsignedInt(b.getShort()));
            }
            case Nbd.INFO_NAME -> new NameInfo(string(b, b.remaining()));
            case Nbd.INFO_DESCRIPTION -> new DescriptionInfo(string(b, b.remaining()));
            case Nbd.INFO_BLOCK_SIZE -> {
                if (b.remaining() != 12) throw new NbdProtocolException("NBD_INFO_BLOCK_SIZE of " + (2 + b.remaining()) + " bytes");
                yield new BlockSizeInfo(b.getInt(), b.getInt(), b.getInt());
            }
            default -> new UnknownInfo(type);
        };
    }

    // ---- transmission ---------------------------------------------------------------------

    public static ByteBuffer request(Request r, boolean extended) {
        if (extended) {
            return ByteBuffer.allocate(EXTENDED_REQUEST_BYTES).putInt(Nbd.EXTENDED_REQUEST_MAGIC).putShort((short) r.flags())
                    .putShort((short) r.type()).putLong(r.cookie()).putLong(r.offset()).putLong(r.length()).flip();
        }
        if (r.length() < 0 || r.length() > 0xffffffffL) throw new IllegalArgumentException("a compact request's length is 32 bits: " + r.length());
        return ByteBuffer.allocate(REQUEST_BYTES).putInt(Nbd.REQUEST_MAGIC).putShort((short) r.flags())
                .putShort((short) r.type()).putLong(r.cookie()).putLong(r.offset()).putInt((int) r.length()).flip();
    }

    /** Bytes of a request after its magic; a magic the negotiated form does not allow is refused. */
    public static int requestRestBytes(int magic, boolean extended) throws NbdProtocolException {
        if (magic != (extended ? Nbd.EXTENDED_REQUEST_MAGIC : Nbd.REQUEST_MAGIC)) {
            throw new NbdProtocolException("bad request magic 0x" + Integer.toHexString(magic) + (extended ? " (extended headers negotiated)" : ""));
        }
        return (extended ? EXTENDED_REQUEST_BYTES : REQUEST_BYTES) - 4;
    }

    /**
     * A request after its magic ({@code rest}: {@code REQUEST_BYTES - 4} bytes, or the extended
     * size less 4); the magic must be the negotiated form's. The length may exceed 2^63 (read as
     * negative): it is the caller's to refuse with EOVERFLOW, the request being well formed.
     */
    public static Request decodeRequest(int magic, ByteBuffer rest, boolean extended) throws NbdProtocolException {
        need(rest, requestRestBytes(magic, extended), "request");
        int flags = Short.toUnsignedInt(rest.getShort());
        int type = Short.toUnsignedInt(rest.getShort());
        long cookie = rest.getLong(), offset = rest.getLong();
        long length = extended ? rest.getLong() : Integer.toUnsignedLong(rest.getInt());
        return new Request(flags, type, cookie, offset, length);
    }

    public static ByteBuffer simpleReply(int error, long cookie) {
        return ByteBuffer.allocate(SIMPLE_REPLY_BYTES).putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie).flip();
    }

    /** A structured reply chunk header, or with extended headers the 32-byte one (it repeats the request's offset). */
    public static ByteBuffer chunkHeader(int flags, int type, long cookie, long requestOffset, int payloadLength, boolean extended) {
        if (extended) {
            return ByteBuffer.allocate(EXTENDED_CHUNK_HEADER_BYTES).putInt(Nbd.EXTENDED_REPLY_MAGIC).putShort((short) flags).putShort((short) type)
                    .putLong(cookie).putLong(requestOffset).putLong(Integer.toUnsignedLong(payloadLength)).flip();
        }
        return ByteBuffer.allocate(CHUNK_HEADER_BYTES).putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) flags).putShort((short) type)
                .putLong(cookie).putInt(payloadLength).flip();
    }

    /** Bytes of the reply header after its magic; a magic the negotiated form does not allow is refused. */
    public static int replyHeaderRestBytes(int magic, boolean extended) throws NbdProtocolException {
        if (extended && magic != Nbd.EXTENDED_REPLY_MAGIC) {
            throw new NbdProtocolException("reply magic 0x" + Integer.toHexString(magic) + " after extended headers were negotiated");
        }
        return switch (magic) {
            case Nbd.SIMPLE_REPLY_MAGIC -> SIMPLE_REPLY_BYTES - 4;
            case Nbd.STRUCTURED_REPLY_MAGIC -> CHUNK_HEADER_BYTES - 4;
            case Nbd.EXTENDED_REPLY_MAGIC -> {
                if (!extended) throw new NbdProtocolException("extended reply without extended headers");
                yield EXTENDED_CHUNK_HEADER_BYTES - 4;
            }
            default -> throw new NbdProtocolException("bad reply magic 0x" + Integer.toHexString(magic));
        };
    }

    /** A reply header from its magic and the {@link #replyHeaderRestBytes} that followed it. */
    public static ReplyHeader decodeReplyHeader(int magic, ByteBuffer rest) throws NbdProtocolException {
        switch (magic) {
            case Nbd.SIMPLE_REPLY_MAGIC -> {
                need(rest, SIMPLE_REPLY_BYTES - 4, "simple reply");
                return new SimpleReply(rest.getInt(), rest.getLong());
            }
            case Nbd.STRUCTURED_REPLY_MAGIC -> {
                need(rest, CHUNK_HEADER_BYTES - 4, "reply chunk");
                int flags = Short.toUnsignedInt(rest.getShort()), type = Short.toUnsignedInt(rest.getShort());
                long cookie = rest.getLong();
                return new Chunk(flags, type, cookie, chunkLength(Integer.toUnsignedLong(rest.getInt())));
            }
            case Nbd.EXTENDED_REPLY_MAGIC -> {
                need(rest, EXTENDED_CHUNK_HEADER_BYTES - 4, "extended reply chunk");
                int flags = Short.toUnsignedInt(rest.getShort()), type = Short.toUnsignedInt(rest.getShort());
                long cookie = rest.getLong();
                rest.getLong();   // the request's offset, repeated
                return new Chunk(flags, type, cookie, chunkLength(rest.getLong()));
            }
            default -> throw new NbdProtocolException("bad reply magic 0x" + Integer.toHexString(magic));
        }
    }

    private static int chunkLength(long len) throws NbdProtocolException {
        if (len < 0 || len > Integer.MAX_VALUE) throw new NbdProtocolException("chunk of " + Long.toUnsignedString(len) + " bytes");
        return (int) len;
    }

    public static ByteBuffer offsetDataPrefix(long offset) {
        return ByteBuffer.allocate(OFFSET_DATA_PREFIX_BYTES).putLong(offset).flip();
    }

    public static long decodeOffsetDataPrefix(ByteBuffer b) throws NbdProtocolException {
        need(b, OFFSET_DATA_PREFIX_BYTES, "OFFSET_DATA chunk");
        return b.getLong();
    }

    public static ByteBuffer hole(Hole h) {
        return ByteBuffer.allocate(OFFSET_HOLE_BYTES).putLong(h.offset()).putInt(h.length()).flip();
    }

    public static Hole decodeHole(ByteBuffer b) throws NbdProtocolException {
        need(b, OFFSET_HOLE_BYTES, "OFFSET_HOLE chunk");
        long offset = b.getLong();
        int length = b.getInt();
        if (length < 0) throw new NbdProtocolException("OFFSET_HOLE of " + Integer.toUnsignedString(length) + " bytes");
        return new Hole(offset, length);
    }

    /** An error chunk's payload: errno, message length, message (cut to {@link #MAX_ERROR_MESSAGE_BYTES}). */
    public static ByteBuffer errorPayload(int errno, String message) {
        byte[] m = utf8(message);
        if (m.length > MAX_ERROR_MESSAGE_BYTES) m = Arrays.copyOf(m, MAX_ERROR_MESSAGE_BYTES);
        return ByteBuffer.allocate(6 + m.length).putInt(errno).putShort((short) m.length).put(m).flip();
    }

    /** An error chunk; an ERROR_OFFSET chunk's trailing offset is ignored, a message longer than the chunk reads as empty. */
    public static ErrorChunk decodeError(ByteBuffer b) throws NbdProtocolException {
        if (b.remaining() < 6) throw new NbdProtocolException("error chunk of " + b.remaining() + " bytes");
        int errno = b.getInt();
        int ml = Short.toUnsignedInt(b.getShort());
        return new ErrorChunk(errno, ml <= b.remaining() ? string(b, ml) : "");
    }

    /**
     * A BLOCK_STATUS payload (context id, {32-bit length, 32-bit status}...) or with extended
     * headers BLOCK_STATUS_EXT (context id, count, {64-bit length, 64-bit status}...). A compact
     * descriptor longer than {@link #MAX_COMPACT_EXTENT_BYTES} is cut there and ends the list:
     * later ones would start at the wrong offset.
     */
    public static ByteBuffer blockStatus(BlockStatus s, boolean extended) {
        List<NbdExport.Extent> ext = s.extents();
        if (extended) {
            ByteBuffer p = ByteBuffer.allocate(8 + 16 * ext.size()).putInt(s.contextId()).putInt(ext.size());
            for (NbdExport.Extent e : ext) p.putLong(e.lengthBytes()).putLong(Integer.toUnsignedLong(e.flags()));
            return p.flip();
        }
        int n = 0;
        while (n < ext.size() && ext.get(n++).lengthBytes() <= MAX_COMPACT_EXTENT_BYTES) { /* count up to the first split */ }
        ByteBuffer p = ByteBuffer.allocate(4 + 8 * n).putInt(s.contextId());
        for (int k = 0; k < n; k++) p.putInt((int) Math.min(ext.get(k).lengthBytes(), MAX_COMPACT_EXTENT_BYTES)).putInt(ext.get(k).flags());
        return p.flip();
    }

    /** A BLOCK_STATUS(_EXT) payload. Compact lengths of 0 are passed on (the caller refuses an empty extent where it walks them). */
    public static BlockStatus decodeBlockStatus(ByteBuffer b, boolean extended) throws NbdProtocolException {
        List<NbdExport.Extent> list = new ArrayList<>();
        if (!extended) {
            if (b.remaining() < 4) throw new NbdProtocolException("short BLOCK_STATUS chunk");
            int id = b.getInt();
            while (b.remaining() >= 8) list.add(new NbdExport.Extent(Integer.toUnsignedLong(b.getInt()), b.getInt()));
            return new BlockStatus(id, list);
        }
        if (b.remaining() < 8 || (b.remaining() - 8) % 16 != 0) throw new NbdProtocolException("bad BLOCK_STATUS_EXT chunk of " + b.remaining() + " bytes");
        int id = b.getInt();
        b.getInt();   // the count: the length already says it
        while (b.remaining() >= 16) {
            long l = b.getLong(), f = b.getLong();   // status flags of every context we read fit 32 bits
            if (l <= 0) throw new NbdProtocolException("BLOCK_STATUS_EXT extent of length " + Long.toUnsignedString(l));
            list.add(new NbdExport.Extent(l, (int) f));
        }
        return new BlockStatus(id, list);
    }

    // ---- text -----------------------------------------------------------------------------

    /** The bytes left in {@code b} as UTF-8 (an option error's message, an export name). */
    public static String text(ByteBuffer b) {
        return string(b, b.remaining());
    }

    private static ByteBuffer textInfo(int type, String s) {
        byte[] t = utf8(s);
        return ByteBuffer.allocate(2 + t.length).putShort((short) type).put(t).flip();
    }

    private static String string(ByteBuffer b, int n) {
        byte[] a = new byte[n];
        b.get(a);
        return new String(a, StandardCharsets.UTF_8);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void need(ByteBuffer b, int n, String what) throws NbdProtocolException {
        if (b.remaining() < n) throw new NbdProtocolException("truncated " + what + ": " + b.remaining() + " of " + n + " bytes");
    }
}
