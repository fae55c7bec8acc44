package dev.nvmelm.nbd;

import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.block.FileBlockDevice;
import dev.nvmelm.migrate.copy.Copier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The engine's block interface on real NBD servers: qemu-nbd on a file, nbdkit's memory plugin. */
class NbdBlockDeviceTest {
    static final long SIZE = 16 << 20;
    @TempDir
    Path dir;

    @Test
    void againstQemuNbd() throws Exception {
        Path img = dir.resolve("q.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        Path sock = dir.resolve("q.sock");
        try (PeerProcess p = PeerProcess.start(List.of("qemu-nbd", "-f", "raw", "-k", sock.toString(), "-x", "q", "--cache=none", "--discard=unmap", img.toString()), sock);
             NbdBlockDevice d = NbdBlockDevice.open("nbd+unix:///q?socket=" + sock, 4096, Duration.ofSeconds(30))) {
            exercise(d);
            // what the server wrote to its file is what we wrote
            byte[] file = Files.readAllBytes(img);
            assertThat(file[(int) (1 << 20)]).isEqualTo((byte) 0x5a);
            assertThat(d.allocated(0, SIZE)).isNotEmpty().allSatisfy(e -> assertThat(e.offset()).isLessThan(3L << 20));
        }
    }

    @Test
    void againstNbdkitMemory() throws Exception {
        Path sock = dir.resolve("k.sock");
        try (PeerProcess p = PeerProcess.start(List.of("nbdkit", "--foreground", "--unix", sock.toString(), "memory", String.valueOf(SIZE)), sock);
             NbdBlockDevice d = NbdBlockDevice.open("nbd+unix:///?socket=" + sock, 4096, Duration.ofSeconds(30))) {
            exercise(d);
        }
    }

    /** A thin file copied into qemu-nbd by the engine's copier stays equal and thin-aware. */
    @Test
    void copierIntoQemuNbd() throws Exception {
        Path src = dir.resolve("src.img"), dst = dir.resolve("dst.img");
        byte[] data = new byte[1 << 20];
        new Random(3).nextBytes(data);
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            f.write(data);
            f.seek(8L << 20);
            f.write(data);
            f.setLength(SIZE);
        }
        try (RandomAccessFile f = new RandomAccessFile(dst.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        Path sock = dir.resolve("c.sock");
        try (PeerProcess p = PeerProcess.start(List.of("qemu-nbd", "-f", "raw", "-k", sock.toString(), "-x", "d", "--discard=unmap", dst.toString()), sock);
             FileBlockDevice s = FileBlockDevice.openExisting(src, 4096, false);
             NbdBlockDevice d = NbdBlockDevice.open("nbd+unix:///d?socket=" + sock, 4096, Duration.ofSeconds(30))) {
            new Copier(s, d, Copier.Config.defaults(), new Copier.Progress(), System::nanoTime).bulk();
            d.flush();
        }
        assertThat(Files.mismatch(src, dst)).isEqualTo(-1);
    }

    @Test
    void geometryMismatchIsRefused() throws Exception {
        Path sock = dir.resolve("g.sock");
        try (PeerProcess p = PeerProcess.start(List.of("nbdkit", "--foreground", "--unix", sock.toString(), "memory", "10000"), sock)) {
            assertThatThrownBy(() -> NbdBlockDevice.open("nbd+unix:///?socket=" + sock, 4096, Duration.ofSeconds(5)))
                    .hasMessageContaining("not a whole number of 4096-byte blocks");
        }
    }

    private static void exercise(BlockDevice d) throws Exception {
        assertThat(d.sizeBytes()).isEqualTo(SIZE);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment w = a.allocate(3 << 20);
            w.fill((byte) 0x5a);
            d.write(0, w);   // larger than one request: split
            MemorySegment r = a.allocate(3 << 20);
            d.read(0, r);
            assertThat(r.mismatch(w)).isEqualTo(-1);
            d.writeZeroes(1 << 20, 1 << 20, true);
            d.read(0, r);
            assertThat(r.get(ValueLayout.JAVA_BYTE, (1 << 20) + 5)).isZero();
            assertThat(r.get(ValueLayout.JAVA_BYTE, (2 << 20) + 5)).isEqualTo((byte) 0x5a);
            d.write(1 << 20, w.asSlice(0, 4096));
            d.flush();
            assertThatThrownBy(() -> d.read(100, r.asSlice(0, 4096))).hasMessageContaining("unaligned");
        }
    }
}
