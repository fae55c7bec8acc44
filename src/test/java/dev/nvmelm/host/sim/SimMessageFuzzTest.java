package dev.nvmelm.host.sim;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.nio.ByteBuffer;
import java.util.Arrays;

import static dev.nvmelm.fuzz.Fuzz.check;
import static dev.nvmelm.fuzz.Fuzz.declared;

/**
 * The {@code sim:} control protocol's frame bodies (docs/device.md): a body either fails as a
 * SimProtocolException or decodes to a message whose encoding (at most
 * {@link SimMessage#MAX_FRAME_BYTES}) decodes to the same message.
 */
public class SimMessageFuzzTest {

    @FuzzTest(maxDuration = "2s")
    void decode(byte[] input) throws Exception {
        decodeOnce(input);
    }

    public static void decodeOnce(byte[] input) throws Exception {
        if (input.length > SimMessage.MAX_FRAME_BYTES) return;   // SimChannel refuses such a frame before decoding
        declared(() -> {
            SimMessage m = SimMessage.decode(ByteBuffer.wrap(input));
            ByteBuffer frame = SimMessage.encode(m);
            check(frame.remaining() <= 4 + SimMessage.MAX_FRAME_BYTES, "encoded frame of " + frame.remaining() + " bytes");
            byte[] once = bytes(frame);
            SimMessage again = SimMessage.decode(ByteBuffer.wrap(once, 4, once.length - 4));
            check(Arrays.equals(bytes(SimMessage.encode(again)), once), m + " does not decode as it was encoded");
        }, SimProtocolException.class);
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
