package dev.nvmelm.util;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An exclusive, never-waiting lock on a file, held until {@link #close()}: the one lock that
 * `device serve` takes on its DIR and a migration on its destination's marker. The OS lock
 * (fcntl) keeps other processes out; a JVM-wide set keeps out another holder in this process,
 * whose fcntl lock this process would share (and drop by closing any descriptor of the file).
 */
public final class ExclusiveFileLock implements AutoCloseable {
    private static final Set<Path> HELD_HERE = ConcurrentHashMap.newKeySet();

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private ExclusiveFileLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Locks {@code file} (created if missing; its directory must exist), or returns empty at once
     * when another holder, in this process or another, has it.
     */
    public static Optional<ExclusiveFileLock> tryAcquire(Path file) throws IOException {
        Path key = file.toAbsolutePath().normalize();
        if (!HELD_HERE.add(key)) return Optional.empty();
        FileChannel ch = null;
        try {
            ch = FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock l = ch.tryLock();
            if (l == null) {
                ch.close();
                HELD_HERE.remove(key);
                return Optional.empty();
            }
            return Optional.of(new ExclusiveFileLock(key, ch, l));
        } catch (IOException | RuntimeException e) {
            if (ch != null) ch.close();
            HELD_HERE.remove(key);
            throw e;
        }
    }

    /**
     * Whether a lock on {@code file} is held in this JVM. Then nothing else in this process may
     * open the file: closing that descriptor would drop the lock.
     */
    public static boolean heldHere(Path file) {
        return HELD_HERE.contains(file.toAbsolutePath().normalize());
    }

    /** The locked file's channel, to read or write what it says about its holder. */
    public FileChannel channel() {
        return channel;
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
            channel.close();
        } finally {
            HELD_HERE.remove(file);
        }
    }
}
