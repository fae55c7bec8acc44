package dev.nvmelm.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One migration per destination image: an exclusive lock on {@code DST.incomplete}, the marker
 * that says DST is not a finished copy, held for the migration's life, with the holder's PID in
 * it. A second migration onto DST is refused naming the holder. The OS lock (fcntl) guards
 * against other processes; a set guards against another run in this JVM, whose fcntl lock this
 * process would share (and drop by closing any channel on the marker).
 */
final class DestinationLock implements AutoCloseable {
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private final Path marker;
    private final FileChannel ch;
    private final FileLock lock;

    private DestinationLock(Path marker, FileChannel ch, FileLock lock) {
        this.marker = marker;
        this.ch = ch;
        this.lock = lock;
    }

    /** Takes DST for a migration from {@code source}, or refuses in one line naming the migration that has it. */
    static DestinationLock acquire(Path dest, String source) throws IOException {
        Path abs = dest.toAbsolutePath();
        Path real = Files.exists(dest) ? dest.toRealPath() : abs.getParent().toRealPath().resolve(abs.getFileName());
        Path marker = real.resolveSibling(real.getFileName() + ".incomplete");
        long pid = ProcessHandle.current().pid();
        if (!HELD.add(marker)) throw busy(dest, "pid " + pid + ", this process");
        try {
            FileChannel ch = FileChannel.open(marker, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock lock = ch.tryLock();
            if (lock == null) {
                ByteBuffer b = ByteBuffer.allocate(512);
                ch.read(b, 0);
                ch.close();
                String text = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).strip();
                throw busy(dest, text.isEmpty() ? "another process" : text.lines().findFirst().orElse(text));
            }
            ch.truncate(0);
            ch.write(ByteBuffer.wrap(("pid " + pid + ": migration from " + source + " in progress or failed\n").getBytes(StandardCharsets.UTF_8)), 0);
            return new DestinationLock(marker, ch, lock);
        } catch (IOException | RuntimeException e) {
            HELD.remove(marker);
            throw e;
        }
    }

    private static CliException busy(Path dest, String holder) {
        return new CliException(dest + " is being written by another migration (" + holder + "); wait for it to end or choose another --dest-image");
    }

    /** DST is a finished copy: the marker goes (while still locked, so no one sees DST free but marked). */
    void completed() throws IOException {
        Files.deleteIfExists(marker);
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
            ch.close();
        } finally {
            HELD.remove(marker);
        }
    }
}
