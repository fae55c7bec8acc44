package dev.nvmelm.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every NBD message NbdCodec builds decodes back to itself; malformed bytes are NbdProtocolExceptions, never buffer underflows. */
class NbdCodecTest {

    /** The bytes after a 4-byte magic, as a reader that took the magic first sees them. */
    private static ByteBuffer afterMagic(ByteBuffer whole) {
        whole.getInt();
        return whole.slice();
    }

    private static ByteBuffer bytes(int... b) {
        ByteBuffer r = ByteBuffer.allocate(b.length);
        for (int x : b) r.put((byte) x);
        return r.flip();
    }

    @Test
    void handshakeRoundTrips() throws Exception {
        int flags = Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES;
        assertThat(NbdCodec.decodeServerHello(NbdCodec.serverHello(flags))).isEqualTo(flags);
        assertThat(NbdCodec.decodeClientFlags(NbdCodec.clientFlags(Nbd.FLAG_C_NO_ZEROES | Nbd.FLAG_C_FIXED_NEWSTYLE)))
                .isEqualTo(Nbd.FLAG_C_NO_ZEROES | Nbd.FLAG_C_FIXED_NEWSTYLE);
        ByteBuffer r = NbdCodec.exportNameReply(1L << 40, Nbd.TF_HAS_FLAGS | Nbd.TF_READ_ONLY, false);
        assertThat(r.remaining()).isEqualTo(134);
        assertThat(r.getLong()).isEqualTo(1L << 40);
        assertThat(r.getShort()).isEqualTo((short) (Nbd.TF_HAS_FLAGS | Nbd.TF_READ_ONLY));
        assertThat(NbdCodec.exportNameReply(1, 1, true).remaining()).isEqualTo(10);
    }

    @Test
    void malformedHandshakesAreProtocolErrors() {
        ByteBuffer oldstyle = ByteBuffer.allocate(18).putLong(Nbd.NBDMAGIC).putLong(0x00420281861253L).putShort((short) 1).flip();
        assertThatThrownBy(() -> NbdCodec.decodeServerHello(oldstyle)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("oldstyle");
        assertThatThrownBy(() -> NbdCodec.decodeServerHello(NbdCodec.serverHello(0))).isInstanceOf(NbdProtocolException.class).hasMessageContaining("fixed newstyle");
        assertThatThrownBy(() -> NbdCodec.decodeServerHello(bytes(1, 2, 3))).isInstanceOf(NbdProtocolException.class).hasMessageContaining("truncated");
        assertThatThrownBy(() -> NbdCodec.decodeClientFlags(NbdCodec.clientFlags(4))).isInstanceOf(NbdProtocolException.class).hasMessageContaining("unknown client flags 0x4");
    }

    @Test
    void optionsAndTheirRepliesRoundTrip() throws Exception {
        assertThat(NbdCodec.decodeOptionHeader(NbdCodec.optionHeader(Nbd.OPT_GO, 77), 100)).isEqualTo(new NbdCodec.OptionHeader(Nbd.OPT_GO, 77));
        NbdCodec.OptionReplyHeader err = NbdCodec.decodeOptionReplyHeader(NbdCodec.optionReplyHeader(Nbd.OPT_INFO, Nbd.REP_ERR_UNKNOWN, 5), 5);
        assertThat(err).isEqualTo(new NbdCodec.OptionReplyHeader(Nbd.OPT_INFO, Nbd.REP_ERR_UNKNOWN, 5));
        assertThat(err.isError()).isTrue();
        assertThat(new NbdCodec.OptionReplyHeader(1, Nbd.REP_INFO, 0).isError()).isFalse();

        var info = new NbdCodec.InfoRequest("c1n1", List.of(Nbd.INFO_BLOCK_SIZE, Nbd.INFO_NAME));
        assertThat(NbdCodec.decodeInfoRequest(NbdCodec.infoRequest(info))).isEqualTo(info);
        var meta = new NbdCodec.MetaContextRequest("é", List.of(Nbd.BASE_ALLOCATION, "qemu:dirty-bitmap:", ""));
        assertThat(NbdCodec.decodeMetaContextRequest(NbdCodec.metaContextRequest(meta))).isEqualTo(meta);
        var none = new NbdCodec.MetaContextRequest("", List.of());
        assertThat(NbdCodec.decodeMetaContextRequest(NbdCodec.metaContextRequest(none))).isEqualTo(none);
        var ctx = new NbdCodec.MetaContext(2, Nbd.NVME_LM_DIRTY);
        assertThat(NbdCodec.decodeMetaContext(NbdCodec.metaContext(ctx))).isEqualTo(ctx);
        ByteBuffer server = NbdCodec.serverReply("c1n2");
        assertThat(server.getInt()).isEqualTo(4);
        assertThat(NbdCodec.text(server)).isEqualTo("c1n2");

        for (NbdCodec.Info i : List.<NbdCodec.Info>of(new NbdCodec.ExportInfo(Long.MAX_VALUE, 0xffff), new NbdCodec.NameInfo("n"),
                new NbdCodec.DescriptionInfo("a namespace"), new NbdCodec.BlockSizeInfo(512, 4096, 32 << 20), new NbdCodec.UnknownInfo(99))) {
            assertThat(NbdCodec.decodeInfo(NbdCodec.info(i))).isEqualTo(i);
        }
    }

    @Test
    void malformedOptionsAreProtocolErrors() {
        ByteBuffer badMagic = ByteBuffer.allocate(16).putLong(Nbd.REPLY_MAGIC).putInt(1).putInt(0).flip();
        assertThatThrownBy(() -> NbdCodec.decodeOptionHeader(badMagic, 100)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("bad option magic");
        assertThatThrownBy(() -> NbdCodec.decodeOptionHeader(NbdCodec.optionHeader(1, 101), 100)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("101 bytes");
        assertThatThrownBy(() -> NbdCodec.decodeOptionHeader(NbdCodec.optionHeader(1, -1), 100)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("4294967295 bytes");
        assertThatThrownBy(() -> NbdCodec.decodeOptionReplyHeader(NbdCodec.optionHeader(1, 0), 10)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("truncated");
        assertThatThrownBy(() -> NbdCodec.decodeOptionReplyHeader(NbdCodec.optionReplyHeader(1, 1, 11), 10)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("too large");

        assertThatThrownBy(() -> NbdCodec.decodeInfoRequest(bytes(0, 0, 0, 0, 0))).isInstanceOf(NbdProtocolException.class).hasMessageContaining("short");
        // a name length running past the data, an info count the data does not hold
        assertThatThrownBy(() -> NbdCodec.decodeInfoRequest(bytes(0, 0, 0, 9, 'a', 0, 0))).isInstanceOf(NbdProtocolException.class).hasMessageContaining("export name length");
        assertThatThrownBy(() -> NbdCodec.decodeInfoRequest(bytes(0, 0, 0, 0, 0, 2, 0, 3))).isInstanceOf(NbdProtocolException.class).hasMessageContaining("information request list");
        assertThatThrownBy(() -> NbdCodec.decodeMetaContextRequest(bytes(0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff)))
                .isInstanceOf(NbdProtocolException.class).hasMessageContaining("truncated query list");
        assertThatThrownBy(() -> NbdCodec.decodeMetaContextRequest(bytes(0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5, 'x')))
                .isInstanceOf(NbdProtocolException.class).hasMessageContaining("bad query length");
        assertThatThrownBy(() -> NbdCodec.decodeMetaContextRequest(bytes(0, 0, 0, 0, 0, 0, 0, 0, 1)))
                .isInstanceOf(NbdProtocolException.class).hasMessageContaining("trailing bytes");
        assertThatThrownBy(() -> NbdCodec.decodeMetaContext(bytes(0, 0))).isInstanceOf(NbdProtocolException.class);
        assertThatThrownBy(() -> NbdCodec.decodeInfo(bytes(0, 0, 1, 2))).isInstanceOf(NbdProtocolException.class).hasMessageContaining("NBD_INFO_EXPORT of 4 bytes");
        assertThatThrownBy(() -> NbdCodec.decodeInfo(bytes(0, 3, 0, 0, 2, 0))).isInstanceOf(NbdProtocolException.class).hasMessageContaining("NBD_INFO_BLOCK_SIZE");
        assertThatThrownBy(() -> NbdCodec.decodeInfo(bytes(0))).isInstanceOf(NbdProtocolException.class);
    }

    @Test
    void requestsRoundTripInBothForms() throws Exception {
        var compact = new NbdCodec.Request(Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 7, 4096, 0xffffffffL);
        ByteBuffer c = NbdCodec.request(compact, false);
        assertThat(c.remaining()).isEqualTo(NbdCodec.REQUEST_BYTES);
        int magic = c.getInt(c.position());
        assertThat(NbdCodec.requestRestBytes(magic, false)).isEqualTo(24);
        assertThat(NbdCodec.decodeRequest(magic, afterMagic(c), false)).isEqualTo(compact);

        var extended = new NbdCodec.Request(0, Nbd.CMD_WRITE_ZEROES, -1, 1L << 40, 7L << 30);
        ByteBuffer e = NbdCodec.request(extended, true);
        assertThat(e.remaining()).isEqualTo(NbdCodec.EXTENDED_REQUEST_BYTES);
        assertThat(NbdCodec.decodeRequest(Nbd.EXTENDED_REQUEST_MAGIC, afterMagic(e), true)).isEqualTo(extended);
        // beyond 2^63 is well formed on the wire; refusing it (EOVERFLOW) is the server's decision
        var huge = new NbdCodec.Request(0, Nbd.CMD_TRIM, 1, 0, -1);
        assertThat(NbdCodec.decodeRequest(Nbd.EXTENDED_REQUEST_MAGIC, afterMagic(NbdCodec.request(huge, true)), true).length()).isEqualTo(-1);
    }

    @Test
    void theOtherFormsMagicOrATruncatedRequestIsAProtocolError() {
        assertThatThrownBy(() -> NbdCodec.requestRestBytes(Nbd.REQUEST_MAGIC, true)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("extended headers negotiated");
        assertThatThrownBy(() -> NbdCodec.requestRestBytes(Nbd.EXTENDED_REQUEST_MAGIC, false)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("bad request magic 0x21e41c71");
        assertThatThrownBy(() -> NbdCodec.decodeRequest(Nbd.REQUEST_MAGIC, bytes(0, 0, 0), false)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("truncated request");
        assertThatThrownBy(() -> NbdCodec.request(new NbdCodec.Request(0, Nbd.CMD_TRIM, 1, 0, 1L << 32), false)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void replyHeadersRoundTrip() throws Exception {
        ByteBuffer s = NbdCodec.simpleReply(Nbd.ENOSPC, 42);
        int magic = s.getInt(0);
        assertThat(NbdCodec.decodeReplyHeader(magic, afterMagic(s))).isEqualTo(new NbdCodec.SimpleReply(Nbd.ENOSPC, 42));
        for (boolean ext : new boolean[]{false, true}) {
            ByteBuffer h = NbdCodec.chunkHeader(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, 9, 8192, 1 << 20, ext);
            assertThat(h.remaining()).isEqualTo(ext ? NbdCodec.EXTENDED_CHUNK_HEADER_BYTES : NbdCodec.CHUNK_HEADER_BYTES);
            int m = h.getInt(0);
            assertThat(NbdCodec.replyHeaderRestBytes(m, ext)).isEqualTo(h.remaining() - 4);
            NbdCodec.ReplyHeader r = NbdCodec.decodeReplyHeader(m, afterMagic(h));
            assertThat(r).isEqualTo(new NbdCodec.Chunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, 9, 1 << 20));
            assertThat(((NbdCodec.Chunk) r).done()).isTrue();
        }
    }

    @Test
    void badReplyHeadersAreProtocolErrors() {
        assertThatThrownBy(() -> NbdCodec.replyHeaderRestBytes(0x12345678, false)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("bad reply magic 0x12345678");
        assertThatThrownBy(() -> NbdCodec.replyHeaderRestBytes(Nbd.SIMPLE_REPLY_MAGIC, true)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("after extended headers");
        assertThatThrownBy(() -> NbdCodec.replyHeaderRestBytes(Nbd.EXTENDED_REPLY_MAGIC, false)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("without extended headers");
        ByteBuffer fourGig = NbdCodec.chunkHeader(0, Nbd.REPLY_TYPE_ERROR, 1, 0, -1, false);
        assertThatThrownBy(() -> NbdCodec.decodeReplyHeader(Nbd.STRUCTURED_REPLY_MAGIC, afterMagic(fourGig)))
                .isInstanceOf(NbdProtocolException.class).hasMessageContaining("chunk of 4294967295 bytes");
        ByteBuffer ext = ByteBuffer.allocate(28).putShort((short) 0).putShort((short) 1).putLong(1).putLong(0).putLong(1L << 31).flip();
        assertThatThrownBy(() -> NbdCodec.decodeReplyHeader(Nbd.EXTENDED_REPLY_MAGIC, ext)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("chunk of 2147483648 bytes");
        assertThatThrownBy(() -> NbdCodec.decodeReplyHeader(Nbd.SIMPLE_REPLY_MAGIC, bytes(0, 0))).isInstanceOf(NbdProtocolException.class).hasMessageContaining("truncated");
    }

    @Test
    void chunkPayloadsRoundTrip() throws Exception {
        assertThat(NbdCodec.decodeOffsetDataPrefix(NbdCodec.offsetDataPrefix(1L << 50))).isEqualTo(1L << 50);
        var hole = new NbdCodec.Hole(4096, 65536);
        assertThat(NbdCodec.decodeHole(NbdCodec.hole(hole))).isEqualTo(hole);
        assertThat(NbdCodec.decodeError(NbdCodec.errorPayload(Nbd.EIO, "disk on fire"))).isEqualTo(new NbdCodec.ErrorChunk(Nbd.EIO, "disk on fire"));
        NbdCodec.ErrorChunk cut = NbdCodec.decodeError(NbdCodec.errorPayload(Nbd.EINVAL, "x".repeat(5000)));
        assertThat(cut.message()).hasSize(NbdCodec.MAX_ERROR_MESSAGE_BYTES);

        var extents = List.of(new NbdExport.Extent(4096, 0), new NbdExport.Extent(6L << 30, Nbd.STATE_HOLE | Nbd.STATE_ZERO));
        var status = new NbdCodec.BlockStatus(1, extents);
        assertThat(NbdCodec.decodeBlockStatus(NbdCodec.blockStatus(status, true), true)).isEqualTo(status);
        var small = new NbdCodec.BlockStatus(2, List.of(new NbdExport.Extent(512, 1), new NbdExport.Extent(1 << 20, 0)));
        assertThat(NbdCodec.decodeBlockStatus(NbdCodec.blockStatus(small, false), false)).isEqualTo(small);
    }

    @Test
    void aCompactExtentBeyondThirtyTwoBitsIsCutAndEndsTheList() throws Exception {
        var status = new NbdCodec.BlockStatus(1, List.of(new NbdExport.Extent(4096, 0), new NbdExport.Extent(6L << 30, 3), new NbdExport.Extent(4096, 0)));
        NbdCodec.BlockStatus back = NbdCodec.decodeBlockStatus(NbdCodec.blockStatus(status, false), false);
        assertThat(back.extents()).containsExactly(new NbdExport.Extent(4096, 0), new NbdExport.Extent(NbdCodec.MAX_COMPACT_EXTENT_BYTES, 3));
    }

    @Test
    void malformedChunkPayloadsAreProtocolErrors() {
        assertThatThrownBy(() -> NbdCodec.decodeHole(bytes(0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff))).isInstanceOf(NbdProtocolException.class);
        assertThatThrownBy(() -> NbdCodec.decodeHole(bytes(0))).isInstanceOf(NbdProtocolException.class);
        assertThatThrownBy(() -> NbdCodec.decodeOffsetDataPrefix(bytes(0))).isInstanceOf(NbdProtocolException.class);
        assertThatThrownBy(() -> NbdCodec.decodeError(bytes(0, 0, 0, 5))).isInstanceOf(NbdProtocolException.class);
        assertThatThrownBy(() -> NbdCodec.decodeBlockStatus(bytes(0, 0), false)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("short BLOCK_STATUS");
        assertThatThrownBy(() -> NbdCodec.decodeBlockStatus(ByteBuffer.allocate(8 + 15), true)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("bad BLOCK_STATUS_EXT chunk of 23 bytes");
        ByteBuffer zero = ByteBuffer.allocate(24).putInt(1).putInt(1).putLong(0).putLong(0).flip();
        assertThatThrownBy(() -> NbdCodec.decodeBlockStatus(zero, true)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("extent of length 0");
    }
}
