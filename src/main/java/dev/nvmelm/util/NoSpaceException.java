package dev.nvmelm.util;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A write failed because the file system that holds {@code file} has no room left (ENOSPC).
 * The JDK reports ENOSPC only as message text; the file store's usable space tells the same
 * without reading any text, so the place where a write fails turns its IOException into this
 * type and every handler above tests the type (docs/migration.md, "Abort").
 */
public final class NoSpaceException extends IOException {
    private final transient Path file;

    private NoSpaceException(Path file, IOException cause) {
        super("no space left on the filesystem of " + file, cause);
        this.file = file;
    }

    public Path file() {
        return file;
    }

    /**
     * {@code e} as a NoSpaceException when the file system of {@code file} now has less usable
     * space than the failed write wanted; otherwise {@code e} unchanged (an I/O error).
     */
    public static IOException classify(Path file, long wantedBytes, IOException e) {
        if (e instanceof NoSpaceException) return e;
        try {
            if (Files.getFileStore(file).getUsableSpace() < Math.max(1, wantedBytes)) return new NoSpaceException(file, e);
        } catch (IOException | SecurityException ignored) {
            // the store cannot be asked: the write's own error stands
        }
        return e;
    }
}
