package dev.nvmelm.nbd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Our NBD server against the real tools: nbdinfo, qemu-img, nbdcopy; and against hostile clients. */
class NbdServerInteropTest {
    @TempDir
    Path dir;
    Path image, socket;
    NbdServer server;
    FileExport export;
    final List<String> log = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        image = dir.resolve("disk.img");
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            byte[] data = new byte[1 << 20];
            new Random(42).nextBytes(data);
            ch.write(ByteBuffer.wrap(data), 0);            // data at [0, 1 MiB)
            ch.write(ByteBuffer.wrap(data), 8L << 20);     // data at [8 MiB, 9 MiB)
            ch.truncate(16L << 20);
            ch.write(ByteBuffer.wrap(new byte[]{0}), (16L << 20) - 1);
        }
        export = new FileExport("c1n1", image, false);
        server = new NbdServer(List.of(export), log::add);
        socket = dir.resolve("nbd.sock");
        server.listen(UnixDomainSocketAddress.of(socket));
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
        export.close();
    }

    String uri() {
        return "nbd+unix:///c1n1?socket=" + socket;
    }

    static String run(String... cmd) throws Exception {
        return dev.nvmelm.Procs.run(cmd);
    }

    @Test
    void nbdinfoSeesSizeContextsAndTheHoleMap() throws Exception {
        String info = run("nbdinfo", uri());
        assertThat(info).contains("export-size: 16777216").contains("base:allocation").contains("can_multi_conn: true");
        String map = run("nbdinfo", "--map", uri());
        // data, hole, data, hole (the last byte written makes a small data tail at the end)
        assertThat(map).containsPattern("\\s+0\\s+1048576\\s+0\\s+data");
        assertThat(map).containsPattern("1048576\\s+7340032\\s+3\\s+hole,zero");
        assertThat(map).containsPattern("8388608\\s+1048576\\s+0\\s+data");
        assertThat(run("nbdinfo", "--list", "nbd+unix://?socket=" + socket)).contains("c1n1");
    }

    @Test
    void qemuImgConvertAndCompareAgreeWithTheFile() throws Exception {
        Path out = dir.resolve("out.img");
        run("qemu-img", "convert", "-f", "raw", "-O", "raw", uri(), out.toString());
        assertThat(Files.mismatch(out, image)).isEqualTo(-1L);
        assertThat(run("qemu-img", "compare", "-f", "raw", "-F", "raw", uri(), image.toString())).contains("identical");
    }

    @Test
    void nbdcopyOutOfAndIntoTheExport() throws Exception {
        Path out = dir.resolve("copy.img");
        run("nbdcopy", uri(), out.toString());
        assertThat(Files.mismatch(out, image)).isEqualTo(-1L);
        Path in = dir.resolve("in.img");
        byte[] fresh = new byte[16 << 20];
        new Random(7).nextBytes(fresh);
        Files.write(in, fresh);
        run("nbdcopy", in.toString(), uri());
        assertThat(Files.readAllBytes(image)).isEqualTo(fresh);
    }

    @Test
    void hostileClientsDoNotHurtTheServer() throws Exception {
        // garbage instead of client flags
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(socket));
            c.read(ByteBuffer.allocate(18));
            c.write(ByteBuffer.wrap("GET / HTTP/1.1\r\n\r\n garbage garbage".getBytes()));
        }
        // truncated handshake: flags, then half an option header
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(socket));
            c.read(ByteBuffer.allocate(18));
            c.write(ByteBuffer.allocate(4).putInt(3).flip());
            c.write(ByteBuffer.allocate(6).putShort((short) 0x4948).putInt(0).flip());
        }
        // a huge option length
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(socket));
            c.read(ByteBuffer.allocate(18));
            c.write(ByteBuffer.allocate(20).putInt(3).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(Integer.MAX_VALUE).flip());
            assertThat(c.read(ByteBuffer.allocate(16))).isEqualTo(-1);  // server hung up
        }
        // an oversized write after a proper EXPORT_NAME handshake
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(socket));
            c.read(ByteBuffer.allocate(18));
            byte[] name = "c1n1".getBytes();
            c.write(ByteBuffer.allocate(4 + 16 + name.length).putInt(3).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_EXPORT_NAME)
                    .putInt(name.length).put(name).flip());
            ByteBuffer reply = ByteBuffer.allocate(10);
            while (reply.hasRemaining()) c.read(reply);
            c.write(ByteBuffer.allocate(28).putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) Nbd.CMD_WRITE)
                    .putLong(1).putLong(0).putInt(-1).flip());
            ByteBuffer simple = ByteBuffer.allocate(16);
            while (simple.hasRemaining() && c.read(simple) > 0) { }
            assertThat(simple.flip().getInt()).isEqualTo(Nbd.SIMPLE_REPLY_MAGIC);
            assertThat(simple.getInt()).isEqualTo(Nbd.EINVAL);
            assertThat(c.read(ByteBuffer.allocate(1))).isEqualTo(-1);
        }
        // the server still serves real clients, and the data is untouched
        assertThat(run("qemu-img", "compare", "-f", "raw", "-F", "raw", uri(), image.toString())).contains("identical");
    }
}
