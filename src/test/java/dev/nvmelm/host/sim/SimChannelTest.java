package dev.nvmelm.host.sim;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Frames batched into one write, and frames arriving in any split, decode to the same messages in order. */
class SimChannelTest {
    @TempDir
    Path dir;
    private SocketChannel a, b;

    @BeforeEach
    void connect() throws IOException {
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(dir.resolve("s.sock")));
            a = SocketChannel.open(StandardProtocolFamily.UNIX);
            a.connect(UnixDomainSocketAddress.of(dir.resolve("s.sock")));
            b = server.accept();
        }
    }

    @AfterEach
    void close() throws IOException {
        a.close();
        b.close();
    }

    @Test
    void aBatchLargerThanOneWriteArrivesWholeAndInOrder() throws Exception {
        List<SimMessage> sent = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            // long Failed messages make the batch span several 64 KiB writes
            sent.add(i % 3 == 0 ? new SimMessage.Failed(i, "x".repeat(i * 7 % 2000)) : new SimMessage.Done(i, i, -i, i & 0x7fff));
        }
        SimChannel reader = new SimChannel(b);
        List<SimMessage> got = new ArrayList<>();
        Thread t = Thread.ofVirtual().start(() -> {
            try {
                for (int i = 0; i < sent.size(); i++) got.add(reader.receive());
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        new SimChannel(a).send(sent);
        t.join();
        assertEquals(sent, got);
    }

    @Test
    void framesSplitAtEveryByteDecode() throws Exception {
        ByteBuffer two = ByteBuffer.allocate(8192);
        two.put(SimMessage.encode(new SimMessage.Event(7, 3, 11, 12))).put(SimMessage.encode(new SimMessage.Allocated(8, 4096)));
        two.flip();
        for (int i = 0; i < two.limit(); i++) a.write(two.slice(i, 1));   // one byte per write
        SimChannel reader = new SimChannel(b);
        assertEquals(new SimMessage.Event(7, 3, 11, 12), reader.receive());
        assertEquals(new SimMessage.Allocated(8, 4096), reader.receive());
    }

    @Test
    void endOfStreamBetweenFramesIsEofAndInsideAFrameIsAProtocolError() throws Exception {
        ByteBuffer f = SimMessage.encode(new SimMessage.Done(1, 2, 3, 4));
        a.write(f.duplicate());
        a.write(f.slice(0, 6));
        a.shutdownOutput();
        SimChannel reader = new SimChannel(b);
        assertEquals(new SimMessage.Done(1, 2, 3, 4), reader.receive());
        assertThrows(SimProtocolException.class, reader::receive);

        ByteBuffer g = SimMessage.encode(new SimMessage.Done(5, 6, 7, 8));
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(dir.resolve("t.sock")));
            try (SocketChannel x = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                x.connect(UnixDomainSocketAddress.of(dir.resolve("t.sock")));
                try (SocketChannel y = server.accept()) {
                    x.write(g);
                    x.shutdownOutput();
                    SimChannel r2 = new SimChannel(y);
                    assertEquals(new SimMessage.Done(5, 6, 7, 8), r2.receive());
                    assertThrows(EOFException.class, r2::receive);
                }
            }
        }
    }

    @Test
    void aFrameLengthOutsideTheLimitIsRefused() throws Exception {
        ByteBuffer bad = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(SimMessage.MAX_FRAME_BYTES + 1).flip();
        a.write(bad);
        assertThrows(SimProtocolException.class, new SimChannel(b)::receive);
    }
}
