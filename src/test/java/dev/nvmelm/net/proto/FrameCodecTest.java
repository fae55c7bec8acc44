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
                l.map(Frame.Committed::new));
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
