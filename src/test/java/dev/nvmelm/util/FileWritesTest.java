package dev.nvmelm.util;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A full file system is told apart from other write failures by the file store's state, not by
 * the JDK's message text: writes past the end of a 1 MiB tmpfs leave as NoSpaceException, a
 * write on a closed channel stays what it was. Skipped where the test cannot mount a tmpfs.
 */
class FileWritesTest {
    @TempDir
    Path dir;
    Path small;

    static int sh(String... cmd) throws Exception {
        return dev.nvmelm.Procs.exitCode(cmd);
    }

    @AfterEach
    void unmount() throws Exception {
        if (small != null) sh("umount", "-l", small.toString());
    }

    @Test
    void aFullFileSystemIsNoSpaceAndAClosedChannelIsNot() throws Exception {
        small = Files.createDirectory(dir.resolve("small"));
        Assumptions.assumeTrue(sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small.toString()) == 0, "cannot mount a tmpfs here");
        Path f = small.resolve("f");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ByteBuffer mib = ByteBuffer.allocate(1 << 20);
            FileWrites.writeFully(ch, f, mib.clear(), 0);   // fits, or fails below: the store holds about 1 MiB
            assertThatThrownBy(() -> FileWrites.writeFully(ch, f, mib.clear(), 1 << 20))
                    .isInstanceOf(NoSpaceException.class).hasMessageContaining(f.toString());
            assertThatThrownBy(() -> FileWrites.writeZeroes(ch, f, 2L << 20, 1 << 20)).isInstanceOf(NoSpaceException.class);
        } catch (NoSpaceException e) {
            assertThat(e.file()).isEqualTo(f);   // the first MiB already did not fit: still the typed error
        }
        FileChannel closed = FileChannel.open(dir.resolve("g"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        closed.close();
        assertThatThrownBy(() -> FileWrites.writeFully(closed, dir.resolve("g"), ByteBuffer.allocate(4096), 0))
                .isInstanceOf(ClosedChannelException.class).isNotInstanceOf(NoSpaceException.class);
        IOException plain = new IOException("No space left on device");   // the text alone decides nothing
        assertThat(NoSpaceException.classify(dir.resolve("g"), 4096, plain)).isSameAs(plain);
    }
}
