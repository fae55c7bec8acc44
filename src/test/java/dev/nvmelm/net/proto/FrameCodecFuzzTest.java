package dev.nvmelm.net.proto;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nvmelm.fuzz.BytesProvider;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Arrays;

import static dev.nvmelm.fuzz.Fuzz.check;
import static dev.nvmelm.fuzz.Fuzz.declared;

/**
 * The agents' wire frames (docs/network.md) from a hostile peer: every read ends in an
 * IOException (a ProtocolException for a broken frame, an EOFException for a cut one) or a
 * frame that re-encodes to bytes that read back to the same frame; compressed DATA decompresses
 * within {@link FrameCodec#MAX_DATA_BYTES} or is refused.
 */
public class FrameCodecFuzzTest {

    /** A stream of frames read with the codec the first byte picks (none, LZ4, zstd). */
    @FuzzTest(maxDuration = "2s")
    void frames(byte[] input) throws Exception {
        framesOnce(input);
    }

    /** Bytes compressed by our own encoder always come back whole through a compressed DATA frame. */
    @FuzzTest(maxDuration = "2s")
    void compressedRoundTrip(byte[] input) throws Exception {
        compressedRoundTripOnce(input);
    }

    public static void framesOnce(byte[] input) throws Exception {
        BytesProvider d = new BytesProvider(input);
        Compression accepted = Compression.values()[d.consumeByte() % Compression.values().length];
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(d.consumeRemainingAsBytes()));
        for (int i = 0; i < 64; i++) {
            boolean more = declared(() -> {
                Frame f = FrameCodec.read(in, accepted);
                byte[] once = encode(f);
                check(once.length == FrameCodec.wireBytes(f), "wireBytes " + FrameCodec.wireBytes(f) + " but " + once.length + " bytes written");
                Frame again = FrameCodec.read(new DataInputStream(new ByteArrayInputStream(once)), accepted);
                check(Arrays.equals(encode(again), once), f + " does not read back as it was written");
            }, IOException.class);
            if (!more) return;
        }
    }

    public static void compressedRoundTripOnce(byte[] input) throws Exception {
        BytesProvider d = new BytesProvider(input);
        Compression codec = d.consumeBoolean() ? Compression.LZ4 : Compression.ZSTD;
        long seq = d.consumeLong(), offset = d.consumeLong();
        byte[] raw = d.consumeRemainingAsBytes();
        byte[] packed = codec.compress(raw);
        if (packed == null) return;   // not smaller: sent as plain DATA
        int crc = FrameCodec.crc32c(raw);
        byte[] wire = encode(new Frame.CompressedData(seq, offset, crc, raw.length, codec, packed));
        Frame f = FrameCodec.read(new DataInputStream(new ByteArrayInputStream(wire)), codec);
        check(f.equals(new Frame.Data(seq, offset, crc, raw)), "compressed DATA did not decompress to what was sent");
    }

    private static byte[] encode(Frame f) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        FrameCodec.write(new DataOutputStream(out), f);
        return out.toByteArray();
    }
}
