package dev.nvmelm.nbd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Our NBD client against qemu-nbd, nbdkit and our own server. */
class NbdClientTest {
    @TempDir
    Path dir;

    /** Writes, reads back, zeroes, flushes and checks block status through any server. */
    static void exercise(NbdClient c, long size) throws IOException {
        assertThat(c.sizeBytes()).isEqualTo(size);
        Random r = new Random(3);
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        byte[][] blocks = new byte[64][];
        for (int i = 0; i < 64; i++) {
            blocks[i] = new byte[65536];
            r.nextBytes(blocks[i]);
            writes.add(c.write((long) i * 65536, blocks[i], false));  // 64 requests in flight
        }
        for (var w : writes) NbdClient.await(w);
        NbdClient.await(c.flush());
        for (int i = 63; i >= 0; i--) {
            byte[] back = new byte[65536];
            NbdClient.await(c.read((long) i * 65536, back));
            assertThat(back).isEqualTo(blocks[i]);
        }
        NbdClient.await(c.writeZeroes(0, 65536, false, false));
        byte[] z = new byte[65536];
        NbdClient.await(c.read(0, z));
        assertThat(z).containsOnly(0);
        if (c.hasAllocationMap()) {
            List<NbdExport.Extent> ext = NbdClient.await(c.blockStatus(0, size));
            assertThat(ext).isNotEmpty();
            assertThat(ext.stream().mapToLong(NbdExport.Extent::lengthBytes).sum()).isLessThanOrEqualTo(size);
        }
        assertThatThrownBy(() -> NbdClient.await(c.read(size, new byte[512]))).isInstanceOf(IOException.class);
    }

    @Test
    void againstQemuNbd() throws Exception {
        Path img = dir.resolve("q.img");
        Files.write(img, new byte[0]);
        try (var f = java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.WRITE)) {
            f.truncate(8 << 20);
            f.write(java.nio.ByteBuffer.wrap(new byte[1]), (8 << 20) - 1);
        }
        Path sock = dir.resolve("q.sock");
        try (var p = PeerProcess.start(List.of("qemu-nbd", "-f", "raw", "-k", sock.toString(), "-x", "q", "--shared=4", img.toString()), sock);
             NbdClient c = NbdClient.connect(NbdUri.parse("nbd+unix:///q?socket=" + sock))) {
            exercise(c, 8 << 20);
        }
    }

    @Test
    void againstNbdkitMemory() throws Exception {
        Path sock = dir.resolve("k.sock");
        try (var p = PeerProcess.start(List.of("nbdkit", "-f", "-U", sock.toString(), "memory", "8M"), sock);
             NbdClient c = NbdClient.connect(NbdUri.parse("nbd+unix:///?socket=" + sock))) {
            exercise(c, 8 << 20);
        }
    }

    @Test
    void againstOurOwnServer() throws Exception {
        Path img = dir.resolve("o.img");
        try (var f = java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
            f.write(java.nio.ByteBuffer.wrap(new byte[1]), (8 << 20) - 1);
        }
        Path sock = dir.resolve("o.sock");
        try (FileExport e = new FileExport("o", img, false);
             NbdServer s = new NbdServer(List.of(e), m -> { });
             var unused = listen(s, sock);
             NbdClient c = NbdClient.connect(NbdUri.parse("nbd+unix:///o?socket=" + sock))) {
            exercise(c, 8 << 20);
            assertThatThrownBy(() -> NbdClient.connect(NbdUri.parse("nbd+unix:///nope?socket=" + sock)))
                    .hasMessageContaining("nope");
        }
    }

    private static AutoCloseable listen(NbdServer s, Path sock) throws IOException {
        s.listen(UnixDomainSocketAddress.of(sock));
        return () -> { };
    }

    @Test
    void uriForms() {
        assertThat(NbdUri.parse("nbd+unix:///x?socket=/tmp/s").exportName()).isEqualTo("x");
        NbdUri tcp = NbdUri.parse("nbd://127.0.0.1:10810/c1n1");
        assertThat(tcp.exportName()).isEqualTo("c1n1");
        assertThat(((java.net.InetSocketAddress) tcp.address()).getPort()).isEqualTo(10810);
        assertThat(NbdUri.parse("nbds://localhost/e").tls()).isTrue();
        assertThat(((java.net.InetSocketAddress) NbdUri.parse("nbd://localhost/e").address()).getPort()).isEqualTo(10809);
        assertThatThrownBy(() -> NbdUri.parse("nbd+unix:///x")).hasMessageContaining("socket=");
        assertThatThrownBy(() -> NbdUri.parse("http://x/y")).hasMessageContaining("not an NBD URI");
    }
}
