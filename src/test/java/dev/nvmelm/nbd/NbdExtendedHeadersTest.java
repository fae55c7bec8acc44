package dev.nvmelm.nbd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * NBD_OPT_EXTENDED_HEADERS between our client and our server (qemu 7.2 and libnbd 1.14 here
 * predate it, so no real peer can test it): 64-bit request lengths and BLOCK_STATUS_EXT extents
 * beyond 4 GiB on an 8 GiB sparse export, the compact form still used when not negotiated, and
 * protocol violations after negotiation refused.
 */
class NbdExtendedHeadersTest {
    static final long SIZE = 8L << 30;
    @TempDir
    Path dir;
    NbdServer server;
    Path file, sock;

    @BeforeEach
    void start() throws IOException {
        file = dir.resolve("big.img");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(SIZE);
            f.seek(6L << 30);
            f.write(new byte[]{1, 2, 3, 4});
        }
        server = new NbdServer(List.of(new FileExport("big", file, false)), l -> {});
        sock = dir.resolve("s.sock");
        server.listen(UnixDomainSocketAddress.of(sock));
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
    }

    NbdUri uri() {
        return NbdUri.parse("nbd+unix:///big?socket=" + sock);
    }

    @Test
    void sixtyFourBitLengthsWithExtendedHeaders() throws Exception {
        try (NbdClient c = NbdClient.connect(uri())) {
            assertThat(c.extendedHeaders()).isTrue();
            assertThat(c.sizeBytes()).isEqualTo(SIZE);
            // one BLOCK_STATUS covers the whole 8 GiB; the hole before the data is a single extent longer than 2^32
            List<NbdExport.Extent> ext = NbdClient.await(c.blockStatus(0, SIZE));
            assertThat(ext.getFirst().lengthBytes()).isEqualTo(6L << 30);
            assertThat(ext.getFirst().flags()).isEqualTo(Nbd.STATE_HOLE | Nbd.STATE_ZERO);
            assertThat(ext.stream().mapToLong(NbdExport.Extent::lengthBytes).sum()).isEqualTo(SIZE);
            byte[] b = new byte[4096];
            NbdClient.await(c.read(6L << 30, b));
            assertThat(Arrays.copyOf(b, 4)).containsExactly(1, 2, 3, 4);
            Arrays.fill(b, (byte) 0x66);
            NbdClient.await(c.write(7L << 30, b, true));
            // zeroing 7 GiB in one request: only possible with a 64-bit length
            NbdClient.await(c.writeZeroes(0, 7L << 30, false, false));
            NbdClient.await(c.read(6L << 30, b));
            assertThat(b).containsOnly(0);
            NbdClient.await(c.read(7L << 30, b));
            assertThat(b).containsOnly(0x66);
            NbdClient.await(c.flush());
            // errors come back in extended chunks too
            assertThatThrownBy(() -> NbdClient.await(c.read(SIZE, new byte[4096]))).isInstanceOf(NbdError.class);
            NbdClient.await(c.read(0, b));
        }
    }

    @Test
    void withoutThemTheCompactFormsAreUsed() throws Exception {
        try (NbdClient c = NbdClient.connect(uri(), NbdClient.Options.PLAIN.withExtendedHeaders(false))) {
            assertThat(c.extendedHeaders()).isFalse();
            List<NbdExport.Extent> ext = NbdClient.await(c.blockStatus(0, SIZE));
            // a 32-bit extent length: the 6 GiB hole is reported only in part
            assertThat(ext).allSatisfy(e -> assertThat(e.lengthBytes()).isLessThanOrEqualTo(0xffffffffL));
            assertThat(ext.getFirst().lengthBytes()).isLessThan(6L << 30);
            assertThatThrownBy(() -> NbdClient.await(c.writeZeroes(0, 7L << 30, false, false))).hasMessageContaining("exceeds 32 bits");
            byte[] b = new byte[4];
            NbdClient.await(c.read(6L << 30, b));
            assertThat(b).containsExactly(1, 2, 3, 4);
        }
    }

    @Test
    void violationsAfterNegotiationAreRefusedAndTheServerKeepsServing() throws Exception {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            DataInputStream in = new DataInputStream(Channels.newInputStream(ch));
            DataOutputStream out = new DataOutputStream(Channels.newOutputStream(ch));
            in.readFully(new byte[18]);
            out.writeInt(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
            assertThat(option(in, out, Nbd.OPT_EXTENDED_HEADERS, new byte[0])).containsExactly(Nbd.REP_ACK);
            assertThat(option(in, out, Nbd.OPT_STRUCTURED_REPLY, new byte[0])).containsExactly(Nbd.REP_ERR_EXT_HEADER_REQD);
            assertThat(option(in, out, Nbd.OPT_EXTENDED_HEADERS, new byte[0])).containsExactly(Nbd.REP_ERR_INVALID);
            assertThat(option(in, out, Nbd.OPT_EXTENDED_HEADERS, new byte[]{1})).containsExactly(Nbd.REP_ERR_INVALID);
            assertThat(option(in, out, Nbd.OPT_GO, new byte[]{0, 0, 0, 3, 'b', 'i', 'g', 0, 0})).endsWith(Nbd.REP_ACK);
            // a compact request after extended headers: the connection ends (EOF, or a reset/broken pipe as it closes under us)
            byte[] compact = java.nio.ByteBuffer.allocate(28).putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) Nbd.CMD_READ)
                    .putLong(1).putLong(0).putInt(512).array();
            int got;
            try {
                out.write(compact);
                out.flush();
                got = in.read();
            } catch (IOException closedUnderUs) {
                got = -1;
            }
            assertThat(got).isEqualTo(-1);
        }
        try (NbdClient c = NbdClient.connect(uri())) {
            byte[] b = new byte[4];
            NbdClient.await(c.read(6L << 30, b));
            assertThat(b).containsExactly(1, 2, 3, 4);
        }
    }

    /** Sends one option and returns the reply types up to and including the final one. */
    static List<Integer> option(DataInputStream in, DataOutputStream out, int opt, byte[] data) throws IOException {
        out.writeLong(Nbd.IHAVEOPT);
        out.writeInt(opt);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
        List<Integer> types = new ArrayList<>();
        while (true) {
            assertThat(in.readLong()).isEqualTo(Nbd.REPLY_MAGIC);
            assertThat(in.readInt()).isEqualTo(opt);
            int type = in.readInt();
            in.readFully(new byte[in.readInt()]);
            types.add(type);
            if (type == Nbd.REP_ACK || type < 0) return types;
        }
    }

    /** qemu-nbd 7.2 predates extended headers: our client falls back to structured replies. */
    @Test
    void qemuNbdSevenTwoHasNone() throws Exception {
        Path qs = dir.resolve("q.sock");
        try (PeerProcess p = PeerProcess.start(List.of("qemu-nbd", "-f", "raw", "-r", "-k", qs.toString(), "-x", "q", file.toString()), qs);
             NbdClient c = NbdClient.connect(NbdUri.parse("nbd+unix:///q?socket=" + qs))) {
            assertThat(c.extendedHeaders()).isFalse();
            byte[] b = new byte[4];
            NbdClient.await(c.read(6L << 30, b));
            assertThat(b).containsExactly(1, 2, 3, 4);
        }
    }
}
