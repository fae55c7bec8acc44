package dev.nvmelm.nbd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A lying server cannot make our client allocate without bound or hang a request: a structured
 * chunk claiming 4 GiB, a BLOCK_STATUS extent of length zero, and a reply to a cookie never sent
 * each fail the requests in flight with an IOException.
 */
class NbdClientHostileServerTest {
    @TempDir
    Path dir;

    /** A minimal fixed-newstyle server: GO answered with a 1 MiB export and base:allocation as context 1, then {@code reply}. */
    interface Reply {
        void send(DataOutputStream out, long cookie) throws IOException;
    }

    CompletableFuture<Void> fakeServer(Path sock, Reply reply) throws IOException {
        ServerSocketChannel ss = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        ss.bind(UnixDomainSocketAddress.of(sock));
        return CompletableFuture.runAsync(() -> {
            try (ss; SocketChannel ch = ss.accept()) {
                DataInputStream in = new DataInputStream(Channels.newInputStream(ch));
                DataOutputStream out = new DataOutputStream(Channels.newOutputStream(ch));
                out.writeLong(Nbd.NBDMAGIC);
                out.writeLong(Nbd.IHAVEOPT);
                out.writeShort(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES);
                in.readInt();
                while (true) {
                    in.readLong();
                    int opt = in.readInt();
                    in.readFully(new byte[in.readInt()]);
                    if (opt == Nbd.OPT_SET_META_CONTEXT) {
                        byte[] name = Nbd.BASE_ALLOCATION.getBytes();
                        optReply(out, opt, Nbd.REP_META_CONTEXT, 4 + name.length);
                        out.writeInt(1);
                        out.write(name);
                    }
                    if (opt == Nbd.OPT_GO) {
                        optReply(out, opt, Nbd.REP_INFO, 12);
                        out.writeShort(Nbd.INFO_EXPORT);
                        out.writeLong(1 << 20);
                        out.writeShort(Nbd.TF_HAS_FLAGS);
                    }
                    boolean known = opt == Nbd.OPT_STRUCTURED_REPLY || opt == Nbd.OPT_SET_META_CONTEXT || opt == Nbd.OPT_GO;
                    optReply(out, opt, known ? Nbd.REP_ACK : Nbd.REP_ERR_UNSUP, 0);
                    if (opt == Nbd.OPT_GO) break;
                }
                in.readInt();           // the request: magic, flags+type, cookie, offset, length
                in.readInt();
                long cookie = in.readLong();
                in.readLong();
                in.readInt();
                reply.send(out, cookie);
                out.flush();
                in.read();              // hold the connection until the client gives up
            } catch (IOException e) {
                // the client hung up: expected
            }
        });
    }

    static void optReply(DataOutputStream out, int opt, int type, int len) throws IOException {
        out.writeLong(Nbd.REPLY_MAGIC);
        out.writeInt(opt);
        out.writeInt(type);
        out.writeInt(len);
    }

    static void chunkHeader(DataOutputStream out, int flags, int type, long cookie, int len) throws IOException {
        out.writeInt(Nbd.STRUCTURED_REPLY_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeInt(len);
    }

    void expectFailure(Reply reply, boolean blockStatus, String message) throws Exception {
        Path sock = dir.resolve("h" + System.nanoTime() + ".sock");
        CompletableFuture<Void> server = fakeServer(sock, reply);
        try (NbdClient c = NbdClient.connect(NbdUri.parse("nbd+unix:///?socket=" + sock), NbdClient.Options.PLAIN.withExtendedHeaders(false))) {
            CompletableFuture<?> f = blockStatus ? c.blockStatus(0, 1 << 20) : c.read(0, new byte[4096]);
            assertThatThrownBy(() -> f.get(30, TimeUnit.SECONDS)).hasCauseInstanceOf(IOException.class).hasMessageContaining(message);
        }
        server.get(30, TimeUnit.SECONDS);
    }

    @Test
    void aChunkClaimingFourGigabytesFailsTheRequest() throws Exception {
        expectFailure((out, cookie) -> chunkHeader(out, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_ERROR, cookie, -1), false, "chunk of 4294967295 bytes");
    }

    @Test
    void anEmptyExtentFailsTheBlockStatus() throws Exception {
        Path sock = dir.resolve("e.sock");
        CompletableFuture<Void> server = fakeServer(sock, (out, cookie) -> {
            chunkHeader(out, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_BLOCK_STATUS, cookie, 12);
            out.writeInt(1);
            out.writeInt(0);      // length 0: would loop forever in a caller that walks extents
            out.writeInt(0);
        });
        try (NbdBlockDevice d = new NbdBlockDevice("hostile", NbdClient.connect(NbdUri.parse("nbd+unix:///?socket=" + sock),
                NbdClient.Options.PLAIN.withExtendedHeaders(false)), 4096, java.time.Duration.ofSeconds(30))) {
            assertThatThrownBy(() -> d.allocated(0, 1 << 20)).isInstanceOf(IOException.class).hasMessageContaining("empty extent");
        }
        server.get(30, TimeUnit.SECONDS);
    }

    @Test
    void aReplyToACookieNeverSentFailsEverythingInFlight() throws Exception {
        expectFailure((out, cookie) -> chunkHeader(out, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, cookie + 1000, 0), false, "unknown cookie");
    }
}
