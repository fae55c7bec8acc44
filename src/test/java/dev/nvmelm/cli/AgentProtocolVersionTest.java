package dev.nvmelm.cli;

import dev.nvmelm.net.agent.DestinationAgent;
import dev.nvmelm.net.agent.Transport;
import dev.nvmelm.net.proto.Compression;
import dev.nvmelm.net.proto.Frame;
import dev.nvmelm.net.proto.FrameCodec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Version 2 agents still serve version 1 sources, refuse unknown versions, and refuse a DIGEST_REQUEST out of place. */
class AgentProtocolVersionTest {
    @TempDir
    Path dir;

    @Test
    void versionsAndDigestRequestsAreCheckedAtTheHandshake() throws Exception {
        try (DestinationAgent agent = new DestinationAgent(new Transport(null, true), new InetSocketAddress("127.0.0.1", 0),
                AgentTarget.factory(dir.resolve("agent")), line -> {})) {
            // a version 1 source: welcomed in version 1, and its stream is applied
            try (Socket s = new Socket("127.0.0.1", agent.address().getPort())) {
                var out = new DataOutputStream(s.getOutputStream());
                var in = new DataInputStream(s.getInputStream());
                FrameCodec.write(out, new Frame.Hello(1, UUID.randomUUID(), 1 << 20, 4096, false));
                assertThat(FrameCodec.read(in)).isEqualTo(new Frame.Welcome(1, 0));
                byte[] data = new byte[4096];
                data[7] = 7;
                FrameCodec.write(out, new Frame.Data(1, 8192, FrameCodec.crc32c(data), data));
                FrameCodec.write(out, new Frame.Flush(2));
                Frame ack = FrameCodec.read(in);
                while (ack instanceof Frame.Ack a && !a.durable()) ack = FrameCodec.read(in);
                assertThat(ack).isEqualTo(new Frame.Ack(2, true));
            }
            // a version from the future
            try (Socket s = new Socket("127.0.0.1", agent.address().getPort())) {
                FrameCodec.write(new DataOutputStream(s.getOutputStream()), new Frame.Hello(3, UUID.randomUUID(), 1 << 20, 4096, false));
                assertThat(FrameCodec.read(new DataInputStream(s.getInputStream())))
                        .isInstanceOfSatisfying(Frame.Refuse.class, r -> assertThat(r.reason()).contains("protocol version 3 is not served"));
            }
            // DIGEST_REQUEST after a numbered frame: a protocol error that closes the connection
            try (Socket s = new Socket("127.0.0.1", agent.address().getPort())) {
                var out = new DataOutputStream(s.getOutputStream());
                var in = new DataInputStream(s.getInputStream());
                FrameCodec.write(out, new Frame.Hello(2, UUID.randomUUID(), 1 << 20, 4096, false, false, Compression.NONE));
                assertThat(FrameCodec.read(in)).isInstanceOf(Frame.Welcome.class);
                FrameCodec.write(out, new Frame.Flush(1));
                FrameCodec.write(out, new Frame.DigestRequest(1 << 20));
                assertThat(FrameCodec.read(in)).isEqualTo(new Frame.Ack(1, true));
                assertThat(in.read()).as("connection closed").isEqualTo(-1);
            }
        }
    }
}
