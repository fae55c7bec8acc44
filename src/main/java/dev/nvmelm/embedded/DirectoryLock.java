package dev.nvmelm.embedded;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A device server's claim on its DIR, held for the server's life: an exclusive lock on
 * {@code DIR/lock}. It is taken before any other file of DIR is opened, so a second server on
 * the same DIR is refused having changed nothing (a truncated {@code hostmem} would wipe the
 * running server's queues and CDQ rings). The lock file stays after exit: deleting it would let
 * two later servers lock two different files of the same name.
 */
final class DirectoryLock implements AutoCloseable {
    static final String NAME = "lock";

    /** DIR is served by another live device server. */
    static final class HeldException extends IOException {
        HeldException(Path dir) {
            super("a device server is already running on " + dir + " (it holds " + dir.resolve(NAME) + "); nothing was changed");
        }
    }

    /**
     * DIRs locked in this JVM. Checked before the lock file is opened: the lock is a POSIX
     * record lock, which closing any other descriptor of the file in this process would drop.
     */
    private static final Set<Path> HELD_HERE = ConcurrentHashMap.newKeySet();

    private final Path dir;
    private final FileChannel channel;
    private final FileLock lock;

    private DirectoryLock(Path dir, FileChannel channel, FileLock lock) {
        this.dir = dir;
        this.channel = channel;
        this.lock = lock;
    }

    /** Locks {@code dir} (which must exist) or throws {@link HeldException} at once; never waits. */
    static DirectoryLock acquire(Path dir) throws IOException {
        Path key = dir.toRealPath();
        if (!HELD_HERE.add(key)) throw new HeldException(dir);
        try {
            FileChannel fc = FileChannel.open(key.resolve(NAME), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock l;
            try {
                l = fc.tryLock();
            } catch (IOException | RuntimeException e) {
                fc.close();
                throw e;
            }
            if (l == null) {
                fc.close();
                throw new HeldException(dir);
            }
            return new DirectoryLock(key, fc, l);
        } catch (IOException | RuntimeException e) {
            HELD_HERE.remove(key);
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
            channel.close();
        } finally {
            HELD_HERE.remove(dir);
        }
    }
}
