package dev.nvmelm.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/** The check behind "destination equals source" in bench live and sparse. */
class CompareTest {
    static final int MIB = 1 << 20;

    private static void write(Path f, long size, long at, byte[] data) throws Exception {
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(size);
            r.seek(at);
            r.write(data);
        }
    }

    @Test
    void aHoleEqualsWrittenZeroesAndDataMustMatch(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a"), b = dir.resolve("b");
        byte[] data = new byte[8192];
        for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 7 + 1);
        write(a, 64L * MIB, 10L * MIB, data);
        write(b, 64L * MIB, 10L * MIB, data);
        write(b, 64L * MIB, 40L * MIB, new byte[MIB]);   // zeroes written where a has a hole
        Compare.Result r = Compare.files(a, b);
        assertThat(r.equal()).isTrue();
        assertThat(r.bytesCompared()).isGreaterThanOrEqualTo(8192 + MIB);

        write(b, 64L * MIB, 10L * MIB + 5000, new byte[]{42});
        r = Compare.files(a, b);
        assertThat(r.equal()).isFalse();
        assertThat(r.firstMismatch()).isEqualTo(10L * MIB + 5000);

        write(b, 64L * MIB, 63L * MIB + 17, new byte[]{1});   // data in b where a has a hole
        assertThat(Compare.files(a, a).equal()).isTrue();
        TreeMap<Long, Long> excluded = new TreeMap<>();
        excluded.put(10L * MIB + 4096, 10L * MIB + 8192);
        r = Compare.files(a, b, excluded);
        assertThat(r.equal()).isFalse();
        assertThat(r.firstMismatch()).as("the byte in a's hole still counts").isEqualTo(63L * MIB + 17);
        excluded.put(63L * MIB, 63L * MIB + 4096);
        r = Compare.files(a, b, excluded);
        assertThat(r.equal()).as("both differences lie in excluded blocks").isTrue();
        assertThat(r.bytesExcluded()).isEqualTo(8192);
    }

    @Test
    void differentSizesDiffer(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a"), b = dir.resolve("b");
        write(a, 8L * MIB, 0, new byte[]{1});
        write(b, 9L * MIB, 0, new byte[]{1});
        assertThat(Compare.files(a, b).equal()).isFalse();
    }
}
