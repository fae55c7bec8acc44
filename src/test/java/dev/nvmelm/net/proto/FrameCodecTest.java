package dev.nvmelm.net.proto;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FrameCodecTest {

    static byte[] bytes(Frame f) throws IOException {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        FrameCodec.write(new DataOutputStream(bo), f);
        return bo.toByteArray();
    }

    static Frame parse(byte[] b) throws IOException {
        return FrameCodec.read(new DataInputStream(new ByteArrayInputStream(b)));
    }

    @Provide
    Arbitrary<Frame> frames() {
        Arbitrary<Long> l = Arbitraries.longs();
        Arbitrary<byte[]> data = Arbitraries.bytes().array(byte[].class).ofMaxSize(4096);
        return Arbitraries.oneOf(
                Combinators.combine(Arbitraries.integers().between(0, 65535), l, l, Arbitraries.integers(), Arbitraries.of(true, false))
                        .as((v, a, b, lba, r) -> new Frame.Hello(v, new UUID(a, b), Math.abs(a), lba, r)),
                Combinators.combine(Arbitraries.integers().between(0, 65535), l).as(Frame.Welcome::new),
                Combinators.combine(Arbitraries.integers().between(0, 65535), Arbitraries.strings().ofMaxLength(200)).as(Frame.Refuse::new),
                Combinators.combine(l, l, data).as((s, o, d) -> new Frame.Data(s, o, FrameCodec.crc32c(d), d)),
                Combinators.combine(l, l, l, Arbitraries.of(true, false)).as(Frame.Zero::new),
                Combinators.combine(l, Arbitraries.of(true, false)).as(Frame.Ack::new),
                l.map(Frame.Flush::new),
                Combinators.combine(l, data).as(Frame.ControllerStateBlob::new),
                Combinators.combine(l, Arbitraries.bytes().array(byte[].class).ofSize(32)).as(Frame.Commit::new),
                l.map(Frame.Committed::new),
                Combinators.combine(Arbitraries.integers().between(2, 65535), l, l, Arbitraries.of(true, false), Arbitraries.of(true, false),
                                Arbitraries.of(Compression.class))
                        .as((v, a, b, r, restarted, c) -> new Frame.Hello(v, new UUID(a, b), Math.abs(a), 4096, r, restarted, c)),
                Arbitraries.integers().map(Frame.DigestRequest::new),
                Combinators.combine(l, Arbitraries.integers().between(0, 4)).as((first, n) -> {
                    byte[] d = new byte[32 * n];
                    new java.util.Random(first).nextBytes(d);
                    return new Frame.Digests(first, d);
                }));
    }

    static Frame parse(byte[] b, Compression accepted) throws IOException {
        return FrameCodec.read(new DataInputStream(new ByteArrayInputStream(b)), accepted);
    }

    static byte[] compressible() {
        byte[] raw = new byte[1 << 20];
        for (int i = 0; i < raw.length; i++) raw[i] = (byte) ("nvme-lm ".charAt(i % 8) + (i >> 16));
        return raw;
    }

    @Test
    void compressedDataArrivesAsTheDataItCarriesAndIsSmallerOnTheWire() throws IOException {
        byte[] raw = compressible();
        for (Compression c : new Compression[]{Compression.LZ4, Compression.ZSTD}) {
            byte[] packed = c.compress(raw);
            assertThat(packed).as(c.label()).isNotNull();
            Frame.CompressedData f = new Frame.CompressedData(7, 8192, FrameCodec.crc32c(raw), raw.length, c, packed);
            byte[] wire = bytes(f);
            assertThat((long) wire.length).isEqualTo(FrameCodec.wireBytes(f)).isLessThan(raw.length / 4);
            assertThat(parse(wire, c)).isEqualTo(new Frame.Data(7, 8192, FrameCodec.crc32c(raw), raw));
        }
        byte[] random = new byte[1 << 20];
        new java.util.Random(1).nextBytes(random);
        assertThat(Compression.LZ4.compress(random)).as("incompressible data is sent as is").isNull();
        assertThat(Compression.ZSTD.compress(random)).isNull();
    }

    @Test
    void compressedDataTheHelloDidNotNegotiateIsAProtocolError() throws IOException {
        byte[] raw = compressible();
        byte[] wire = bytes(new Frame.CompressedData(1, 0, FrameCodec.crc32c(raw), raw.length, Compression.ZSTD, Compression.ZSTD.compress(raw)));
        assertThatThrownBy(() -> parse(wire)).isInstanceOf(ProtocolException.class).hasMessageContaining("did not negotiate");
        assertThatThrownBy(() -> parse(wire, Compression.LZ4)).isInstanceOf(ProtocolException.class).hasMessageContaining("did not negotiate");
    }

    /** A small frame that would expand past what it announces (or past the maximum) is refused, not inflated. */
    @Test
    void aCompressedFrameThatExpandsBeyondItsBoundIsAProtocolError() throws IOException {
        byte[] big = new byte[4 << 20];   // zeroes: a few KiB compressed, 4 MiB expanded
        for (Compression c : new Compression[]{Compression.LZ4, Compression.ZSTD}) {
            byte[] bomb = c == Compression.LZ4 ? net.jpountz.lz4.LZ4Factory.fastestInstance().fastCompressor().compress(big)
                    : com.github.luben.zstd.Zstd.compress(big, 1);
            byte[] announcedSmall = bytes(new Frame.CompressedData(1, 0, 0, 1 << 20, c, bomb));
            assertThatThrownBy(() -> parse(announcedSmall, c)).as(c.label()).isInstanceOf(ProtocolException.class)
                    .hasMessageContaining("does not decompress into " + (1 << 20));
            byte[] announcedHuge = bytes(new Frame.CompressedData(1, 0, 0, 4 << 20, c, bomb));
            assertThatThrownBy(() -> parse(announcedHuge, c)).as(c.label()).isInstanceOf(ProtocolException.class)
                    .hasMessageContaining("outside 0.." + FrameCodec.MAX_DATA_BYTES);
            byte[] garbage = bytes(new Frame.CompressedData(1, 0, 0, 4096, c, new byte[]{1, 2, 3, 4, 5, 6, 7, 8, 9}));
            assertThatThrownBy(() -> parse(garbage, c)).as(c.label()).isInstanceOf(ProtocolException.class);
        }
        byte[] raw = compressible();
        byte[] badCrc = bytes(new Frame.CompressedData(1, 0, FrameCodec.crc32c(raw) ^ 1, raw.length, Compression.LZ4, Compression.LZ4.compress(raw)));
        assertThatThrownBy(() -> parse(badCrc, Compression.LZ4)).isInstanceOf(ProtocolException.class).hasMessageContaining("CRC32C");
    }

    @Test
    void aVersion1HelloStillDecodesAndAVersion2OneKeepsItsFlags() throws IOException {
        UUID id = UUID.randomUUID();
        assertThat(parse(bytes(new Frame.Hello(1, id, 1 << 20, 4096, true)))).isEqualTo(new Frame.Hello(1, id, 1 << 20, 4096, true));
        Frame.Hello v2 = new Frame.Hello(2, id, 1 << 20, 4096, true, true, Compression.ZSTD);
        byte[] b = bytes(v2);
        assertThat(b).hasSize(4 + 1 + 31);   // the version 1 size: an old agent reads it and refuses the version
        assertThat(parse(b)).isEqualTo(v2);
        b[b.length - 1] = (byte) 0x80;
        assertThatThrownBy(() -> parse(b)).isInstanceOf(ProtocolException.class).hasMessageContaining("unknown bits");
    }

    @Property
    void everyFrameRoundTrips(@ForAll("frames") Frame f) throws IOException {
        assertThat(parse(bytes(f))).isEqualTo(f);
    }

    @Property
    void truncatedFramesNeverParse(@ForAll("frames") Frame f, @ForAll("cut") int cut) throws IOException {
        byte[] b = bytes(f);
        byte[] shorter = java.util.Arrays.copyOf(b, Math.min(cut, b.length - 1));
        assertThatThrownBy(() -> parse(shorter)).isInstanceOf(IOException.class);
    }

    @Provide
    Arbitrary<Integer> cut() {
        return Arbitraries.integers().between(0, 5000);
    }

    @Test
    void oversizedLengthIsRefusedBeforeAllocating() {
        byte[] b = {0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff, 4};
        assertThatThrownBy(() -> parse(b)).isInstanceOf(ProtocolException.class).hasMessageContaining("outside");
        assertThatThrownBy(() -> FrameCodec.write(new DataOutputStream(new ByteArrayOutputStream()),
                new Frame.Data(1, 0, 0, new byte[FrameCodec.MAX_DATA_BYTES + 1]))).isInstanceOf(ProtocolException.class);
    }

    @Test
    void corruptedDataFailsItsCrc() throws IOException {
        byte[] d = {1, 2, 3, 4};
        byte[] b = bytes(new Frame.Data(7, 4096, FrameCodec.crc32c(d), d));
        b[b.length - 1] ^= 1;
        assertThatThrownBy(() -> parse(b)).isInstanceOf(ProtocolException.class).hasMessageContaining("CRC32C");
    }

    @Test
    void unknownTypeAndWrongLengthAreProtocolErrors() {
        assertThatThrownBy(() -> parse(new byte[]{0, 0, 0, 1, 99})).hasMessageContaining("unknown frame type");
        assertThatThrownBy(() -> parse(new byte[]{0, 0, 0, 3, 7, 0, 0})).hasMessageContaining("FLUSH");
        assertThatThrownBy(() -> parse(new byte[0])).isInstanceOf(EOFException.class);
    }
}
