package dev.nvmelm.embedded;

import dev.nvmelm.util.ExclusiveFileLock;

import java.io.IOException;
import java.nio.file.Path;

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

    private final ExclusiveFileLock lock;

    private DirectoryLock(ExclusiveFileLock lock) {
        this.lock = lock;
    }

    /** Locks {@code dir} (which must exist) or throws {@link HeldException} at once; never waits. */
    static DirectoryLock acquire(Path dir) throws IOException {
        return new DirectoryLock(ExclusiveFileLock.tryAcquire(dir.toRealPath().resolve(NAME)).orElseThrow(() -> new HeldException(dir)));
    }

    @Override
    public void close() throws IOException {
        lock.close();
    }
}
